/**
 * The Asterism attestation document: a versioned JSON envelope around variant-specific evidence.
 *
 * ```json
 * { "version": 1, "variant": "qemu-vtpm",
 *   "userData": "<base64, 32 bytes>", "nonce": "<base64, 32 bytes>",
 *   "evidence": { …variant-specific, validated by the variant… } }
 * ```
 *
 * `userData` and `nonce` are carried so an offline verifier can recompute the binding; they are trusted
 * only after the variant has checked that the hardware evidence commits to
 * `SHA-256(userData ‖ nonce)` (see binding.ts), and a live verifier additionally requires `nonce` to be
 * its own. Unknown top-level keys are rejected so that no field can be smuggled past the schema.
 *
 * This format is ours, not Constellation's Go-JSON document (reference §5.1); a converter for that format
 * can sit beside it without touching validators.
 */
import { fromBase64, toBase64 } from "@asterism/bytes";
import * as v from "valibot";
import { NONCE_BYTES, USER_DATA_BYTES } from "./binding.ts";
import { AttestationParseError } from "./errors.ts";
import { isVariant, type Variant } from "./variant.ts";

/** The envelope version this build reads and writes. */
export const DOCUMENT_VERSION = 1;

/**
 * Largest document accepted. A vTPM document with 3 PCR banks and a firmware event log is 40–120 KiB
 * (base64); 1 MiB bounds memory and parse time for input that arrives before any authentication.
 */
export const MAX_DOCUMENT_BYTES = 1 << 20;

/** A parsed document. `evidence` is still untrusted JSON: the variant validates it. */
export interface AttestationDocument {
  readonly version: typeof DOCUMENT_VERSION;
  readonly variant: Variant;
  readonly userData: Uint8Array;
  readonly nonce: Uint8Array;
  readonly evidence: Readonly<Record<string, unknown>>;
}

/** The envelope's JSON schema (binary fields are checked after, for coded errors). */
export const AttestationDocumentSchema = v.strictObject({
  version: v.number(),
  variant: v.string(),
  userData: v.string(),
  nonce: v.string(),
  evidence: v.record(v.string(), v.unknown()),
});

const ACTION = "Cannot parse attestation document";

/** Decode a strict base64 field, naming it in the error. */
export function decodeBase64Field(field: string, value: string, length?: number): Uint8Array {
  let b: Uint8Array;
  try {
    b = fromBase64(value);
  } catch (cause) {
    throw new AttestationParseError("INVALID_ENCODING", `${ACTION}: ${field}`, {
      expected: "standard base64",
      cause,
    });
  }
  if (length !== undefined && b.length !== length) {
    throw new AttestationParseError("INVALID_LENGTH", `${ACTION}: ${field}`, {
      expected: `${length} bytes`,
      actual: `${b.length} bytes`,
    });
  }
  return b;
}

/** Turn the first valibot issue into a coded error. */
export function schemaError(action: string, expected: string, issues: readonly v.BaseIssue<unknown>[]) {
  const issue = issues[0];
  return new AttestationParseError("INVALID_SCHEMA", action, {
    expected,
    actual: issue ? `${issue.message} at ${v.getDotPath(issue) ?? "top level"}` : "invalid",
  });
}

/** Parse and shape-check a document. No trust decision is made here. */
export function parseAttestationDocument(bytes: Uint8Array): AttestationDocument {
  if (bytes.length > MAX_DOCUMENT_BYTES) {
    throw new AttestationParseError("TOO_LARGE", ACTION, {
      expected: `at most ${MAX_DOCUMENT_BYTES} bytes`,
      actual: `${bytes.length} bytes`,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new AttestationParseError("INVALID_SYNTAX", ACTION, { expected: "UTF-8 JSON", cause });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new AttestationParseError("INVALID_SCHEMA", ACTION, { expected: "a JSON object" });
  }
  // Check the version first so that a future format yields UNSUPPORTED_VERSION, not a schema error.
  const version = (value as Record<string, unknown>)["version"];
  if (version !== DOCUMENT_VERSION) {
    throw new AttestationParseError("UNSUPPORTED_VERSION", ACTION, {
      expected: `version ${DOCUMENT_VERSION}`,
      actual: JSON.stringify(version ?? null).slice(0, 32),
    });
  }
  // valibot's record() accepts arrays; evidence must be a plain object.
  if (Array.isArray((value as Record<string, unknown>)["evidence"])) {
    throw new AttestationParseError("INVALID_SCHEMA", ACTION, {
      expected: "evidence object",
      actual: "array",
    });
  }
  const r = v.safeParse(AttestationDocumentSchema, value);
  if (!r.success) throw schemaError(ACTION, "{version, variant, userData, nonce, evidence}", r.issues);
  const doc = r.output;
  if (!isVariant(doc.variant)) {
    throw new AttestationParseError("UNKNOWN_VARIANT", ACTION, {
      expected: "a registered variant",
      actual: JSON.stringify(doc.variant.slice(0, 40)),
    });
  }
  return {
    version: DOCUMENT_VERSION,
    variant: doc.variant,
    userData: decodeBase64Field("userData", doc.userData, USER_DATA_BYTES),
    nonce: decodeBase64Field("nonce", doc.nonce, NONCE_BYTES),
    evidence: doc.evidence,
  };
}

/** Serialize a document to UTF-8 JSON bytes (what {@link parseAttestationDocument} reads). */
export function serializeAttestationDocument(doc: Omit<AttestationDocument, "version">): Uint8Array {
  const json = {
    version: DOCUMENT_VERSION,
    variant: doc.variant,
    userData: toBase64(doc.userData),
    nonce: toBase64(doc.nonce),
    evidence: doc.evidence,
  };
  return new TextEncoder().encode(JSON.stringify(json));
}
