/**
 * Verifying vTPM evidence (authenticity and binding), the equivalent of go-tpm-tools `VerifyAttestation`
 * used by every Constellation vTPM variant (reference §5.1 "Validate" step 4):
 *
 * 1. the AK is trusted: pinned keys, or an AK certificate chaining to a trusted root whose key IS the AK,
 *    or — only where the variant has nothing better (qemu-vtpm, aws-nitro-tpm) — unconditionally;
 * 2. every quote over an accepted bank verifies: AK signature over the exact TPMS_ATTEST bytes,
 *    extraData = the expected qualifying data (exact length, constant time), pcrDigest = the PCR values;
 * 3. SHA-1 banks and SHA-1 signatures are ignored unless explicitly allowed; with nothing else left the
 *    evidence fails with HASH_NOT_ALLOWED (go-tpm-tools "SHA-1 is not allowed for verification");
 * 4. the event log, when present, replays to the quoted values of every PCR it touches.
 *
 * Measurements policy is NOT applied here (validate stage, in the variants).
 */
import { toHex } from "@asterism/bytes";
import type { Certificate } from "@asterism/pki";
import {
  type EventLog,
  EventLogError,
  hashInfo,
  matchEventLog,
  type PcrBanks,
  parseEventLog,
  parseTpmtPublic,
  QuoteVerificationError,
  type TPMT_PUBLIC,
  verifyQuote,
} from "@asterism/tpm";
import { AttestationParseError, AttestationVerifyError } from "../errors.ts";
import { type AkCertTrust, verifyAkCertificate } from "./ak-cert.ts";
import { akSpki, sameKey } from "./ak-key.ts";
import type { PcrBankName, VtpmEvidence } from "./evidence.ts";

/** How the verifier decides to trust the attestation key. */
export type AkTrust =
  /** Pinned AK public keys (DER SubjectPublicKeyInfo). */
  | { readonly kind: "keys"; readonly spkis: readonly Uint8Array[] }
  /** An AK certificate chaining to these roots (GCE: Google's EK/AK CA). */
  | { readonly kind: "certificate"; readonly trust: AkCertTrust }
  /**
   * Take the AK from the evidence. Only a dev/test variant or a platform with no AK provenance may do
   * this; the result reports the identity as unverified. `reason` is shown in warnings.
   */
  | { readonly kind: "unconditional"; readonly reason: string };

/** Options of {@link verifyVtpmEvidence}. */
export interface VtpmVerifyOptions {
  /** The expected TPMS_ATTEST.extraData (qualifying data). */
  readonly qualifyingData: Uint8Array;
  readonly akTrust: AkTrust;
  /** Accept SHA-1 banks/signatures (go-tpm-tools `AllowSHA1`); never for production policies. */
  readonly allowSha1?: boolean;
  /** Certificate validity time. */
  readonly now: Date;
}

/** What verified vTPM evidence proves. */
export interface VerifiedVtpm {
  readonly ak: TPMT_PUBLIC;
  /** DER SubjectPublicKeyInfo of the AK. */
  readonly akSpki: Uint8Array;
  /** False when the AK was taken on faith. */
  readonly akTrusted: boolean;
  readonly akCert?: Certificate;
  /** Authenticated PCR values by bank, only from verified quotes. */
  readonly banks: ReadonlyMap<PcrBankName, ReadonlyMap<number, Uint8Array>>;
  /** Quotes skipped because their bank or hash is not allowed. */
  readonly ignoredBanks: readonly PcrBankName[];
  /** True when an event log was present and replayed to the quoted values. */
  readonly eventLogVerified: boolean;
  /** The event log, only when it replayed to the quoted PCRs (its events are then as trustworthy as the quote). */
  readonly eventLog?: EventLog;
  /** Quoted PCRs (per bank) the log explains. */
  readonly explainedPcrs?: ReadonlyMap<PcrBankName, readonly number[]>;
}

/** Banks go-tpm-tools verifies (SHA-512 gives "does not contain a supported quote"). */
const SUPPORTED_BANKS: readonly PcrBankName[] = ["sha256", "sha384"];

const QUOTE_CODE_MAP: Readonly<
  Record<string, "QUOTE_SIGNATURE_INVALID" | "BINDING_MISMATCH" | "PCR_DIGEST_MISMATCH">
> = {
  SIGNATURE_INVALID: "QUOTE_SIGNATURE_INVALID",
  SCHEME_MISMATCH: "QUOTE_SIGNATURE_INVALID",
  NONCE_MISMATCH: "BINDING_MISMATCH",
  PCR_DIGEST_MISMATCH: "PCR_DIGEST_MISMATCH",
};

