import { beforeAll, describe, expect, test } from "bun:test";
import { toBase64, toHex } from "@asterism/bytes";
import {
  applyMutations,
  fuzzRuns,
  fuzzTimeout,
  onlyTyped,
  onlyTypedAsync,
  readTdxVector,
  TDX_VECTOR,
  tdxCollateralFixture,
} from "@asterism/testing";
import fc from "fast-check";
import type { Collateral } from "./collateral.ts";
import { TdxParseError, TdxPolicyError, TdxVerifyError } from "./errors.ts";
import { verifyTdxEvidence } from "./evidence.ts";
import { loadTrustedRoot } from "./pck-chain.ts";
import { parseTdxPolicy, validateQuote } from "./policy.ts";
import { parseQuote, type TdxQuote } from "./quote.ts";
import { verifyAzureTdxInstanceInfo } from "./variants/azure-tdx.ts";
import { verifyCollateral, verifyTcbInfo } from "./verify-collateral.ts";

/**
 * The TDX entry points beside verifyQuote (verify.fuzz.test.ts): the CLI's quote + collateral file check,
 * the azure-tdx instance info, collateral and TCB-info signatures, and the policy check. Random and mutated
 * input only raises TdxParseError / TdxVerifyError / TdxPolicyError.
 */
const TYPED = [TdxParseError, TdxVerifyError, TdxPolicyError];
const now = TDX_VECTOR.v4.now;
let quote: Uint8Array;
let parsed: TdxQuote;
let collateral: Collateral;
let collateralJson: string;
beforeAll(async () => {
  quote = await readTdxVector(TDX_VECTOR.v4.quote);
  parsed = parseQuote(quote);
  collateral = await tdxCollateralFixture("v4");
  collateralJson = JSON.stringify(collateral);
});
const edits = fc.array(
  fc.record({
    at: fc.nat(),
    op: fc.constantFrom("xor" as const, "set" as const, "insert" as const, "delete" as const),
    byte: fc.integer({ min: 0x20, max: 0x7e }),
  }),
  { minLength: 1, maxLength: 3 },
);
const mutateText = (s: string, e: Parameters<typeof applyMutations>[1]) =>
  new TextDecoder().decode(applyMutations(new TextEncoder().encode(s), e));

describe("verifyTdxEvidence (quote file + collateral file)", () => {
  test(
    "mutated collateral JSON text, quote bytes or expected REPORTDATA only raise coded errors",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("collateral", "quote", "reportData"),
          edits,
          fc.uint8Array({ minLength: 0, maxLength: 70 }),
          async (which, e, rd) => {
            await onlyTypedAsync(TYPED, () =>
              verifyTdxEvidence({
                quote: which === "quote" ? applyMutations(quote, e) : quote,
                collateralJson: which === "collateral" ? mutateText(collateralJson, e) : collateralJson,
                ...(which === "reportData" ? { reportData: rd } : {}),
                now,
              }),
            );
          },
        ),
        { numRuns: fuzzRuns(60) },
      );
    },
    fuzzTimeout(60_000),
  );
});

describe("collateral signatures", () => {
  test(
    "verifyTcbInfo: a mutated TCB info or signature never verifies as anything but the genuine TCB info",
    async () => {
      const root = loadTrustedRoot();
      const c = collateral as unknown as Record<string, string>;
      const body = c["tcb_info"] as string;
      const sig = c["tcb_info_signature"] as string;
      const chain = c["tcb_info_issuer_chain"] as string;
      const genuine = await verifyTcbInfo(body, sig, chain, undefined, { root, now }); // not vacuous
      await fc.assert(
        fc.asyncProperty(fc.boolean(), edits, async (which, e) => {
          const b = which ? mutateText(body, e) : body;
          const s = which ? sig : mutateText(sig, e);
          let got: Awaited<ReturnType<typeof verifyTcbInfo>> | undefined;
          const code = await onlyTypedAsync(TYPED, async () => {
            got = await verifyTcbInfo(b, s, chain, undefined, { root, now });
          });
          // The signature covers the tcbInfo object, not the envelope around it (a renamed "signature"
          // key, whitespace): whatever verifies must carry exactly the genuine TCB info.
          if (code === undefined) expect(got?.tcbInfo).toEqual(genuine.tcbInfo);
        }),
        { numRuns: fuzzRuns(100) },
      );
    },
    fuzzTimeout(60_000),
  );

  test(
    "verifyCollateral: one field of the collateral object replaced only raises coded errors",
    async () => {
      const root = loadTrustedRoot();
      const keys = Object.keys(collateral);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...keys),
          fc.oneof(
            fc.oneof(fc.string(), fc.jsonValue()).map((value) => ({ value })),
            edits.map((e) => ({ e })),
          ),
          async (k, change) => {
            const original = (collateral as unknown as Record<string, unknown>)[k];
            const replaced =
              "e" in change
                ? typeof original === "string"
                  ? mutateText(original, change.e)
                  : original
                : change.value;
            await onlyTypedAsync(TYPED, () =>
              verifyCollateral({ ...collateral, [k]: replaced } as Collateral, { root, now }),
            );
          },
        ),
        { numRuns: fuzzRuns(100) },
      );
    },
    fuzzTimeout(60_000),
  );
});

describe("azure-tdx instance info", () => {
  test(
    "random instance info and runtime data only raise coded errors",
    async () => {
      const runtime = fc.oneof(
        fc.jsonValue().map((j) => JSON.stringify(j)),
        fc
          .record({
            keys: fc.array(
              fc.record({
                kty: fc.constantFrom("RSA", "EC"),
                n: fc.base64String({ maxLength: 20 }),
                e: fc.constantFrom("AQAB", "", "="),
              }),
              { maxLength: 2 },
            ),
          })
          .map((j) => JSON.stringify(j)),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            runtime.map((r) =>
              JSON.stringify({
                AttestationReport: toBase64(quote),
                RuntimeData: toBase64(new TextEncoder().encode(r)),
              }),
            ),
            fc.jsonValue().map((j) => JSON.stringify(j)),
            fc.string(),
          ),
          async (text) => {
            await onlyTypedAsync(TYPED, () =>
              verifyAzureTdxInstanceInfo(
                new TextEncoder().encode(text),
                { n: new Uint8Array(256).fill(1), e: 65537 },
                {
                  now: () => now,
                  getCollateral: async () => collateral,
                  measurements: {} as never,
                },
              ),
            );
          },
        ),
        { numRuns: fuzzRuns(60) },
      );
    },
    fuzzTimeout(60_000),
  );
});

describe("TDX policy", () => {
  const h = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map(toHex);
  test("parseTdxPolicy + validateQuote: random policies give pass or TdxPolicyError", () => {
    const policy = fc.record(
      {
        mrTd: fc.oneof(h(48), fc.constant(toHex(parsed.body.mrTd))),
        rtmr2: h(48),
        xfam: fc.oneof(h(8), fc.constant(toHex(parsed.body.xfam))),
        tdAttributes: h(8),
        allowDebug: fc.boolean(),
        minimumTeeTcbSvn: h(16),
        minimumQeSvn: fc.integer({ min: 0, max: 0xffff }),
        minimumPceSvn: fc.integer({ min: 0, max: 0xffff }),
        qeVendorId: h(16),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(policy, fc.anything()), (p) => {
        onlyTyped([TdxPolicyError], () => validateQuote(parsed, parseTdxPolicy(p)));
      }),
      { numRuns: fuzzRuns() },
    );
  });
});
