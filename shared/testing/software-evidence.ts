import type { Issuer, Validator, Variant, VerifiedClaims } from "@asterism/attestation";
import { constantTimeEqual, fromBase64, toBase64 } from "@asterism/bytes";
import { AsterismError } from "@asterism/errors";
import * as v from "valibot";

/**
 * TEST-ONLY software "attestation". A key held by the test process signs whatever userData, nonce and
 * measurements it is asked to: it proves nothing about any machine and exists so aTLS (and its attack
 * tests) can run without a TPM. It implements the real `Issuer`/`Validator` contracts, including the
 * binding every variant uses (extraData = SHA-256(userData ‖ nonce)), and impersonates a variant name
 * chosen by the test (default `qemu-vtpm`) because the variant registry has no test variant by design.
 * Its documents start with a format tag no production validator accepts. Never import this outside tests.
 */
export const SOFTWARE_EVIDENCE_FORMAT = "asterism-test-software-evidence/v1";

/** Codes of the software validator, mirroring what real validators report. */
export type SoftwareEvidenceErrorCode =
  | "DOCUMENT_MALFORMED"
  | "VARIANT_MISMATCH"
  | "SIGNATURE_INVALID"
  | "NONCE_MISMATCH"
  | "MEASUREMENT_MISMATCH";

/** A software document refused by its validator. */
export class SoftwareEvidenceError extends AsterismError<SoftwareEvidenceErrorCode> {
  override readonly domain = "software-evidence";
}

const DocumentSchema = v.strictObject({
  format: v.literal(SOFTWARE_EVIDENCE_FORMAT),
  variant: v.string(),
  userData: v.pipe(v.string(), v.maxLength(128)),
  extraData: v.pipe(v.string(), v.maxLength(128)),
  measurements: v.record(
    v.pipe(v.string(), v.regex(/^\d{1,2}$/)),
    v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  ),
  signature: v.pipe(v.string(), v.maxLength(256)),
});

/** Measurements by PCR index, lower-case hex of 32 bytes. */
export type SoftwareMeasurements = Readonly<Record<number, string>>;

/** Options of {@link createSoftwareAttester}. */
export interface SoftwareAttesterOptions {
  /** The variant name the documents claim (default `qemu-vtpm`). */
  readonly variant?: Variant;
  /** What the issuer reports as measured (default PCR 4 and 9 of all `0x11`/`0x22`). */
  readonly measurements?: SoftwareMeasurements;
}

/** A software issuer plus a factory of validators that trust its key. */
export interface SoftwareAttester {
  readonly variant: Variant;
  readonly issuer: Issuer;
  readonly measurements: SoftwareMeasurements;
  /** A validator trusting this attester's key, enforcing `expected` (default: what the issuer reports). */
  validator(expected?: SoftwareMeasurements): Validator;
  /** Sign an arbitrary document body (attack tests forge documents with it). */
  sign(fields: {
    userData: Uint8Array;
    extraData: Uint8Array;
    measurements?: SoftwareMeasurements;
  }): Promise<Uint8Array>;
}

/** Default measurements: a PCR 4 and a PCR 9 value. */
export const DEFAULT_SOFTWARE_MEASUREMENTS: SoftwareMeasurements = { 4: "11".repeat(32), 9: "22".repeat(32) };

/** extraData = SHA-256(userData ‖ nonce), as in every variant (reference/constellation.md §4). */
export async function softwareExtraData(userData: Uint8Array, nonce: Uint8Array): Promise<Uint8Array> {
  const buf = new Uint8Array(userData.length + nonce.length);
  buf.set(userData);
  buf.set(nonce, userData.length);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
}

function signedBytes(
  variant: string,
  userData: string,
  extraData: string,
  m: SoftwareMeasurements,
): Uint8Array {
  const ms = Object.keys(m)
    .map(Number)
    .sort((a, b) => a - b)
    .map((i) => `${i}=${m[i]}`)
    .join(",");
  return new TextEncoder().encode(
    `${SOFTWARE_EVIDENCE_FORMAT}\n${variant}\n${userData}\n${extraData}\n${ms}`,
  );
}

