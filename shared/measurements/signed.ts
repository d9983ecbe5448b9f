/**
 * Signed, published measurements ("ImageMeasurementsV2", reference/constellation.md §5.3).
 *
 * The publisher signs the exact bytes of `measurements.json` with ECDSA P-256 / SHA-256 and ships the
 * base64 of the DER signature as `measurements.json.sig` (`cosign sign-blob`). We verify the signature
 * over the raw bytes BEFORE parsing a single byte of JSON, then check that the file is for the image we
 * asked about and pick the entry for our CSP and variant.
 *
 * Not done here: the Rekor transparency-log lookup Constellation performs after the signature check (a
 * network dependency; Constellation only warns when it fails).
 */
import { createPublicKey, type KeyObject, verify as nodeVerify } from "node:crypto";
import { fromBase64 } from "@asterism/bytes";
import * as v from "valibot";
import { MeasurementsParseError, MeasurementsPolicyError, MeasurementsSignatureError } from "./errors.ts";
import { MAX_MEASUREMENTS_FILE_BYTES, type Measurements, measurementsFromJsonValue } from "./policy.ts";

/** Which image the caller expects the file to describe, and which entry it wants. */
export interface ImageSelector {
  readonly version: string;
  /** `"-"` for releases. */
  readonly ref: string;
  /** `"stable"` for releases. */
  readonly stream: string;
  /** CSP as written in the file: `AWS`, `Azure`, `GCP`, `OpenStack`, `QEMU` (the test vector uses `Unknown`). */
  readonly csp: string;
  /** Attestation variant name, e.g. `qemu-vtpm`. */
  readonly variant: string;
}

/** One published entry. */
export interface ImageMeasurementsEntry {
  readonly csp: string;
  readonly attestationVariant: string;
  readonly measurements: Measurements;
}

/** A parsed `measurements.json` (ImageMeasurementsV2). */
export interface ImageMeasurements {
  readonly version: string;
  readonly ref: string;
  readonly stream: string;
  readonly list: readonly ImageMeasurementsEntry[];
}

/** The published JSON shape; `measurements` is validated by {@link measurementsFromJsonValue}. */
export const ImageMeasurementsSchema = v.object({
  version: v.pipe(v.string(), v.minLength(1)),
  ref: v.pipe(v.string(), v.minLength(1)),
  stream: v.pipe(v.string(), v.minLength(1)),
  list: v.pipe(
    v.array(
      v.object({
        csp: v.pipe(v.string(), v.minLength(1)),
        attestationVariant: v.pipe(v.string(), v.minLength(1)),
        measurements: v.unknown(),
      }),
    ),
    v.maxLength(64),
  ),
});

/** Import a PEM SPKI public key and require ECDSA P-256. */
export function parseMeasurementsPublicKey(pem: string | Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: typeof pem === "string" ? pem : Buffer.from(pem), format: "pem" });
  } catch (cause) {
    throw new MeasurementsSignatureError("PUBLIC_KEY_INVALID", "Cannot read the measurements signing key", {
      expected: "a PEM SubjectPublicKeyInfo",
      cause,
    });
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== "ec" || curve !== "prime256v1") {
    throw new MeasurementsSignatureError("PUBLIC_KEY_INVALID", "Cannot use the measurements signing key", {
      expected: "ECDSA P-256",
      actual: `${key.asymmetricKeyType ?? "unknown"}${curve ? ` ${curve}` : ""}`,
    });
  }
  return key;
}

/** Decode a `.sig` file: base64 of a DER ECDSA signature; one trailing newline is tolerated. */
function decodeSignature(sig: Uint8Array | string): Uint8Array {
  let text: string;
  try {
    text = typeof sig === "string" ? sig : new TextDecoder("utf-8", { fatal: true }).decode(sig);
  } catch (cause) {
    throw new MeasurementsSignatureError("SIGNATURE_ENCODING", "Cannot decode the measurements signature", {
      expected: "base64 text",
      cause,
    });
  }
  text = text.replace(/\r?\n$/, "");
  if (text.length > 256) {
    throw new MeasurementsSignatureError("SIGNATURE_ENCODING", "Cannot decode the measurements signature", {
      expected: "a base64 DER ECDSA P-256 signature (≤ 96 characters)",
      actual: `${text.length} characters`,
    });
  }
  try {
    return fromBase64(text);
  } catch (cause) {
    throw new MeasurementsSignatureError("SIGNATURE_ENCODING", "Cannot decode the measurements signature", {
      expected: "standard base64",
      cause,
    });
  }
}

