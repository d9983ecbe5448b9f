/**
 * The two signed WebAuthn structures an approval carries, parsed before the signature is checked so a
 * refusal can say exactly which check failed (wrong change, wrong site, no user verification, replay)
 * instead of one opaque "did not verify".
 */
import { fromBase64Url } from "@asterism/bytes";
import {
  bits,
  bytes,
  CodecError,
  constant,
  decode,
  decodePrefix,
  type Infer,
  refine,
  sized,
  sizedOf,
  struct,
  u8,
  u32,
} from "@asterism/codec";
import * as v from "valibot";
import { OwnerParseError } from "./errors.ts";

/**
 * WebAuthn Level 3 §6.1 "Authenticator Data", fixed part:
 *
 * ```
 * rpIdHash   32  SHA-256 of the RP ID the credential is scoped to
 * flags       1  bit 0 UP, bit 2 UV, bit 3 BE, bit 4 BS, bit 6 AT, bit 7 ED (bits 1 and 5 RFU)
 * signCount   4  big-endian signature counter
 * ```
 *
 * Followed by attestedCredentialData (AT) and a CBOR extensions map (ED). RFU bits are ignored, as the
 * spec asks of relying parties.
 */
export const AuthenticatorData = struct("authenticatorData", {
  rpIdHash: bytes(32),
  flags: bits(
    u8,
    { ED: [7, 7], AT: [6, 6], BS: [4, 4], BE: [3, 3], UV: [2, 2], UP: [0, 0] },
    { name: "authenticatorData.flags", allowUnnamed: 0b0010_0010n },
  ),
  signCount: u32,
});

/** The fields of authenticator data an approval depends on. */
export interface AssertionAuthenticatorData {
  readonly rpIdHash: Uint8Array;
  readonly userPresent: boolean;
  readonly userVerified: boolean;
  readonly signCount: number;
}

/**
 * Parse authenticator data from an assertion (navigator.credentials.get). AT must be clear (§6.1: only
 * registrations carry attested credential data); bytes after the fixed part are allowed only when ED
 * says extensions follow (their content is not used).
 */
export function parseAssertionAuthenticatorData(raw: Uint8Array): AssertionAuthenticatorData {
  const action = "Cannot parse assertion authenticator data";
  let parsed: { value: Infer<typeof AuthenticatorData>; rest: Uint8Array };
  try {
    parsed = decodePrefix(AuthenticatorData, raw);
  } catch (cause) {
    if (!(cause instanceof CodecError)) throw cause;
    throw new OwnerParseError("INVALID_AUTHENTICATOR_DATA", action, {
      expected: "at least 37 bytes",
      actual: `${raw.length} bytes`,
      cause,
    });
  }
  const { value: d, rest } = parsed;
  if (d.flags.AT === 1) {
    throw new OwnerParseError("INVALID_AUTHENTICATOR_DATA", action, {
      expected: "AT flag clear in an assertion",
      actual: "AT set",
    });
  }
  if (rest.length > 0 && d.flags.ED !== 1) {
    throw new OwnerParseError("INVALID_AUTHENTICATOR_DATA", action, {
      expected: "37 bytes (no extensions flagged)",
      actual: `${raw.length} bytes`,
    });
  }
  return {
    rpIdHash: d.rpIdHash,
    userPresent: d.flags.UP === 1,
    userVerified: d.flags.UV === 1,
    signCount: d.signCount,
  };
}

/** Client data is a few hundred bytes; anything far larger is not from a browser. */
export const MAX_CLIENT_DATA_BYTES = 4096;

/**
 * WebAuthn Level 3 §5.8.1 CollectedClientData, the members we check. Browsers add others
 * (`other_keys_can_be_added_here`, `tokenBinding`); they are ignored, not refused.
 */
const ClientDataSchema = v.looseObject({
  type: v.string(),
  challenge: v.string(),
  origin: v.string(),
  crossOrigin: v.optional(v.boolean()),
  topOrigin: v.optional(v.string()),
});

