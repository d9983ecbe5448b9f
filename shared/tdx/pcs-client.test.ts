import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readTdxVector, TDX_VECTOR, tdxCollateralFixture } from "@asterism/testing";
import { expectCode } from "./_test-util.ts";
import type { Collateral } from "./collateral.ts";
import { PcsError, TdxVerifyError } from "./errors.ts";
import { bundleKey, createPcsClient } from "./pcs-client.ts";
import { verifyQuote } from "./verify.ts";

/** A local stand-in for Intel PCS on 127.0.0.1 serving the vectors' collateral with PCS's headers. */
let server: ReturnType<typeof Bun.serve>;
let base: string;
let collateral: Collateral;
const hits: string[] = [];
let mode: "ok" | "no-header" | "500" = "ok";

beforeAll(async () => {
  collateral = await tdxCollateralFixture("v4");
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      hits.push(`${url.pathname}${url.search}`);
      if (mode === "500") return new Response("oops", { status: 500 });
      const chain = (pem: string) =>
        mode === "no-header" ? {} : { [HEADER[url.pathname] ?? "x"]: encodeURIComponent(pem) };
      const HEADER: Record<string, string> = {
        "/tdx/certification/v4/tcb": "TCB-Info-Issuer-Chain",
        "/tdx/certification/v4/qe/identity": "SGX-Enclave-Identity-Issuer-Chain",
        "/sgx/certification/v4/pckcrl": "SGX-PCK-CRL-Issuer-Chain",
      };
      switch (url.pathname) {
        case "/tdx/certification/v4/tcb":
          if (url.searchParams.get("fmspc") !== "50806f000000") return new Response("", { status: 404 });
          return new Response(collateral.tcb_info, { headers: chain(collateral.tcb_info_issuer_chain) });
        case "/tdx/certification/v4/qe/identity":
          return new Response(collateral.qe_identity, {
            headers: chain(collateral.qe_identity_issuer_chain),
          });
        case "/sgx/certification/v4/pckcrl":
          return new Response(Buffer.from(collateral.pck_crl, "hex"), {
            headers: chain(collateral.pck_crl_issuer_chain),
          });
        case "/IntelSGXRootCA.der":
          return new Response(Buffer.from(collateral.root_ca_crl, "hex"));
        default:
          return new Response("", { status: 404 });
      }
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));

function client(now = TDX_VECTOR.v4.now) {
  return createPcsClient({ baseUrl: base, rootCrlUrl: `${base}/IntelSGXRootCA.der`, now: () => now });
}

describe("createPcsClient against a local PCS (127.0.0.1)", () => {
  test("fetches the four pieces and reassembles the same collateral", async () => {
    mode = "ok";
    hits.length = 0;
    const c = await client().getCollateral({ fmspc: "50806F000000", ca: "platform" });
    expect(c).toEqual(collateral);
    expect(hits).toEqual([
      "/tdx/certification/v4/tcb?fmspc=50806f000000",
      "/tdx/certification/v4/qe/identity",
      "/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
      "/IntelSGXRootCA.der",
    ]);
  });

  test("caches until the earliest nextUpdate and shares in-flight requests", async () => {
    mode = "ok";
    hits.length = 0;
    let now = TDX_VECTOR.v4.now;
    const pcs = createPcsClient({ baseUrl: base, rootCrlUrl: `${base}/IntelSGXRootCA.der`, now: () => now });
    const req = { fmspc: "50806f000000", ca: "platform" } as const;
    await Promise.all([pcs.getCollateral(req), pcs.getCollateral(req)]);
    await pcs.getCollateral(req);
    expect(hits).toHaveLength(4);
    now = new Date("2023-07-09T00:00:00Z"); // after QE identity's nextUpdate 2023-07-08
    await pcs.getCollateral(req);
    expect(hits).toHaveLength(8);
  });

  test("end to end: verifyQuote with getCollateral → the stated v4 outcome (no matching TCB level)", async () => {
    mode = "ok";
    const pcs = client();
    await expectCode(
      verifyQuote(await readTdxVector(TDX_VECTOR.v4.quote), {
        now: TDX_VECTOR.v4.now,
        getCollateral: (r) => pcs.getCollateral(r),
      }),
      TdxVerifyError,
      "TCB_LEVEL_NOT_FOUND",
    );
  });

  test.each([
    { name: "unknown FMSPC (404)", m: "ok" as const, fmspc: "00806f050000", code: "FETCH_FAILED" },
    { name: "server error", m: "500" as const, fmspc: "50806f000000", code: "FETCH_FAILED" },
    {
      name: "issuer-chain header missing",
      m: "no-header" as const,
      fmspc: "50806f000000",
      code: "RESPONSE_INVALID",
    },
  ])("$name → $code", async ({ m, fmspc, code }) => {
    mode = m;
    await expectCode(client().getCollateral({ fmspc, ca: "platform" }), PcsError, code);
    mode = "ok";
  });

  test("unreachable server → FETCH_FAILED", async () => {
    const pcs = createPcsClient({ baseUrl: "http://127.0.0.1:1", now: () => TDX_VECTOR.v4.now });
    await expectCode(pcs.getCollateral({ fmspc: "50806f000000", ca: "platform" }), PcsError, "FETCH_FAILED");
  });
});

describe("offline bundle", () => {
  test("answers from the bundle without any fetch", async () => {
    let fetched = 0;
    const pcs = createPcsClient({
      now: () => TDX_VECTOR.v4.now,
      offline: true,
      bundle: { [bundleKey({ fmspc: "50806f000000", ca: "platform" })]: collateral },
      fetch: async () => {
        fetched++;
        return new Response("", { status: 500 });
      },
    });
    expect(await pcs.getCollateral({ fmspc: "50806F000000", ca: "platform" })).toBe(collateral);
    await expectCode(pcs.getCollateral({ fmspc: "00806f050000", ca: "platform" }), PcsError, "NOT_IN_BUNDLE");
    expect(fetched).toBe(0);
  });
});