/**
 * Verify the signature over the exact file bytes. Throws `SIGNATURE_INVALID` when it does not verify
 * (including a signature that is not valid DER).
 */
export function verifyMeasurementsSignature(
  file: Uint8Array,
  signature: Uint8Array | string,
  publicKey: string | Uint8Array | KeyObject,
): void {
  const key = isKeyObject(publicKey) ? publicKey : parseMeasurementsPublicKey(publicKey);
  const der = decodeSignature(signature);
  let ok = false;
  try {
    ok = nodeVerify("sha256", file, { key, dsaEncoding: "der" }, der);
  } catch {
    ok = false; // OpenSSL rejects malformed DER by throwing; to a caller that is just a bad signature.
  }
  if (!ok) {
    throw new MeasurementsSignatureError("SIGNATURE_INVALID", "Cannot verify the measurements signature", {
      expected: "an ECDSA P-256/SHA-256 signature over the file by the trusted key",
    });
  }
}

function isKeyObject(k: unknown): k is KeyObject {
  return typeof k === "object" && k !== null && !(k instanceof Uint8Array) && "asymmetricKeyType" in k;
}

/** Parse `measurements.json` (no signature check: use {@link loadSignedMeasurements} for untrusted files). */
export function parseImageMeasurements(file: Uint8Array): ImageMeasurements {
  const action = "Cannot parse the published measurements";
  if (file.length > MAX_MEASUREMENTS_FILE_BYTES) {
    throw new MeasurementsParseError("TOO_LARGE", action, {
      expected: `at most ${MAX_MEASUREMENTS_FILE_BYTES} bytes`,
      actual: String(file.length),
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(file));
  } catch (cause) {
    throw new MeasurementsParseError("INVALID_SYNTAX", action, { expected: "UTF-8 JSON", cause });
  }
  const r = v.safeParse(ImageMeasurementsSchema, value);
  if (!r.success) {
    const issue = r.issues[0];
    throw new MeasurementsParseError("INVALID_SCHEMA", action, {
      expected: "{version, ref, stream, list: [{csp, attestationVariant, measurements}]}",
      actual: `${issue.message} at ${v.getDotPath(issue) ?? "top level"}`,
    });
  }
  return {
    version: r.output.version,
    ref: r.output.ref,
    stream: r.output.stream,
    list: r.output.list.map((e) => ({
      csp: e.csp,
      attestationVariant: e.attestationVariant,
      measurements: measurementsFromJsonValue(e.measurements),
    })),
  };
}

/** Check the image identity and return the one entry for the selector's CSP and variant. */
export function selectImageMeasurements(image: ImageMeasurements, want: ImageSelector): Measurements {
  for (const field of ["version", "ref", "stream"] as const) {
    if (image[field] !== want[field]) {
      throw new MeasurementsPolicyError(
        "IMAGE_MISMATCH",
        `Published measurements are for another image ${field}`,
        {
          expected: JSON.stringify(want[field]),
          actual: JSON.stringify(image[field].slice(0, 128)),
        },
      );
    }
  }
  const hits = image.list.filter((e) => e.csp === want.csp && e.attestationVariant === want.variant);
  if (hits.length !== 1) {
    throw new MeasurementsPolicyError("NO_MATCHING_ENTRY", "Cannot select published measurements", {
      expected: `exactly one entry for csp ${JSON.stringify(want.csp)} and variant ${JSON.stringify(want.variant)}`,
      actual: `${hits.length} (file has ${image.list.map((e) => `${e.csp}/${e.attestationVariant}`).join(", ") || "none"})`,
    });
  }
  return (hits[0] as ImageMeasurementsEntry).measurements;
}

/** Inputs to {@link loadSignedMeasurements}. */
export interface SignedMeasurementsInput {
  /** The exact bytes of `measurements.json`. */
  readonly file: Uint8Array;
  /** The `.sig` file (base64 text). */
  readonly signature: Uint8Array | string;
  /** The publisher's key (PEM SPKI, P-256). */
  readonly publicKey: string | Uint8Array | KeyObject;
  readonly expect: ImageSelector;
}

/** Verify, parse, check the image identity, select the entry: the only safe way to use a fetched file. */
export function loadSignedMeasurements(input: SignedMeasurementsInput): Measurements {
  verifyMeasurementsSignature(input.file, input.signature, input.publicKey);
  return selectImageMeasurements(parseImageMeasurements(input.file), input.expect);
}