/** The checked members of clientDataJSON. */
export interface ClientData {
  readonly type: string;
  /** The challenge the browser was given, decoded from base64url. */
  readonly challenge: Uint8Array;
  readonly origin: string;
  readonly crossOrigin: boolean;
}

/** Parse clientDataJSON bytes (UTF-8 JSON, as the browser serialized it; the signature covers its hash). */
export function parseClientData(raw: Uint8Array): ClientData {
  const action = "Cannot parse clientDataJSON";
  if (raw.length > MAX_CLIENT_DATA_BYTES) {
    throw new OwnerParseError("TOO_LARGE", action, {
      expected: `at most ${MAX_CLIENT_DATA_BYTES} bytes`,
      actual: `${raw.length} bytes`,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch (cause) {
    throw new OwnerParseError("INVALID_SYNTAX", action, { expected: "UTF-8 JSON", cause });
  }
  const r = v.safeParse(ClientDataSchema, value);
  if (!r.success) {
    throw new OwnerParseError("INVALID_SCHEMA", action, {
      expected: "{type, challenge, origin}",
      actual: r.issues[0].message,
    });
  }
  let challenge: Uint8Array;
  try {
    challenge = fromBase64Url(r.output.challenge);
  } catch (cause) {
    throw new OwnerParseError("INVALID_SCHEMA", action, { expected: "a base64url challenge", cause });
  }
  return {
    type: r.output.type,
    challenge,
    origin: r.output.origin,
    crossOrigin: r.output.crossOrigin === true,
  };
}

/**
 * A DER INTEGER holding a positive value of at most 32 bytes (X.690 §8.3, §10): minimal encoding — no
 * leading zero byte unless the next byte has its top bit set — and never negative or zero.
 */
const PositiveInteger32 = refine(
  struct("INTEGER", { tag: constant(u8, 0x02), value: sized(u8, { max: 33, name: "INTEGER.value" }) }),
  ({ value: b }) =>
    b.length > 0 &&
    (b[0] as number) < 0x80 &&
    !(b[0] === 0 && (b.length === 1 || (b[1] as number) < 0x80)) &&
    (b[0] === 0 ? b.length <= 33 : b.length <= 32),
  "a minimal DER encoding of a positive integer below 2^256",
);

/**
 * RFC 3279 §2.2.3 `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` in DER, the encoding WebAuthn
 * requires for ES256 (§6.5.6). Lengths are short-form (the whole value is at most 72 bytes).
 */
export const EcdsaSigValue = struct("ECDSA-Sig-Value", {
  tag: constant(u8, 0x30),
  body: sizedOf(u8, struct("ECDSA-Sig-Value.body", { r: PositiveInteger32, s: PositiveInteger32 }), {
    max: 70,
  }),
});

/**
 * Refuse signature encodings a lenient decoder would accept for the same (r, s): @simplewebauthn/server
 * 14 verifies a DER signature whose SEQUENCE tag or length byte was altered, so without this check one
 * approval could be stored as many byte strings (and an audit entry re-hashed by anyone). Ed25519
 * signatures are exactly 64 bytes (RFC 8032 §5.1.6).
 */
export function checkSignatureEncoding(alg: number, signature: Uint8Array): void {
  const action = "Cannot parse approval signature";
  if (alg === -8) {
    if (signature.length !== 64)
      throw new OwnerParseError("INVALID_SIGNATURE_ENCODING", action, {
        expected: "64 bytes (Ed25519)",
        actual: `${signature.length} bytes`,
      });
    return;
  }
  if (alg !== -7) return; // RS256: PKCS#1 v1.5 signatures have one encoding per modulus size
  try {
    decode(EcdsaSigValue, signature);
  } catch (cause) {
    if (!(cause instanceof CodecError)) throw cause;
    throw new OwnerParseError("INVALID_SIGNATURE_ENCODING", action, {
      expected: "DER ECDSA-Sig-Value (RFC 3279 §2.2.3)",
      actual: cause.code,
      cause,
    });
  }
}
