/**
 * valibot building blocks shared by changes, approvals and audit entries. Every string that is an
 * identifier has one spelling (lower-case hex, canonical unpadded base64url), so equal values are equal
 * strings and hashes of canonical JSON are stable.
 */
import { fromBase64Url, toBase64Url } from "@asterism/bytes";
import * as v from "valibot";
import { OwnerParseError } from "./errors.ts";

/** 32 bytes as 64 lower-case hex digits (digests, cluster IDs). */
export const Hex32Schema = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits"));

function isCanonicalBase64Url(s: string): boolean {
  try {
    return toBase64Url(fromBase64Url(s)) === s;
  } catch {
    return false;
  }
}

/** Canonical unpadded base64url of 1 to `maxBytes` bytes. */
export function base64UrlSchema(maxBytes: number) {
  return v.pipe(
    v.string(),
    v.minLength(2),
    v.maxLength(Math.ceil((maxBytes * 4) / 3)),
    v.check(isCanonicalBase64Url, "must be canonical unpadded base64url"),
  );
}

/** WebAuthn Level 3 §5.4.3 caps credential IDs at 1023 bytes. */
export const MAX_CREDENTIAL_ID_BYTES = 1023;
/** A COSE public key; RSA-4096 (the largest we accept) is about 550 bytes. */
export const MAX_PUBLIC_KEY_BYTES = 2048;
/** Authenticator data of an assertion: 37 bytes plus optional extensions. */
export const MAX_AUTHENTICATOR_DATA_BYTES = 1024;
/** DER ECDSA, Ed25519 or RSA-4096 signatures. */
export const MAX_SIGNATURE_BYTES = 1024;

/** Printable text without control characters (names, labels, reasons): safe in logs and UIs. */
export function textSchema(max: number) {
  return v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(max),
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse them
    v.regex(/^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/, "must not contain control characters"),
  );
}

/** Seconds-precision UTC RFC 3339 time, e.g. `2026-11-25T10:00:00Z`. */
export const TimeSchema = v.pipe(
  v.string(),
  v.regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/,
    "must be RFC 3339 UTC with seconds, e.g. 2026-01-01T00:00:00Z",
  ),
  v.check((s) => formatTime(new Date(s)) === s, "must be a valid time"),
);

/** Format a date as {@link TimeSchema} expects (milliseconds truncated). */
export function formatTime(d: Date): string {
  return Number.isNaN(d.getTime()) ? "invalid" : `${d.toISOString().slice(0, 19)}Z`;
}

/** Kubernetes node names (DNS-1123 subdomain). */
export const NodeNameSchema = v.pipe(
  v.string(),
  v.maxLength(253),
  v.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a DNS-1123 name"),
);

/** A LUKS2 UUID in lower case (the id of a node's state disk, as the KMS names its key). */
export const DiskUuidSchema = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "must be a lower-case UUID"),
);

/** Run a schema and turn its first issue into an {@link OwnerParseError}. */
export function parseWith<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  what: string,
): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const path = v.getDotPath(issue);
  throw new OwnerParseError("INVALID_SCHEMA", `Cannot parse ${what}`, {
    expected: issue.expected ?? "a valid value",
    actual: `${issue.message}${path ? ` at ${path}` : ""}`,
  });
}