function mapQuoteError(bank: PcrBankName, err: unknown): never {
  if (err instanceof QuoteVerificationError) {
    if (err.code === "MALFORMED") {
      throw new AttestationParseError("INVALID_EVIDENCE", `Cannot parse the ${bank} quote`, {
        actual: err.message,
        cause: err,
      });
    }
    const code = QUOTE_CODE_MAP[err.code] ?? "QUOTE_INVALID";
    throw new AttestationVerifyError(code, `The ${bank} quote does not verify`, {
      ...(err.expected !== undefined ? { expected: err.expected } : {}),
      actual: `${err.code}${err.actual !== undefined ? `: ${err.actual}` : ""}`,
      cause: err,
    });
  }
  throw err;
}

/**
 * Parsed AKs by their exact bytes. A verifier sees the same few AKs again and again (every node re-attests);
 * returning the same parsed object lets the TPM module reuse its imported WebCrypto key (cached per
 * object) and us reuse the SPKI. Bounded; entries are immutable values derived only from the bytes.
 */
const AK_CACHE_MAX = 256;
const akCache = new Map<string, { ak: TPMT_PUBLIC; spki: Uint8Array }>();

function parseAkCached(bytes: Uint8Array): { ak: TPMT_PUBLIC; spki: Uint8Array } {
  const k = toHex(bytes);
  const hit = akCache.get(k);
  if (hit) return hit;
  const ak = parseAk(bytes);
  const entry = { ak, spki: akSpki(ak) };
  if (akCache.size >= AK_CACHE_MAX) akCache.delete(akCache.keys().next().value as string);
  akCache.set(k, entry);
  return entry;
}

function parseAk(bytes: Uint8Array): TPMT_PUBLIC {
  try {
    return parseTpmtPublic(bytes);
  } catch (cause) {
    throw new AttestationParseError("INVALID_EVIDENCE", "Cannot parse the attestation key (TPMT_PUBLIC)", {
      actual: cause instanceof Error ? cause.message : undefined,
      cause,
    });
  }
}

async function trustAk(
  evidence: VtpmEvidence,
  spki: Uint8Array,
  trust: AkTrust,
  now: Date,
): Promise<{ trusted: boolean; cert?: Certificate }> {
  switch (trust.kind) {
    case "unconditional":
      return { trusted: false };
    case "keys": {
      if (trust.spkis.some((k) => sameKey(spki, k))) return { trusted: true };
      throw new AttestationVerifyError("AK_UNTRUSTED", "The attestation key is not one of the trusted keys", {
        expected: `one of ${trust.spkis.length} pinned key(s)`,
        actual: `SHA-256(SPKI) ${new Bun.CryptoHasher("sha256").update(spki).digest("hex")}`,
      });
    }
    case "certificate": {
      if (evidence.akCert === undefined) {
        throw new AttestationVerifyError("AK_UNTRUSTED", "The evidence carries no AK certificate", {
          expected: "an AK certificate chaining to a trusted root",
        });
      }
      const cert = await verifyAkCertificate(evidence.akCert, trust.trust, evidence.intermediates, now);
      // The certificate vouches for ITS key; the quotes must be signed by exactly that key
      // (go-tpm-tools TestVerifyIgnoreAKPubWithAKCert).
      if (!sameKey(spki, cert.spki)) {
        throw new AttestationVerifyError("AK_MISMATCH", "The AK certificate is for another key than the AK", {
          expected: "akPublic = the certificate's public key",
        });
      }
      return { trusted: true, cert };
    }
  }
}

