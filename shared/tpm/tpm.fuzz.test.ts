/**
 * Fuzzing of every parser in the module: random and mutated input may only ever raise the module's typed
 * errors (checked by class and code), never hang, and never verify when the signed bytes changed.
 */
import { describe, expect, test } from "bun:test";
import { bytesEqual, fromHex } from "@asterism/bytes";
import { type Codec, CodecError, type CodecErrorCode, decode, encode } from "@asterism/codec";
import { fuzzRuns, readTestdata } from "@asterism/testing";
import fc from "fast-check";
import { ValiError } from "valibot";
import { TPMS_CAPABILITY_DATA } from "./commands/capability.ts";
import { TPM2_PCR_Read } from "./commands/pcr.ts";
import { TPM2_Quote } from "./commands/quote.ts";
import { TPM_ALG } from "./constants.ts";
import { EventLogError, QuoteVerificationError, TpmError, TransportError } from "./errors.ts";
import { parseCcel, parseCcelTable, replayCcel } from "./eventlog/ccel.ts";
import { parseEventLog } from "./eventlog/parse.ts";
import { replayEventLog } from "./eventlog/replay.ts";
import { unmarshalResponse } from "./execute.ts";
import { pcrBanksFromJson } from "./pcr-json.ts";
import { decodeRc } from "./rc.ts";
import { TPMS_ATTEST } from "./structures/attest.ts";
import { TPML_PCR_SELECTION } from "./structures/basic.ts";
import { TPM2B_NV_PUBLIC } from "./structures/nv.ts";
import { TPM2B_PUBLIC, TPMT_PUBLIC } from "./structures/public.ts";
import { TPMT_SIGNATURE } from "./structures/signature.ts";
import { deviceTransport } from "./transport/device.ts";
import { verifyQuote } from "./verify/quote.ts";

const CODEC_CODES: readonly CodecErrorCode[] = [
  "TRUNCATED",
  "TRAILING_BYTES",
  "RESERVED_NONZERO",
  "CONSTANT_MISMATCH",
  "UNKNOWN_TAG",
  "SIZE_LIMIT",
  "SIZE_MISMATCH",
  "INVALID_VALUE",
];
const runs = { numRuns: fuzzRuns() };

/** Flip, overwrite or truncate: the usual ways real-world bytes go bad. */
function mutated(seed: Uint8Array) {
  return fc.oneof(
    fc
      .tuple(fc.nat(seed.length - 1), fc.integer({ min: 1, max: 255 }))
      .map(([i, x]) => seed.with(i, (seed[i] ?? 0) ^ x)),
    fc.nat(seed.length - 1).map((n) => seed.subarray(0, n)),
    fc.tuple(fc.nat(seed.length - 1), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([i, b]) => {
      const c = seed.slice();
      c.set(b.subarray(0, c.length - i), i);
      return c;
    }),
  );
}

function expectCodecErrorOnly<T>(codec: Codec<T>, bytes: Uint8Array): void {
  try {
    const v = decode(codec, bytes);
    // Whatever parses must serialize and parse back to the same value.
    expect(decode(codec, encode(codec, v))).toEqual(v);
  } catch (err) {
    expect(err).toBeInstanceOf(CodecError);
    expect(CODEC_CODES).toContain((err as CodecError).code);
  }
}

const GCE = ["external", "go-tpm-tools", "attestations", "decoded", "gce-cos-85-nonce9009"];
const akBytes = await readTestdata(...GCE, "ak_pub.tpmt_public.bin");
const attestBytes = await readTestdata(...GCE, "quote_sha256.attest.bin");
const sigBytes = await readTestdata(...GCE, "quote_sha256.sig.bin");
const pcrJson = JSON.parse(
  new TextDecoder().decode(await readTestdata(...GCE, "quote_sha256.pcrs.json")),
) as {
  pcrs: Record<string, string>;
};
const pcrs = new Map([
  [TPM_ALG.SHA256, new Map(Object.entries(pcrJson.pcrs).map(([k, v]) => [Number(k), fromHex(v)]))],
]);

const logs = await Promise.all(
  ["cos-85-amd-sev.bin", "debian-10.bin"].map((f) =>
    readTestdata("external", "go-tpm-tools", "eventlogs", f),
  ),
);
const ccel = await readTestdata(
  "external",
  "go-eventlog",
  "ccel",
  "cos-113-intel-tdx-dupe-separator-unpadded.bin",
);
const table = await readTestdata("external", "go-eventlog", "ccel", "CCEL.bin");

