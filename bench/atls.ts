/**
 * Attested TLS cost: a new connection + one GET per iteration, sequentially, for plain TLS 1.3 (a
 * static self-signed certificate, no verification: the baseline) and for each aTLS mode, in the same
 * run on the same machine. Also the per-connection pieces (fresh P-256 key + certificate, issue,
 * validate) so the total can be explained.
 *
 * Evidence:
 * - `software` (default): the test attester of @asterism/testing, one ECDSA signature, so the numbers
 *   isolate the protocol's own cost;
 * - `swtpm`: real qemu-vtpm documents from two swtpm processes (server node, client node), issued as a
 *   node issues them (`createNodeIssuer`: the persistent RSA AK, created once per TPM, then one quote of
 *   PCRs 0–23 per issuance): the cost a local cluster pays.
 *
 *   bun bench/atls.ts [--seconds=2] [--evidence=both|software|swtpm]     (both: ~25 s)
 *
 * Prints a table and one JSON line.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { type AtlsMode, attestedFetch, serveAttested } from "@asterism/atls";
import {
  type AttestationPolicy,
  createQemuVtpmValidator,
  type Issuer,
  type Validator,
} from "@asterism/attestation";
import { createNodeIssuer } from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
import { createSoftwareAttester, type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { type ClosableTpm, openSwtpm, readPcrs, TPM_ALG } from "@asterism/tpm";
import { getRequestListener } from "@hono/node-server";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { Hono } from "hono";
import { emit, figure } from "./harness.ts";

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const seconds = Number(arg("seconds") ?? 2);
const evidence = arg("evidence") ?? "both";
if (!["software", "swtpm", "both"].includes(evidence))
  throw new Error("--evidence must be software, swtpm or both");
const MAX_ITERATIONS = 5_000;

const app = new Hono();
app.get("/ping", (c) => c.text("pong"));

interface Result {
  readonly name: string;
  readonly n: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(name: string, once: () => Promise<void>): Promise<Result> {
  for (let i = 0; i < 5; i++) await once(); // warm-up
  const lat: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end && lat.length < MAX_ITERATIONS) {
    const t = performance.now();
    await once();
    lat.push(performance.now() - t);
  }
  const elapsed = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return { name, n: lat.length, perSecond: lat.length / elapsed, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99) };
}

// --- baseline: plain TLS 1.3 + Hono, same HTTP stack, static certificate ---------------------------
async function plainServer(): Promise<{ port: number; close(): void }> {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: "01",
      name: "CN=plain",
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3600_000),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      keys,
    },
    crypto,
  );
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", keys.privateKey)).toString("base64");
  const httpServer = http.createServer(getRequestListener(app.fetch));
  const server = tls.createServer(
    {
      key: `-----BEGIN PRIVATE KEY-----\n${pkcs8}\n-----END PRIVATE KEY-----\n`,
      cert: cert.toString("pem"),
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
    },
    (s) => httpServer.emit("connection", s),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

function plainRequest(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, minVersion: "TLSv1.3" });
    socket.once("error", reject);
    socket.once("secureConnect", () => {
      const req = http.request(
        { path: "/ping", headers: { host: "bench", connection: "close" }, createConnection: () => socket },
        (res) => {
          res.resume();
          res.once("end", () => {
            socket.end();
            resolve();
          });
        },
      );
      req.once("error", reject);
      req.end();
    });
  });
}

// --- aTLS ----------------------------------------------------------------------------------------
async function atlsCase(
  mode: AtlsMode,
  serverAtt: Issuer,
  serverVal: Validator,
  clientAtt: Issuer,
  clientVal: Validator,
) {
  const server = await serveAttested(app, { mode, issuer: serverAtt, validators: [clientVal] });
  const url = `https://127.0.0.1:${server.port}/ping`;
  const once = async () => {
    const res = await attestedFetch(url, undefined, { mode, issuer: clientAtt, validators: [serverVal] });
    await res.text();
  };
  return { server, once };
}

async function componentCosts(issuer: Issuer, validator: Validator, n: number) {
  const key = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const userData = crypto.getRandomValues(new Uint8Array(32));
  const doc = await issuer.issue(userData, nonce);
  const time = async (f: () => Promise<unknown>, runs = 200) => {
    const t = performance.now();
    for (let i = 0; i < runs; i++) await f();
    return (performance.now() - t) / runs;
  };
  return {
    keygenMs: await time(() =>
      crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]),
    ),
    certMintMs: await time(() =>
      x509.X509CertificateGenerator.createSelfSigned(
        {
          serialNumber: "01",
          name: "CN=x",
          notBefore: new Date(),
          notAfter: new Date(Date.now() + 60_000),
          signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
          keys: key,
          extensions: [new x509.Extension("1.3.9900.5.1", false, doc as Uint8Array<ArrayBuffer>)],
        },
        crypto,
      ),
    ),
    issueMs: await time(() => issuer.issue(userData, nonce), n),
    validateMs: await time(() => validator.validate(doc, nonce), n),
    documentBytes: doc.length,
  };
}

interface Side {
  readonly issuer: Issuer;
  readonly validator: Validator;
}
const cleanups: (() => Promise<void>)[] = [];

async function swtpmSide(): Promise<Side> {
  const sw: SwtpmInstance = await startSwtpm();
  const tpm: ClosableTpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  cleanups.push(async () => {
    await tpm.close();
    await sw.stop();
  });
  const pcrs = (await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [0, 4] }])).get(TPM_ALG.SHA256);
  const policy: AttestationPolicy = {
    measurements: createMeasurements([
      [0, { expected: pcrs?.get(0) as Uint8Array }],
      [4, { expected: pcrs?.get(4) as Uint8Array }],
    ]),
  };
  // The node's issuer: quotes with the persistent AK (made once here, before the clock starts, by the
  // warm-up), not a fresh AK per quote.
  const issuer = createNodeIssuer({ tpm, readEventLog: async () => undefined });
  return { issuer, validator: createQemuVtpmValidator({ policy }) };
}

async function softwareSide(variant: "qemu-vtpm" | "azure-sev-snp"): Promise<Side> {
  const a = await createSoftwareAttester({ variant });
  return { issuer: a.issuer, validator: a.validator() };
}

interface Row extends Result {
  readonly evidence: string;
}
const rows: Row[] = [];
const pieces: Record<string, Awaited<ReturnType<typeof componentCosts>>> = {};

const plain = await plainServer();
rows.push({
  evidence: "none",
  ...(await measure("plain TLS 1.3 (baseline)", () => plainRequest(plain.port))),
});
plain.close();

for (const kind of evidence === "both" ? ["software", "swtpm"] : [evidence]) {
  const [srv, cli] =
    kind === "swtpm"
      ? await Promise.all([swtpmSide(), swtpmSide()])
      : await Promise.all([softwareSide("qemu-vtpm"), softwareSide("azure-sev-snp")]);
  for (const mode of ["server-attested", "client-attested", "mutual"] as const) {
    const c = await atlsCase(mode, srv.issuer, srv.validator, cli.issuer, cli.validator);
    rows.push({ evidence: kind, ...(await measure(`aTLS ${mode}`, c.once)) });
    await c.server.close();
  }
  pieces[kind] = await componentCosts(srv.issuer, srv.validator, kind === "swtpm" ? 20 : 200);
}
for (const c of cleanups) await c();

const base = rows[0] as Row;
console.log(`aTLS: new connection + 1 GET, sequential, ${seconds} s per row, same run, same machine`);
console.log("| evidence | case | n | conn+req/s | p50 ms | p99 ms | p50 × baseline | rate ÷ baseline |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows)
  console.log(
    `| ${r.evidence} | ${r.name} | ${r.n} | ${r.perSecond.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${(r.p50Ms / base.p50Ms).toFixed(1)} | ${(r.perSecond / base.perSecond).toFixed(3)} |`,
  );
for (const [kind, p] of Object.entries(pieces))
  console.log(
    `${kind} per connection (mean): P-256 keygen ${p.keygenMs.toFixed(3)} ms, certificate mint ${p.certMintMs.toFixed(2)} ms, issue ${p.issueMs.toFixed(2)} ms, validate ${p.validateMs.toFixed(2)} ms, document ${p.documentBytes} B`,
  );
emit(
  "atls",
  rows.slice(1).flatMap((r) => [
    figure(`${r.name} (${r.evidence} evidence)`, r.perSecond, "connections+GET/s", "higher", {
      name: base.name,
      value: base.perSecond,
    }),
    figure(`${r.name} (${r.evidence} evidence) p50`, r.p50Ms, "ms", "lower", {
      name: `${base.name} p50`,
      value: base.p50Ms,
    }),
  ]),
  {
    seconds,
    results: rows.map((r) => ({
      ...r,
      ratioP50: r.p50Ms / base.p50Ms,
      ratioRate: r.perSecond / base.perSecond,
    })),
    pieces,
  },
);
process.exit(0);
