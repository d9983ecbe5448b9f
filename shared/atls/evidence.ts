import {
  type Issuer,
  VARIANTS,
  type Validator,
  type Variant,
  type VerifiedClaims,
  variantByOid,
} from "@asterism/attestation";
import { constantTimeEqual, toHex } from "@asterism/bytes";
import type { PeerExtension } from "./certificate.ts";
import { withDeadline } from "./deadline.ts";
import { AtlsError } from "./errors.ts";

/**
 * Default bound on one attestation document. A vTPM document with three PCR banks and a firmware event
 * log is 40–120 KiB (@asterism/attestation `MAX_DOCUMENT_BYTES` notes). In server-attested mode the
 * document travels in the certificate, and Bun's BoringSSL refuses any handshake message above 100 KiB
 * (measured: 99 KiB passes, 101 KiB fails with ERR_SSL_EXCESSIVE_MESSAGE_SIZE), so server evidence must
 * stay under about 99 KiB whatever this bound says; client evidence frames have no such ceiling.
 */
export const DEFAULT_MAX_EVIDENCE_BYTES = 128 * 1024;
/** Hard ceiling for `maxEvidenceBytes`: the attestation module's own document bound (1 MiB). */
export const MAX_EVIDENCE_BYTES_LIMIT = 1024 * 1024;
/** Default time a validator (or issuer) may take: Constellation uses 30 s for network-backed variants. */
export const DEFAULT_ATTESTATION_TIMEOUT_MS = 30_000;

/** The peer's verified attestation, as handlers and callers see it. */
export interface PeerAttestation {
  readonly variant: Variant;
  /** The validator's claims; `claims.userData` equals `spkiDigest`. */
  readonly claims: VerifiedClaims;
  /** SHA-256 of the peer certificate's SubjectPublicKeyInfo: the key the evidence vouches for. */
  readonly spkiDigest: Uint8Array;
  /** The nonce the evidence is bound to (client's random nonce, or the TLS exporter value). */
  readonly nonce: Uint8Array;
}

/** The OID under which `variant`'s documents travel (the variant registry's). */
export function oidOfVariant(variant: Variant): string {
  return VARIANTS[variant].oid;
}

/** Index validators by extension OID; two validators for one variant are a configuration error. */
export function validatorsByOid(validators: readonly Validator[]): ReadonlyMap<string, Validator> {
  const byOid = new Map<string, Validator>();
  for (const v of validators) {
    const oid = oidOfVariant(v.variant);
    if (byOid.has(oid))
      throw new AtlsError("INVALID_OPTIONS", "Cannot configure aTLS validators", {
        expected: "one validator per variant",
        actual: `two validators for ${v.variant}`,
      });
    byOid.set(oid, v);
  }
  return byOid;
}

/** The set of every attestation OID of the variant registry (these are "understood" when critical). */
export const ATTESTATION_OIDS: ReadonlySet<string> = new Set(Object.values(VARIANTS).map((v) => v.oid));

/**
 * Pick the single attestation extension of a certificate. Extensions under OIDs outside the variant
 * registry are ignored (they carry no trust); exactly one registry OID must be present, and it must be one
 * this side has a validator for.
 */
export function selectEvidence(
  extensions: readonly PeerExtension[],
  validators: ReadonlyMap<string, Validator>,
  maxEvidenceBytes: number,
): { validator: Validator; document: Uint8Array } {
  const found = extensions.filter((e) => variantByOid(e.oid) !== undefined);
  const first = found[0];
  if (first === undefined)
    throw new AtlsError("EVIDENCE_MISSING", "Cannot find attestation evidence in the peer certificate", {
      expected: `an extension under one of ${[...validators.keys()].join(", ")}`,
      actual:
        extensions.length === 0 ? "no extensions" : `extensions ${extensions.map((e) => e.oid).join(", ")}`,
    });
  if (found.length > 1)
    throw new AtlsError("EVIDENCE_AMBIGUOUS", "Cannot choose attestation evidence in the peer certificate", {
      expected: "exactly one attestation extension",
      actual: found.map((e) => e.oid).join(", "),
    });
  return checkDocument(first.oid, first.value, validators, maxEvidenceBytes);
}

