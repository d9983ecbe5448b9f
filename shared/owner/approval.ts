/**
 * Approvals: a WebAuthn assertion (navigator.credentials.get) whose challenge is a change's digest,
 * verified against an enrolled passkey. Each check that can fail has its own code, and the signature is
 * verified by @simplewebauthn/server after ours (belt and braces: it repeats the checks it knows).
 *
 * Spec: WebAuthn Level 3 §7.2 "Verifying an Authentication Assertion".
 */
import { createHash } from "node:crypto";
import { bytesEqual, fromBase64Url, toBase64Url, toHex } from "@asterism/bytes";
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  type PublicKeyCredentialRequestOptionsJSON,
  verifyAuthenticationResponse,
} from "@simplewebauthn/server";
import * as v from "valibot";
import type { OwnerCredential, RelyingParty } from "./change.ts";
import { ApprovalError } from "./errors.ts";
import {
  base64UrlSchema,
  MAX_AUTHENTICATOR_DATA_BYTES,
  MAX_CREDENTIAL_ID_BYTES,
  MAX_SIGNATURE_BYTES,
  parseWith,
} from "./schemas.ts";
import {
  checkSignatureEncoding,
  MAX_CLIENT_DATA_BYTES,
  parseAssertionAuthenticatorData,
  parseClientData,
} from "./webauthn-data.ts";

/**
 * One owner's approval: the assertion exactly as the browser produced it (base64url fields of
 * AuthenticatorAssertionResponse, WebAuthn §5.2.2), plus the credential it came from.
 */
export const ApprovalSchema = v.strictObject({
  credentialId: base64UrlSchema(MAX_CREDENTIAL_ID_BYTES),
  authenticatorData: base64UrlSchema(MAX_AUTHENTICATOR_DATA_BYTES),
  clientDataJSON: base64UrlSchema(MAX_CLIENT_DATA_BYTES),
  signature: base64UrlSchema(MAX_SIGNATURE_BYTES),
  userHandle: v.optional(base64UrlSchema(64)),
});
export type Approval = v.InferOutput<typeof ApprovalSchema>;

/** Validate an untrusted value as an approval (shape only). */
export function parseApproval(value: unknown): Approval {
  return parseWith(ApprovalSchema, value, "approval");
}

/**
 * Turn the JSON a browser's `PublicKeyCredential.toJSON()` gives for an assertion into an approval.
 * Only the assertion fields are kept; client extension results are not part of what owners sign.
 */
export function approvalFromAssertion(json: unknown): Approval {
  const r = parseWith(
    v.looseObject({
      id: v.string(),
      type: v.literal("public-key"),
      response: v.looseObject({
        authenticatorData: v.string(),
        clientDataJSON: v.string(),
        signature: v.string(),
        userHandle: v.optional(v.nullable(v.string())),
      }),
    }),
    json,
    "assertion",
  );
  return parseApproval({
    credentialId: r.id,
    authenticatorData: r.response.authenticatorData,
    clientDataJSON: r.response.clientDataJSON,
    signature: r.response.signature,
    ...(r.response.userHandle ? { userHandle: r.response.userHandle } : {}),
  });
}

/**
 * Is `origin` allowed for the relying party? Exact match, or — for RP ID `localhost` only — any port of
 * `http://localhost` when that origin is listed: the CLI serves its ceremony pages on a fresh port each
 * time, and a passkey scoped to `localhost` is usable by every local page anyway.
 */
export function originAllowed(rp: RelyingParty, origin: string): boolean {
  if (rp.origins.includes(origin)) return true;
  if (rp.id !== "localhost") return false;
  const m = /^http:\/\/localhost:([0-9]{1,5})$/.exec(origin);
  return m !== null && Number(m[1]) > 0 && Number(m[1]) < 65536 && rp.origins.includes("http://localhost");
}

/** What an approval is checked against. */
export interface ApprovalCheck {
  /** The digest of the change (the challenge the passkey must have signed). */
  readonly challenge: Uint8Array;
  readonly credential: OwnerCredential;
  readonly rp: RelyingParty;
  /** Highest signature counter seen for this credential so far (0 if none). */
  readonly counter: number;
}

/** The verified facts of an approval. */
export interface VerifiedApproval {
  readonly credentialId: string;
  readonly signCount: number;
}

const rpIdHash = (id: string) => new Uint8Array(createHash("sha256").update(id, "utf8").digest());

/**
 * Verify one approval. Order follows WebAuthn L3 §7.2: client data (type, challenge, origin), then
 * authenticator data (RP ID hash, UP and UV flags, counter), then the signature over
 * authenticatorData ‖ SHA-256(clientDataJSON).
 *
 * Counter rule (§6.1.1): when either the stored or the new counter is non-zero, the new one must be
 * strictly greater; authenticators that always report 0 (synced passkeys) rely on the change's place in
 * the chain (`previous`, `sequence`) for replay protection instead.
 */