const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;

/**
 * Create a software attester with a fresh signing key.
 *
 * @example
 * const a = await createSoftwareAttester();
 * serveAttested(app, { mode: "server-attested", issuer: a.issuer });
 * attestedFetch(url, {}, { mode: "server-attested", validators: [a.validator()] });
 */
export async function createSoftwareAttester(opts: SoftwareAttesterOptions = {}): Promise<SoftwareAttester> {
  const variant: Variant = opts.variant ?? "qemu-vtpm";
  const measurements = opts.measurements ?? DEFAULT_SOFTWARE_MEASUREMENTS;
  const key = await crypto.subtle.generateKey(ECDSA, false, ["sign", "verify"]);

  const sign: SoftwareAttester["sign"] = async (f) => {
    const m = f.measurements ?? measurements;
    const userData = toBase64(f.userData);
    const extraData = toBase64(f.extraData);
    const sig = new Uint8Array(
      await crypto.subtle.sign(
        SIGN,
        key.privateKey,
        signedBytes(variant, userData, extraData, m) as Uint8Array<ArrayBuffer>,
      ),
    );
    const doc = {
      format: SOFTWARE_EVIDENCE_FORMAT,
      variant,
      userData,
      extraData,
      measurements: m,
      signature: toBase64(sig),
    };
    return new TextEncoder().encode(JSON.stringify(doc));
  };

  const issuer: Issuer = {
    variant,
    issue: async (userData, nonce) =>
      sign({ userData, extraData: await softwareExtraData(userData, nonce), measurements }),
  };

  const validator = (expected: SoftwareMeasurements = measurements): Validator => ({
    variant,
    async validate(document: Uint8Array, nonce: Uint8Array): Promise<VerifiedClaims> {
      let doc: v.InferOutput<typeof DocumentSchema>;
      let userData: Uint8Array;
      let extraData: Uint8Array;
      let signature: Uint8Array;
      try {
        doc = v.parse(DocumentSchema, JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(document)));
        userData = fromBase64(doc.userData);
        extraData = fromBase64(doc.extraData);
        signature = fromBase64(doc.signature);
      } catch (cause) {
        throw new SoftwareEvidenceError("DOCUMENT_MALFORMED", "Cannot parse software evidence", {
          expected: `a ${SOFTWARE_EVIDENCE_FORMAT} JSON document`,
          actual: `${document.length} bytes that do not parse`,
          cause,
        });
      }
      if (doc.variant !== variant)
        throw new SoftwareEvidenceError("VARIANT_MISMATCH", "Cannot accept software evidence", {
          expected: variant,
          actual: doc.variant,
        });
      const ok = await crypto.subtle.verify(
        SIGN,
        key.publicKey,
        signature as Uint8Array<ArrayBuffer>,
        signedBytes(doc.variant, doc.userData, doc.extraData, doc.measurements) as Uint8Array<ArrayBuffer>,
      );
      if (!ok)
        throw new SoftwareEvidenceError("SIGNATURE_INVALID", "Cannot verify software evidence", {
          expected: "a signature by the trusted test key",
          actual: "an invalid signature",
        });
      if (!constantTimeEqual(extraData, await softwareExtraData(userData, nonce)))
        throw new SoftwareEvidenceError("NONCE_MISMATCH", "Cannot accept software evidence", {
          expected: "extraData = SHA-256(userData ‖ nonce) for this nonce",
          actual: "evidence for another nonce",
        });
      const got: Record<number, string> = {};
      for (const [k, val] of Object.entries(doc.measurements)) got[Number(k)] = val;
      for (const [k, want] of Object.entries(expected))
        if (got[Number(k)] !== want)
          throw new SoftwareEvidenceError("MEASUREMENT_MISMATCH", `Cannot accept measurement ${k}`, {
            expected: want,
            actual: got[Number(k)] ?? "absent",
          });
      return { variant, userData, measurements: got, warnings: [], details: { software: true } };
    },
  });

  return { variant, issuer, measurements, validator, sign };
}