/** Check an (OID, document) pair against the accepted validators and the size bound. */
export function checkDocument(
  oid: string,
  document: Uint8Array,
  validators: ReadonlyMap<string, Validator>,
  maxEvidenceBytes: number,
): { validator: Validator; document: Uint8Array } {
  const validator = validators.get(oid);
  if (validator === undefined)
    throw new AtlsError("EVIDENCE_VARIANT_NOT_ACCEPTED", "Cannot validate the peer's attestation evidence", {
      expected: `a variant of ${[...validators.values()].map((v) => v.variant).join(", ") || "(none)"}`,
      actual: `${variantByOid(oid) ?? "unknown variant"} (${oid})`,
    });
  if (document.length > maxEvidenceBytes)
    throw new AtlsError("EVIDENCE_TOO_LARGE", "Cannot accept the peer's attestation evidence", {
      expected: `at most ${maxEvidenceBytes} bytes`,
      actual: `${document.length} bytes`,
    });
  return { validator, document };
}

/**
 * Validate a document for `nonce` and require that it vouches for `spkiDigest`. The validator checks
 * authenticity, the binding extraData = SHA-256(userData ‖ nonce) and policy; aTLS then checks the
 * returned userData, so evidence minted for another key (a relaying man in the middle's) is refused.
 */
export async function validateEvidence(
  validator: Validator,
  document: Uint8Array,
  nonce: Uint8Array,
  spkiDigest: Uint8Array,
  timeoutMs: number,
): Promise<PeerAttestation> {
  let claims: VerifiedClaims;
  try {
    claims = await withDeadline(validator.validate(document, nonce), timeoutMs, () =>
      attestationTimeout(`validating ${validator.variant} evidence`, timeoutMs),
    );
  } catch (cause) {
    if (cause instanceof AtlsError) throw cause;
    throw new AtlsError("EVIDENCE_REJECTED", `Cannot accept the peer's ${validator.variant} evidence`, {
      expected: "evidence the validator accepts",
      actual: describeCause(cause),
      cause,
    });
  }
  if (claims.variant !== validator.variant)
    throw new AtlsError("EVIDENCE_REJECTED", "Cannot accept the peer's evidence", {
      expected: `claims for ${validator.variant}`,
      actual: `claims for ${claims.variant}`,
    });
  if (!constantTimeEqual(claims.userData, spkiDigest))
    throw new AtlsError("EVIDENCE_KEY_MISMATCH", "Cannot accept the peer's evidence for this certificate", {
      expected: `userData = SHA-256(certificate SPKI) = ${toHex(spkiDigest)}`,
      actual: `userData ${toHex(claims.userData)}`,
    });
  return { variant: validator.variant, claims, spkiDigest, nonce };
}

/** Issue evidence with a deadline, mapping failures to `ISSUE_FAILED` / `ATTESTATION_TIMEOUT`. */
export async function issueEvidence(
  issuer: Issuer,
  userData: Uint8Array,
  nonce: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  try {
    return await withDeadline(issuer.issue(userData, nonce), timeoutMs, () =>
      attestationTimeout(`issuing ${issuer.variant} evidence`, timeoutMs),
    );
  } catch (cause) {
    if (cause instanceof AtlsError) throw cause;
    throw new AtlsError("ISSUE_FAILED", `Cannot issue ${issuer.variant} evidence`, {
      actual: describeCause(cause),
      cause,
    });
  }
}

function attestationTimeout(what: string, ms: number): AtlsError {
  return new AtlsError("ATTESTATION_TIMEOUT", `Gave up ${what}`, {
    expected: `done within ${ms} ms`,
    actual: "still running",
  });
}

/** `domain/CODE` of a coded cause (never its message: validators may quote document bytes). */
export function describeCause(cause: unknown): string {
  if (typeof cause === "object" && cause !== null && "code" in cause) {
    const domain = "domain" in cause ? `${String(cause.domain)}/` : "";
    return `${domain}${String(cause.code)}`;
  }
  return cause instanceof Error ? cause.name : "an uncoded failure";
}