/** Verify vTPM evidence; throws a coded error, returns only authenticated values. */
export async function verifyVtpmEvidence(
  evidence: VtpmEvidence,
  opts: VtpmVerifyOptions,
): Promise<VerifiedVtpm> {
  const { ak, spki } = parseAkCached(evidence.akPublic);
  const { trusted, cert } = await trustAk(evidence, spki, opts.akTrust, opts.now);

  const allowed = opts.allowSha1 ? [...SUPPORTED_BANKS, "sha1"] : SUPPORTED_BANKS;
  const banks = new Map<PcrBankName, ReadonlyMap<number, Uint8Array>>();
  const ignored: PcrBankName[] = [];
  let sha1Seen = false;
  for (const q of evidence.quotes) {
    if (!allowed.includes(q.bank)) {
      if (q.bank === "sha1") sha1Seen = true;
      ignored.push(q.bank);
      continue;
    }
    const alg = hashInfo(q.bank)?.alg as number;
    const pcrs: PcrBanks = new Map([[alg, new Map(q.pcrs)]]);
    let verified: Awaited<ReturnType<typeof verifyQuote>>;
    try {
      verified = await verifyQuote({
        akPublic: ak,
        attest: q.attest,
        signature: q.signature,
        nonce: opts.qualifyingData,
        pcrs,
      });
    } catch (err) {
      mapQuoteError(q.bank, err);
    }
    if (!verified.pcrDigestChecked) {
      // Defence in depth: we always pass the PCR values, so the TPM module must have checked pcrDigest.
      throw new AttestationVerifyError(
        "PCR_DIGEST_MISMATCH",
        `The ${q.bank} quote's PCR digest was not checked`,
      );
    }
    if (verified.signatureHash.name === "sha1" && !opts.allowSha1) {
      throw new AttestationVerifyError("HASH_NOT_ALLOWED", `The ${q.bank} quote is signed with SHA-1`, {
        expected: "a SHA-256 or stronger signature",
      });
    }
    banks.set(q.bank, q.pcrs);
  }
  if (banks.size === 0) {
    if (sha1Seen) {
      throw new AttestationVerifyError("HASH_NOT_ALLOWED", "SHA-1 is not allowed for verification", {
        expected: `a quote over ${SUPPORTED_BANKS.join(" or ")}`,
        actual: "only SHA-1",
      });
    }
    throw new AttestationVerifyError("NO_SUPPORTED_QUOTE", "The evidence contains no supported quote", {
      expected: `a quote over ${allowed.join(" or ")}`,
      actual: evidence.quotes.map((q) => q.bank).join(", "),
    });
  }
  const replayed = evidence.eventLog !== undefined ? replayAgainst(evidence.eventLog, banks) : undefined;
  return {
    ak,
    akSpki: spki,
    akTrusted: trusted,
    ...(cert ? { akCert: cert } : {}),
    banks,
    ignoredBanks: ignored,
    eventLogVerified: replayed !== undefined,
    ...(replayed ? { eventLog: replayed.log, explainedPcrs: replayed.explained } : {}),
  };
}

/** The authenticated SHA-256 bank as lower-case hex by index (for claims and policy). */
export function sha256Values(v: VerifiedVtpm): Record<number, string> {
  const bank = v.banks.get("sha256");
  const out: Record<number, string> = {};
  if (bank) for (const [i, val] of bank) out[i] = toHex(val);
  return out;
}

/**
 * Parse the event log and require it to replay to the authenticated PCR values of every bank both the
 * log and the quotes have (go-tpm-tools replays against the quoted PCRs the same way). A log that does
 * not replay is rejected as a whole, never partially trusted.
 */
function replayAgainst(
  bytes: Uint8Array,
  banks: ReadonlyMap<PcrBankName, ReadonlyMap<number, Uint8Array>>,
): { log: EventLog; explained: Map<PcrBankName, readonly number[]> } {
  let log: EventLog;
  try {
    log = parseEventLog(bytes);
  } catch (cause) {
    throw new AttestationParseError("INVALID_EVIDENCE", "Cannot parse the event log", {
      actual: cause instanceof Error ? cause.message : undefined,
      cause,
    });
  }
  const quoted: PcrBanks = new Map();
  for (const [bank, values] of banks) {
    const alg = hashInfo(bank)?.alg;
    if (alg !== undefined && log.algorithms.has(alg)) quoted.set(alg, new Map(values));
  }
  if (quoted.size === 0) {
    throw new AttestationVerifyError("EVENT_LOG_MISMATCH", "The event log has none of the quoted banks", {
      expected: [...banks.keys()].join(", "),
      actual: [...log.algorithms.keys()].map((a) => hashInfo(a)?.name ?? `0x${a.toString(16)}`).join(", "),
    });
  }
  try {
    const m = matchEventLog(log, quoted);
    const explained = new Map<PcrBankName, readonly number[]>();
    for (const [alg, pcrs] of m.explained) {
      const name = hashInfo(alg)?.name;
      if (name) explained.set(name, [...pcrs.keys()]);
    }
    return { log, explained };
  } catch (cause) {
    if (cause instanceof EventLogError && cause.code === "REPLAY_MISMATCH") {
      throw new AttestationVerifyError(
        "EVENT_LOG_MISMATCH",
        "The event log does not replay to the quoted PCRs",
        {
          ...(cause.expected !== undefined ? { expected: cause.expected } : {}),
          actual: cause.message,
          cause,
        },
      );
    }
    if (cause instanceof EventLogError) {
      throw new AttestationParseError("INVALID_EVIDENCE", "Cannot replay the event log", {
        actual: cause.message,
        cause,
      });
    }
    throw cause;
  }
}
