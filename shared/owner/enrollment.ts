/**
 * Enrollment: registering a passkey (navigator.credentials.create) as an owner credential. The
 * registration is verified with @simplewebauthn/server (WebAuthn L3 §7.1); what is kept is public: the
 * credential ID and its COSE public key. A registered passkey becomes an owner only through an approved
 * change (genesis at init, or an owner change approved by the existing owners), in which it also proves
 * possession with an assertion.
 */
import { fromBase64Url, toBase64Url } from "@asterism/bytes";
import {
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { cose, decodeCredentialPublicKey } from "@simplewebauthn/server/helpers";
import * as v from "valibot";
import { originAllowed } from "./approval.ts";
import {
  type OwnerCredential,
  OwnerCredentialSchema,
  type RelyingParty,
  SUPPORTED_COSE_ALGORITHMS,
} from "./change.ts";
import { ApprovalError } from "./errors.ts";
import { parseWith } from "./schemas.ts";
import { parseClientData } from "./webauthn-data.ts";

/** Registration challenges are random, never derived: 32 bytes. */
export const REGISTRATION_CHALLENGE_BYTES = 32;

/**
 * Options for navigator.credentials.create: a discoverable credential with user verification, no
 * attestation (passkeys rarely offer it and we do not trust vendors' roots for owner identity), and only
 * the algorithms every verifier of the audit log supports.
 */
export function registrationOptions(opts: {
  rp: RelyingParty;
  rpName?: string;
  ownerName: string;
  /** The WebAuthn user handle: random, not personal data (§14.6.1). */
  userId: Uint8Array;
  challenge: Uint8Array;
  /** Passkeys already enrolled, so the same authenticator is not enrolled twice. */
  exclude?: readonly OwnerCredential[];
  timeoutMs?: number;
}): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: opts.rpName ?? "Asterism cluster owners",
    rpID: opts.rp.id,
    userName: opts.ownerName,
    userDisplayName: opts.ownerName,
    userID: new Uint8Array(opts.userId),
    challenge: new Uint8Array(opts.challenge),
    attestationType: "none",
    authenticatorSelection: { residentKey: "required", userVerification: "required" },
    excludeCredentials: (opts.exclude ?? []).map((c) => ({ id: c.id })),
    supportedAlgorithmIDs: [...SUPPORTED_COSE_ALGORITHMS],
    timeout: opts.timeoutMs ?? 120_000,
  });
}

const RegistrationJsonSchema = v.looseObject({
  id: v.string(),
  rawId: v.string(),
  type: v.literal("public-key"),
  response: v.looseObject({ clientDataJSON: v.string(), attestationObject: v.string() }),
});

/**
 * Verify a registration response (the browser's `PublicKeyCredential.toJSON()` after create) against
 * the challenge the server issued, and return the credential to enroll.
 */
export async function verifyRegistration(opts: {
  response: unknown;
  challenge: Uint8Array;
  rp: RelyingParty;
  label?: string;
}): Promise<OwnerCredential> {
  const action = "Passkey registration refused";
  const parsed = parseWith(RegistrationJsonSchema, opts.response, "registration");
  const response: RegistrationResponseJSON = {
    id: parsed.id,
    rawId: parsed.rawId,
    type: "public-key",
    clientExtensionResults: {},
    response: {
      clientDataJSON: parsed.response.clientDataJSON,
      attestationObject: parsed.response.attestationObject,
    },
  };
  // The library takes exact origins only; check ours (any localhost port, see originAllowed) first.
  const clientData = parseClientData(fromBase64Url(response.response.clientDataJSON));
  if (clientData.crossOrigin || !originAllowed(opts.rp, clientData.origin)) {
    throw new ApprovalError("ORIGIN_NOT_ALLOWED", action, {
      expected: opts.rp.origins.join(", "),
      actual: JSON.stringify(clientData.origin.slice(0, 80)),
    });
  }
  let failure: unknown;
  let credential: OwnerCredential | undefined;
  try {
    const r = await verifyRegistrationResponse({
      response,
      expectedChallenge: toBase64Url(opts.challenge),
      expectedOrigin: clientData.origin,
      expectedRPID: opts.rp.id,
      expectedType: "webauthn.create",
      requireUserPresence: true,
      requireUserVerification: true,
      supportedAlgorithmIDs: [...SUPPORTED_COSE_ALGORITHMS],
    });
    if (r.verified) {
      const publicKey = r.registrationInfo.credential.publicKey;
      const alg = decodeCredentialPublicKey(publicKey).get(cose.COSEKEYS.alg);
      credential = parseWith(
        OwnerCredentialSchema,
        {
          id: r.registrationInfo.credential.id,
          publicKey: toBase64Url(publicKey),
          alg,
          ...(opts.label === undefined ? {} : { label: opts.label }),
        },
        "registered credential",
      );
    }
  } catch (err) {
    failure = err;
  }
  if (!credential) {
    throw new ApprovalError("REGISTRATION_INVALID", action, {
      expected: "a verified registration with user verification",
      actual: failure instanceof Error ? failure.message.slice(0, 160) : "did not verify",
      cause: failure,
    });
  }
  // The credential ID in the response must be the one the authenticator data vouches for.
  if (credential.id !== response.id) {
    throw new ApprovalError("REGISTRATION_INVALID", action, {
      expected: "id equal to the attested credential ID",
      actual: response.id.slice(0, 16),
    });
  }
  return credential;
}