export async function verifyApproval(approval: Approval, check: ApprovalCheck): Promise<VerifiedApproval> {
  const action = "Approval refused";
  if (approval.credentialId !== check.credential.id) {
    throw new ApprovalError("UNKNOWN_CREDENTIAL", action, {
      expected: check.credential.id.slice(0, 16),
      actual: approval.credentialId.slice(0, 16),
    });
  }
  const clientData = parseClientData(fromBase64Url(approval.clientDataJSON));
  if (clientData.type !== "webauthn.get") {
    throw new ApprovalError("WRONG_CEREMONY", action, {
      expected: "webauthn.get",
      actual: JSON.stringify(clientData.type.slice(0, 32)),
    });
  }
  if (!bytesEqual(clientData.challenge, check.challenge)) {
    throw new ApprovalError("CHALLENGE_MISMATCH", `${action}: signed for a different change`, {
      expected: toHex(check.challenge),
      actual: toHex(clientData.challenge).slice(0, 64),
    });
  }
  if (clientData.crossOrigin || !originAllowed(check.rp, clientData.origin)) {
    throw new ApprovalError("ORIGIN_NOT_ALLOWED", action, {
      expected: check.rp.origins.join(", "),
      actual: `${JSON.stringify(clientData.origin.slice(0, 80))}${clientData.crossOrigin ? " (cross-origin frame)" : ""}`,
    });
  }
  const authData = parseAssertionAuthenticatorData(fromBase64Url(approval.authenticatorData));
  if (!bytesEqual(authData.rpIdHash, rpIdHash(check.rp.id))) {
    throw new ApprovalError("RP_ID_MISMATCH", action, {
      expected: `SHA-256(${JSON.stringify(check.rp.id)})`,
      actual: toHex(authData.rpIdHash),
    });
  }
  if (!authData.userPresent || !authData.userVerified) {
    throw new ApprovalError("USER_NOT_VERIFIED", action, {
      expected: "UP and UV flags set",
      actual: `UP=${Number(authData.userPresent)} UV=${Number(authData.userVerified)}`,
    });
  }
  if ((authData.signCount > 0 || check.counter > 0) && authData.signCount <= check.counter) {
    throw new ApprovalError("COUNTER_REPLAY", `${action}: signature counter did not increase`, {
      expected: `> ${check.counter}`,
      actual: String(authData.signCount),
    });
  }
  checkSignatureEncoding(check.credential.alg, fromBase64Url(approval.signature));
  const response: AuthenticationResponseJSON = {
    id: approval.credentialId,
    rawId: approval.credentialId,
    type: "public-key",
    clientExtensionResults: {},
    response: {
      authenticatorData: approval.authenticatorData,
      clientDataJSON: approval.clientDataJSON,
      signature: approval.signature,
      ...(approval.userHandle ? { userHandle: approval.userHandle } : {}),
    },
  };
  let verified = false;
  let failure: unknown;
  try {
    const r = await verifyAuthenticationResponse({
      response,
      expectedChallenge: toBase64Url(check.challenge),
      expectedOrigin: clientData.origin,
      expectedRPID: check.rp.id,
      expectedType: "webauthn.get",
      credential: {
        id: check.credential.id,
        publicKey: new Uint8Array(fromBase64Url(check.credential.publicKey)),
        counter: check.counter,
      },
      requireUserVerification: true,
    });
    verified = r.verified && r.authenticationInfo.newCounter === authData.signCount;
  } catch (err) {
    failure = err;
  }
  if (!verified) {
    throw new ApprovalError("SIGNATURE_INVALID", action, {
      expected: "a signature by the enrolled passkey",
      actual: failure instanceof Error ? failure.message.slice(0, 120) : "did not verify",
      cause: failure,
    });
  }
  return { credentialId: approval.credentialId, signCount: authData.signCount };
}

/**
 * Options for navigator.credentials.get that make a passkey sign `challenge` (a change digest, or a
 * random login challenge). User verification is required: a touch alone does not approve a change.
 */
export function assertionOptions(opts: {
  rp: RelyingParty;
  challenge: Uint8Array;
  credentials: readonly OwnerCredential[];
  timeoutMs?: number;
}): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: opts.rp.id,
    challenge: new Uint8Array(opts.challenge),
    allowCredentials: opts.credentials.map((c) => ({ id: c.id })),
    userVerification: "required",
    timeout: opts.timeoutMs ?? 120_000,
  });
}
