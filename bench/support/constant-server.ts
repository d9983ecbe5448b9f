/**
 * Baseline server for bench/verification-service.ts (not a benchmark itself): Bun.serve on 127.0.0.1, as
 * the VerificationService serves, answering every request with a constant JSON body of BODY_BYTES bytes
 * (the size of a real answer) — the "no attestation" flow. Prints `{"port": n}` once listening.
 */
const size = Number(process.env["BODY_BYTES"] ?? "4096");
const body = JSON.stringify({ data: "A".repeat(Math.max(0, size - 12)) });
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: async (req) => {
    if (req.method === "POST") await req.text();
    return new Response(body, {
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  },
});
console.log(JSON.stringify({ port: server.port }));
process.once("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
