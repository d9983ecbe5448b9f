import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseReport } from "../abi/report.ts";
import { decodeTcb } from "../abi/tcb.ts";
import { KdsError, type KdsErrorCode } from "../errors.ts";
import { thrown, vectors } from "../vectors.test-helper.ts";
import { createSnpVerifier } from "../verify/verifier.ts";
import { createKdsBundle, parseKdsBundle } from "./bundle.ts";
import { createKdsClient, MAX_KDS_RESPONSE_BYTES } from "./client.ts";
import { collectSnpEvidence } from "./collect.ts";
import { certChainPath, crlPath, vcekPath } from "./urls.ts";

/** A loopback KDS serving the vectors' certificates, counting requests per path. */
let server: ReturnType<typeof Bun.serve>;
let base: string;
const hits = new Map<string, number>();
const routes = new Map<string, Uint8Array>();
let release: (() => void) | undefined;
let gate: Promise<void> | undefined;

beforeAll(async () => {
  const gsgReport = parseReport(await vectors.gsg.report());
  routes.set(
    vcekPath("milan", gsgReport.chipId, decodeTcb(gsgReport.reportedTcb, "milan")),
    await vectors.gsg.vcek(),
  );
  routes.set(certChainPath("milan", "vcek"), await vectors.gsg.chain());
  routes.set(certChainPath("milan", "vlek"), await vectors.aws.chain());
  routes.set("/vcek/v1/Genoa/cert_chain", new TextEncoder().encode("not a chain"));
  routes.set("/vcek/v1/Turin/cert_chain", new Uint8Array(MAX_KDS_RESPONSE_BYTES + 1));
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const path = url.pathname + url.search;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (gate !== undefined) await gate;
      const body = routes.get(path);
      return body === undefined
        ? new Response("not found", { status: 404 })
        : new Response(body as Uint8Array<ArrayBuffer>);
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(() => {
  release?.();
  server.stop(true);
});

async function kdsCode(f: () => Promise<unknown>): Promise<KdsErrorCode> {
  const e = await thrown(f);
  expect(e).toBeInstanceOf(KdsError);
  return (e as KdsError).code;
}

describe("KDS URL forms (constellation VECTORS.md V1, external VECTORS.md §1.1)", () => {
  test("Milan VCEK URL matches the one go-sev-guest's test names", async () => {
    const r = parseReport(await vectors.gsg.report());
    expect(vcekPath("milan", r.chipId, decodeTcb(r.reportedTcb, "milan"))).toBe(
      "/vcek/v1/Milan/3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68",
    );
  });
  test("chains and CRLs per kind; Turin uses an 8-byte hwID and fmcSPL", () => {
    expect(certChainPath("milan", "vcek")).toBe("/vcek/v1/Milan/cert_chain");
    expect(certChainPath("milan", "vlek")).toBe("/vlek/v1/Milan/cert_chain");
    expect(crlPath("genoa", "vcek")).toBe("/vcek/v1/Genoa/crl");
    const chip = new Uint8Array(64).fill(0xab);
    expect(vcekPath("turin", chip, { fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 5 })).toBe(
      "/vcek/v1/Turin/abababababababab?fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=5",
    );
  });
});

describe("KDS client against a loopback server", () => {
  test("fetches a VCEK and chain that verify the go-sev-guest report", async () => {
    const kds = createKdsClient({ fetch, baseUrl: base });
    const r = parseReport(await vectors.gsg.report());
    const vcek = await kds.getVcek("milan", r.chipId, decodeTcb(r.reportedTcb, "milan"));
    const chain = await kds.getCertChain("milan", "vcek");
    expect(chain.map((c) => c.subject.commonName)).toEqual(["SEV-Milan", "ARK-Milan"]);
    const v = await createSnpVerifier().verify(
      { report: r, endorsementKey: vcek, chain },
      { now: vectors.gsg.now },
    );
    expect(v.signer).toBe("vcek");
  });

  test("concurrent identical requests are coalesced into one, then served from the cache", async () => {
    const kds = createKdsClient({ fetch, baseUrl: base });
    const path = certChainPath("milan", "vlek");
    hits.delete(path);
    gate = new Promise((r) => {
      release = r;
    });
    const all = Promise.all(Array.from({ length: 8 }, () => kds.getCertChain("milan", "vlek")));
    await Bun.sleep(20);
    release?.();
    gate = undefined;
    const results = await all;
    expect(results.every((c) => c[0]?.subject.commonName === "SEV-VLEK-Milan")).toBe(true);
    await kds.getCertChain("milan", "vlek");
    expect(hits.get(path)).toBe(1);
  });

  test("CRL entries expire after crlTtlMs (injected clock)", async () => {
    let t = Date.parse("2025-01-01T00:00:00Z");
    routes.set(crlPath("milan", "vcek"), new Uint8Array([0x30, 0x00]));
    const kds = createKdsClient({ fetch, baseUrl: base, now: () => new Date(t), crlTtlMs: 1000 });
    // `30 00` is not a CRL: INVALID_RESPONSE and nothing cached.
    expect(await kdsCode(() => kds.getCrl("milan", "vcek"))).toBe("INVALID_RESPONSE");
    t += 1;
    expect(await kdsCode(() => kds.getCrl("milan", "vcek"))).toBe("INVALID_RESPONSE");
    expect(hits.get(crlPath("milan", "vcek"))).toBe(2);
  });

  test.each([
    {
      name: "404",
      call: (k: ReturnType<typeof createKdsClient>) => k.getCrl("turin", "vlek"),
      code: "HTTP_STATUS",
    },
    {
      name: "not a PEM chain",
      call: (k: ReturnType<typeof createKdsClient>) => k.getCertChain("genoa", "vcek"),
      code: "INVALID_RESPONSE",
    },
    {
      name: "oversized body",
      call: (k: ReturnType<typeof createKdsClient>) => k.getCertChain("turin", "vcek"),
      code: "RESPONSE_TOO_LARGE",
    },
  ] as const)("$name → $code", async ({ call, code }) => {
    expect(await kdsCode(() => call(createKdsClient({ fetch, baseUrl: base })))).toBe(code);
  });

  test("connection refused → FETCH_FAILED", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const url = `http://127.0.0.1:${closed.port}`;
    closed.stop(true);
    expect(
      await kdsCode(() => createKdsClient({ fetch, baseUrl: url, timeoutMs: 2000 }).getCrl("milan", "vcek")),
    ).toBe("FETCH_FAILED");
  });
});

describe("offline bundle", () => {
  test("serves from the bundle without a network; missing entries are NOT_IN_BUNDLE", async () => {
    const doc = createKdsBundle({
      [certChainPath("milan", "vcek")]: await vectors.gsg.chain(),
    });
    const bundle = parseKdsBundle(JSON.parse(JSON.stringify(doc)));
    const kds = createKdsClient({ bundle });
    const chain = await kds.getCertChain("milan", "vcek");
    expect(chain[1]?.subject.commonName).toBe("ARK-Milan");
    expect(await kdsCode(() => kds.getCertChain("genoa", "vcek"))).toBe("NOT_IN_BUNDLE");
  });

  test.each([
    { name: "wrong format tag", doc: { format: "x", entries: {} } },
    { name: "not a KDS path", doc: { format: "asterism.kds-bundle.v1", entries: { "/etc/passwd": "AA==" } } },
    {
      name: "bad base64",
      doc: { format: "asterism.kds-bundle.v1", entries: { "/vcek/v1/Milan/crl": "!!" } },
    },
    { name: "extra field", doc: { format: "asterism.kds-bundle.v1", entries: {}, more: 1 } },
  ])("$name → BUNDLE_INVALID", async ({ doc }) => {
    expect(await kdsCode(async () => parseKdsBundle(doc))).toBe("BUNDLE_INVALID");
  });
});

describe("collectSnpEvidence (Constellation certificate precedence)", () => {
  test("VCEK and ASK fetched from KDS when the host supplies none; the KDS ARK is dropped", async () => {
    const kds = createKdsClient({ fetch, baseUrl: base });
    const report = parseReport(await vectors.gsg.report());
    const ev = await collectSnpEvidence(report, {}, kds, "milan");
    expect(Array.isArray(ev.chain) && ev.chain.map((c) => c.subject.commonName)).toEqual(["SEV-Milan"]);
    const v = await createSnpVerifier().verify(ev, { now: vectors.gsg.now });
    expect(v.chain).toEqual(["SEV-VCEK", "SEV-Milan", "ARK-Milan"]);
  });

  test("supplied VCEK and chain win; nothing is fetched", async () => {
    const kds = createKdsClient({}); // offline, empty: any fetch would fail NOT_IN_BUNDLE
    const report = parseReport(await vectors.aws.report());
    const ev = await collectSnpEvidence(
      report,
      { endorsementKey: await vectors.aws.vlek(), chain: await vectors.aws.chain() },
      kds,
    );
    await createSnpVerifier().verify(ev, { now: vectors.aws.now });
  });

  test("a VLEK-signed report without a VLEK → CERT_INVALID (KDS serves no VLEKs)", async () => {
    const report = parseReport(await vectors.aws.report());
    const e = await thrown(() => collectSnpEvidence(report, {}, createKdsClient({})));
    expect((e as { code?: string }).code).toBe("CERT_INVALID");
  });
});
