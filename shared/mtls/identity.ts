import { MtlsError } from "./errors.ts";

/** Scheme of service identities carried in a certificate's SAN URI. */
export const IDENTITY_SCHEME = "asterism://";
/** Service names: lower-case DNS-label style, at most 63 characters. */
export const SERVICE_NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;

/** Well-known service identities. */
export const SERVICE_IDENTITIES = {
  joinService: "asterism://join-service",
  bootstrapper: "asterism://bootstrapper",
  kms: "asterism://kms",
} as const;

/** `asterism://<name>` for a valid service name. */
export function identityUri(name: string): string {
  if (!SERVICE_NAME_RE.test(name)) {
    throw new MtlsError("INVALID_IDENTITY", "Cannot build service identity", {
      expected: SERVICE_NAME_RE.source,
      actual: JSON.stringify(name.slice(0, 64)),
    });
  }
  return IDENTITY_SCHEME + name;
}

/** The service name of an identity URI, or undefined if it is not exactly `asterism://<name>`. */
export function parseIdentityUri(uri: string): string | undefined {
  if (!uri.startsWith(IDENTITY_SCHEME)) return undefined;
  const name = uri.slice(IDENTITY_SCHEME.length);
  return SERVICE_NAME_RE.test(name) ? name : undefined;
}
