import type { TLSSocket } from "node:tls";
import type { Issuer, Validator } from "@asterism/attestation";
import { DEFAULT_LIFETIME_MS, DEFAULT_MAX_VALIDITY_MS, DEFAULT_NOT_BEFORE_SKEW_MS } from "./certificate.ts";
import { AtlsError } from "./errors.ts";
import {
  DEFAULT_ATTESTATION_TIMEOUT_MS,
  DEFAULT_MAX_EVIDENCE_BYTES,
  MAX_EVIDENCE_BYTES_LIMIT,
} from "./evidence.ts";

/**
 * Who proves what on a connection:
 * - `server-attested`: the server's certificate carries evidence for the client's SNI nonce; the client
 *   proves nothing (CLI → bootstrapper init, recovery).
 * - `client-attested`: the client sends evidence bound to the TLS exporter; the server presents a fresh
 *   self-signed certificate that authenticates nothing (joining node → JoinService).
 * - `mutual`: both (KMS, node ↔ node).
 */
export type AtlsMode = "server-attested" | "client-attested" | "mutual";

/** RFC 9266 §2: the label of the `tls-exporter` channel binding. */
export const CHANNEL_BINDING_LABEL = "EXPORTER-Channel-Binding";
/** RFC 9266 §2: the exporter value is 32 bytes. */
export const CHANNEL_BINDING_BYTES = 32;
/**
 * The exporter context. RFC 9266 uses none; in TLS 1.3 an empty context and no context give the same
 * value (RFC 8446 §7.5), and Node's typings require the argument.
 */
export const NO_CONTEXT: Buffer = Buffer.alloc(0);
/**
 * Read the RFC 9266 channel binding of `socket`. Bun returns undefined once the socket has closed; an
 * empty or short value must never become a nonce, so that is an error.
 */
export function channelBinding(socket: TLSSocket): Uint8Array {
  const v = socket.exportKeyingMaterial(CHANNEL_BINDING_BYTES, CHANNEL_BINDING_LABEL, NO_CONTEXT) as
    | Buffer
    | undefined;
  if (v === undefined || v.length !== CHANNEL_BINDING_BYTES)
    throw new AtlsError("CONNECTION_CLOSED", "Cannot read the TLS channel binding", {
      expected: `${CHANNEL_BINDING_BYTES} bytes of EXPORTER-Channel-Binding`,
      actual: v === undefined ? "none (connection closed)" : `${v.length} bytes`,
    });
  return new Uint8Array(v);
}

/** Default time for the TLS handshake (server: from TCP accept; client: from connect). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** True when the server side presents evidence in this mode. */
export function serverAttests(mode: AtlsMode): boolean {
  return mode === "server-attested" || mode === "mutual";
}

/** True when the client side presents evidence in this mode. */
export function clientAttests(mode: AtlsMode): boolean {
  return mode === "client-attested" || mode === "mutual";
}

/** Options both ends share. */
export interface AtlsCommonOptions {
  readonly mode: AtlsMode;
  /** Produces this side's evidence; required when this side attests. */
  readonly issuer?: Issuer;
  /** Accepted peer variants, chosen by extension OID; required when the peer attests. */
  readonly validators?: readonly Validator[];
  /** Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Bound on issuing, receiving and validating evidence, each. Default 30 s. */
  readonly attestationTimeoutMs?: number;
  /** Bound on one attestation document. Default 128 KiB, at most 1 MiB (see DEFAULT_MAX_EVIDENCE_BYTES). */
  readonly maxEvidenceBytes?: number;
  /** Clock for certificate validity (injected in tests). */
  readonly now?: () => Date;
  /** notAfter − now of minted certificates. Default 10 min. */
  readonly certificateLifetimeMs?: number;
  /** now − notBefore of minted certificates. Default 1 min. */
  readonly notBeforeSkewMs?: number;
  /** Longest validity accepted on a peer certificate. Default 15 min. */
  readonly maxCertificateValidityMs?: number;
}

/** Common options with defaults applied and the mode's requirements checked. */
export interface ResolvedCommon {
  readonly mode: AtlsMode;
  readonly issuer: Issuer | undefined;
  readonly validators: readonly Validator[];
  readonly handshakeTimeoutMs: number;
  readonly attestationTimeoutMs: number;
  readonly maxEvidenceBytes: number;
  readonly now: () => Date;
  readonly certificateLifetimeMs: number;
  readonly notBeforeSkewMs: number;
  readonly maxCertificateValidityMs: number;
}