describe("structure tables", () => {
  const tables: [string, Codec<unknown>, Uint8Array][] = [
    ["TPMT_PUBLIC", TPMT_PUBLIC as Codec<unknown>, akBytes],
    ["TPMS_ATTEST", TPMS_ATTEST as Codec<unknown>, attestBytes],
    ["TPMT_SIGNATURE", TPMT_SIGNATURE as Codec<unknown>, sigBytes],
    ["TPM2B_PUBLIC", TPM2B_PUBLIC as Codec<unknown>, encode(TPM2B_PUBLIC, decode(TPMT_PUBLIC, akBytes))],
    ["TPML_PCR_SELECTION", TPML_PCR_SELECTION as Codec<unknown>, fromHex("00000002000b03ff00ff000403010000")],
    ["TPM2B_NV_PUBLIC", TPM2B_NV_PUBLIC as Codec<unknown>, fromHex("000e01c00002000b620a000000000400")],
    ["TPMS_CAPABILITY_DATA", TPMS_CAPABILITY_DATA as Codec<unknown>, fromHex("0000000500000001000b03ffffff")],
  ];
  test.each(tables)("%s: random bytes only raise CodecError", (_, codec) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => expectCodecErrorOnly(codec, b)),
      runs,
    );
  });
  test.each(tables)(
    "%s: mutated samples only raise CodecError and round-trip when they parse",
    (_, codec, seed) => {
      fc.assert(
        fc.property(mutated(seed), (b) => expectCodecErrorOnly(codec, b)),
        runs,
      );
    },
  );
});

describe("verifyQuote", () => {
  test("mutated attest or signature never verifies and only raises QuoteVerificationError", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          mutated(attestBytes).map((a) => ({ a, s: sigBytes })),
          mutated(sigBytes).map((s) => ({ a: attestBytes, s })),
        ),
        async ({ a, s }) => {
          // An overwrite with the same bytes is no mutation.
          fc.pre(!(bytesEqual(a, attestBytes) && bytesEqual(s, sigBytes)));
          const err = await verifyQuote({
            akPublic: akBytes,
            attest: a,
            signature: s,
            nonce: fromHex("9009"),
            pcrs,
          }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(QuoteVerificationError);
        },
      ),
      runs,
    );
  });

  test("mutated AK public only raises QuoteVerificationError (or verifies when the key is unchanged)", async () => {
    await fc.assert(
      fc.asyncProperty(mutated(akBytes), async (ak) => {
        try {
          await verifyQuote({
            akPublic: ak,
            attest: attestBytes,
            signature: sigBytes,
            nonce: fromHex("9009"),
            pcrs,
          });
          // Success is only possible if the modulus, exponent and scheme survived the mutation.
          const pub = decode(TPMT_PUBLIC, ak);
          expect(pub.unique).toEqual(decode(TPMT_PUBLIC, akBytes).unique);
        } catch (err) {
          expect(err).toBeInstanceOf(QuoteVerificationError);
        }
      }),
      runs,
    );
  });
});

describe("TPM responses and codes", () => {
  test("unmarshalResponse on random bytes only raises TpmError", () => {
    const specs = [TPM2_Quote, TPM2_PCR_Read] as const;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(1), fc.nat(1), (b, which, sessions) => {
        try {
          unmarshalResponse(specs[which] as typeof TPM2_Quote, sessions, b);
        } catch (err) {
          expect(err).toBeInstanceOf(TpmError);
          expect(["TPM_RC", "RESPONSE_MALFORMED"]).toContain((err as TpmError).code);
        }
      }),
      runs,
    );
  });

  test("decodeRc is total over UINT32", () => {
    fc.assert(
      fc.property(fc.nat(0xffffffff), (rc) => {
        expect(typeof decodeRc(rc).name).toBe("string");
      }),
      runs,
    );
  });

  test("device transport framing on random read chunks only raises TransportError", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 80 }), async (chunks) => {
        const t = deviceTransport({
          write: async (b) => ({ bytesWritten: b.length }),
          read: async (buf, off) => {
            const c = chunks.shift() ?? new Uint8Array(0);
            const n = Math.min(c.length, buf.length - off);
            buf.set(c.subarray(0, n), off);
            return { bytesRead: n };
          },
          close: async () => {},
        });
        const r = await t.send(new Uint8Array(10)).catch((e: unknown) => e);
        if (!(r instanceof Uint8Array)) expect(r).toBeInstanceOf(TransportError);
      }),
      runs,
    );
  });
});

describe("event logs", () => {
  const onlyEventLogError = (f: () => void) => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(EventLogError);
    }
  };

  test("random bytes only raise EventLogError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), (b, allowPadding) =>
        onlyEventLogError(() => replayEventLog(parseEventLog(b, { allowPadding }))),
      ),
      runs,
    );
  });

  test.each([0, 1])("mutated real log %d only raises EventLogError", (i) => {
    fc.assert(
      fc.property(mutated(logs[i] as Uint8Array), (b) =>
        onlyEventLogError(() => replayEventLog(parseEventLog(b))),
      ),
      runs,
    );
  });

  test("mutated CCEL and ACPI table only raise EventLogError", () => {
    fc.assert(
      fc.property(mutated(ccel), mutated(table), (log, t) => {
        onlyEventLogError(() => replayCcel(parseCcel(log)));
        onlyEventLogError(() => parseCcelTable(t));
      }),
      runs,
    );
  });
});

describe("PCR JSON boundary", () => {
  test("arbitrary JSON only raises ValiError", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        try {
          pcrBanksFromJson(json);
        } catch (err) {
          expect(err).toBeInstanceOf(ValiError);
        }
      }),
      runs,
    );
  });
});