/** Apply defaults; `self` says which side we are, to know who must attest. */
export function resolveCommon(o: AtlsCommonOptions, self: "server" | "client"): ResolvedCommon {
  const iAttest = self === "server" ? serverAttests(o.mode) : clientAttests(o.mode);
  const peerAttests = self === "server" ? clientAttests(o.mode) : serverAttests(o.mode);
  if (iAttest && o.issuer === undefined)
    throw new AtlsError("INVALID_OPTIONS", `Cannot set up the aTLS ${self}`, {
      expected: `an issuer in ${o.mode} mode`,
      actual: "none",
    });
  if (peerAttests && (o.validators === undefined || o.validators.length === 0))
    throw new AtlsError("INVALID_OPTIONS", `Cannot set up the aTLS ${self}`, {
      expected: `at least one validator in ${o.mode} mode`,
      actual: "none",
    });
  const maxEvidenceBytes = o.maxEvidenceBytes ?? DEFAULT_MAX_EVIDENCE_BYTES;
  if (
    !Number.isInteger(maxEvidenceBytes) ||
    maxEvidenceBytes < 1 ||
    maxEvidenceBytes > MAX_EVIDENCE_BYTES_LIMIT
  )
    throw new AtlsError("INVALID_OPTIONS", `Cannot set up the aTLS ${self}`, {
      expected: `maxEvidenceBytes in 1..${MAX_EVIDENCE_BYTES_LIMIT}`,
      actual: String(maxEvidenceBytes),
    });
  return {
    mode: o.mode,
    issuer: iAttest ? o.issuer : undefined,
    validators: peerAttests ? (o.validators ?? []) : [],
    handshakeTimeoutMs: positive(
      o.handshakeTimeoutMs,
      DEFAULT_HANDSHAKE_TIMEOUT_MS,
      "handshakeTimeoutMs",
      self,
    ),
    attestationTimeoutMs: positive(
      o.attestationTimeoutMs,
      DEFAULT_ATTESTATION_TIMEOUT_MS,
      "attestationTimeoutMs",
      self,
    ),
    maxEvidenceBytes,
    now: o.now ?? (() => new Date()),
    certificateLifetimeMs: positive(
      o.certificateLifetimeMs,
      DEFAULT_LIFETIME_MS,
      "certificateLifetimeMs",
      self,
    ),
    notBeforeSkewMs: o.notBeforeSkewMs ?? DEFAULT_NOT_BEFORE_SKEW_MS,
    maxCertificateValidityMs: positive(
      o.maxCertificateValidityMs,
      DEFAULT_MAX_VALIDITY_MS,
      "maxCertificateValidityMs",
      self,
    ),
  };
}

/** A positive finite number option with its default. */
export function positive(v: number | undefined, dflt: number, name: string, self: string): number {
  const n = v ?? dflt;
  if (!Number.isFinite(n) || n <= 0)
    throw new AtlsError("INVALID_OPTIONS", `Cannot set up the aTLS ${self}`, {
      expected: `${name} > 0`,
      actual: String(n),
    });
  return n;
}

/** Map a TLS-layer error from Node/Bun (OpenSSL/BoringSSL codes) to an aTLS code. */
export function tlsErrorCode(
  err: unknown,
): "HANDSHAKE_TIMEOUT" | "TLS_VERSION_REJECTED" | "EVIDENCE_TOO_LARGE" | "HANDSHAKE_FAILED" {
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  if (code === "ERR_TLS_HANDSHAKE_TIMEOUT") return "HANDSHAKE_TIMEOUT";
  // BoringSSL caps one handshake message at 100 KiB; between aTLS peers only a certificate carrying an
  // oversized attestation document reaches that.
  if (code === "ERR_SSL_EXCESSIVE_MESSAGE_SIZE") return "EVIDENCE_TOO_LARGE";
  if (code === "ERR_SSL_UNSUPPORTED_PROTOCOL" || code.includes("PROTOCOL_VERSION"))
    return "TLS_VERSION_REJECTED";
  return "HANDSHAKE_FAILED";
}
