import { bytesEqual } from "@asterism/bytes";
import { decode, encode } from "@asterism/codec";
import {
  TPM2_ActivateCredential,
  TPM2_MakeCredential,
  TPM2_PolicySecret,
  TPM2_StartAuthSession,
} from "./commands/credential.ts";
import { createPrimary, evictControl, flush, type LoadedObject, readPublic } from "./commands/object.ts";
import { type PcrBanks, readPcrs } from "./commands/pcr.ts";
import { SIG_SCHEME_NULL, TPM2_Quote } from "./commands/quote.ts";
import { getRandom } from "./commands/random.ts";
import { startup } from "./commands/startup.ts";
import { TPM_ALG, TPM_RH, TPM_SE } from "./constants.ts";
import { TpmError } from "./errors.ts";
import { createTpm, type Tpm } from "./execute.ts";
import { hashInfo } from "./hash.ts";
import { decodeRc, isTpmRc, TPM_RC } from "./rc.ts";
import { TPMS_ATTEST, type TPMS_QUOTE_INFO } from "./structures/attest.ts";
import type { PcrSelection } from "./structures/basic.ts";
import { TPMT_PUBLIC } from "./structures/public.ts";
import { TPMT_SIGNATURE } from "./structures/signature.ts";
import {
  AK_TEMPLATE_ECC_P256,
  AK_TEMPLATE_RSA_2048,
  EK_TEMPLATE_ECC_P256,
  EK_TEMPLATE_RSA_2048,
} from "./templates.ts";
import { connectSwtpm, type SwtpmOptions } from "./transport/swtpm.ts";
import type { ClosableTpmTransport } from "./transport/types.ts";
import { computePcrDigest } from "./verify/quote.ts";

/** Key algorithm of an EK or AK. */
export type KeyAlgorithm = "rsa" | "ecc";

/** A TPM whose transport can be closed (swtpm socket, device). */
export interface ClosableTpm extends Tpm {
  close(): Promise<void>;
}

/**
 * Connect to swtpm, power it on (unless `powerOn: false`) and send TPM2_Startup(CLEAR).
 *
 * @example
 * const tpm = await openSwtpm({ host: "127.0.0.1", port, ctrlPort });
 * try { … } finally { await tpm.close(); }
 */
export async function openSwtpm(opts: SwtpmOptions): Promise<ClosableTpm> {
  const transport: ClosableTpmTransport = await connectSwtpm(opts);
  const tpm = createTpm(transport);
  try {
    await startup(tpm);
  } catch (err) {
    await transport.close();
    throw err;
  }
  return { ...tpm, close: () => transport.close() };
}

/**
 * Create the standard EK (TCG EK Credential Profile templates L-1 / L-2) as a transient primary object in
 * the endorsement hierarchy. Flush it when done.
 */
export function createEk(tpm: Tpm, alg: KeyAlgorithm = "rsa"): Promise<LoadedObject> {
  return createPrimary(tpm, TPM_RH.ENDORSEMENT, alg === "rsa" ? EK_TEMPLATE_RSA_2048 : EK_TEMPLATE_ECC_P256);
}

/**
 * Create a restricted signing attestation key (primary in the endorsement hierarchy, RSA-2048/RSASSA or
 * P-256/ECDSA with SHA-256). Primary keys are derived from the hierarchy seed, so the same template gives
 * the same AK until the seed changes. Flush it when done.
 */
export function createAttestationKey(tpm: Tpm, opts: { alg?: KeyAlgorithm } = {}): Promise<LoadedObject> {
  return createPrimary(
    tpm,
    TPM_RH.ENDORSEMENT,
    (opts.alg ?? "rsa") === "rsa" ? AK_TEMPLATE_RSA_2048 : AK_TEMPLATE_ECC_P256,
  );
}

/**
 * Default persistent handle of Asterism's attestation key. Owner-range persistent handles are
 * 0x81000000–0x817FFFFF (Part 2 §7.5 / TCG Provisioning Guidance); 0x81000A57 is not used by the common
 * stacks (SRK 0x81000001, EKs 0x8101xxxx, GCE AK 0x81008F01).
 */
export const ASTERISM_AK_HANDLE = 0x81000a57;

/**
 * The attestation key as a persistent object: created once per TPM (TPM2_CreatePrimary from the AK
 * template, then TPM2_EvictControl to `handle`) and reused by every process afterwards, so quoting needs
 * neither a key generation (RSA-2048: 66–322 ms on swtpm) nor a transient slot (swtpm has no resource
 * manager). An object already at `handle` is used only if its public area matches the template in every
 * field but `unique`: a restricted, fixedTPM signing key only ever signs TPM-generated structures, so a
 * planted key of this shape cannot forge quotes; anything else is refused, never overwritten.
 *
 * Two processes racing on the first creation both succeed (the loser of TPM2_EvictControl reads the
 * winner's key).
 */
export async function persistentAttestationKey(
  tpm: Tpm,
  opts: { alg?: KeyAlgorithm; handle?: number } = {},
): Promise<LoadedObject> {
  const template = (opts.alg ?? "rsa") === "rsa" ? AK_TEMPLATE_RSA_2048 : AK_TEMPLATE_ECC_P256;
  const handle = opts.handle ?? ASTERISM_AK_HANDLE;
  if (handle >>> 24 !== 0x81)
    throw new TpmError("INVALID_ARGUMENT", "Cannot persist the attestation key", {
      expected: "a persistent handle 0x81xxxxxx",
      actual: `0x${handle.toString(16)}`,
    });
  for (let attempt = 0; attempt < 2; attempt++) {
    let existing: { public: TPMT_PUBLIC; name: Uint8Array } | undefined;
    try {
      existing = await readPublic(tpm, handle);
    } catch (err) {
      if (!isTpmRc(err, TPM_RC.HANDLE)) throw err;
    }
    if (existing) {
      const shape = (p: TPMT_PUBLIC) => encode(TPMT_PUBLIC, { ...p, unique: template.unique });
      if (existing.public.type !== template.type || !bytesEqual(shape(existing.public), shape(template)))
        throw new TpmError("UNSUPPORTED", "Cannot use the object at the attestation-key handle", {
          expected: "a restricted signing key made from the AK template",
          actual: `another object at 0x${handle.toString(16)}`,
        });
      return { handle, public: existing.public, name: existing.name };
    }
    const fresh = await createPrimary(tpm, TPM_RH.ENDORSEMENT, template);
    try {
      await evictControl(tpm, fresh.handle, handle);
      return { handle, public: fresh.public, name: fresh.name };
    } catch (err) {
      // Another process persisted it between our read and our evict: read theirs on the next round.
      if (!isTpmRc(err, TPM_RC.NV_DEFINED)) throw err;
    } finally {
      await flush(tpm, fresh.handle);
    }
  }
  throw new TpmError("UNSUPPORTED", "Cannot persist the attestation key", {
    expected: `a key at 0x${handle.toString(16)}`,
    actual: "none after two attempts",
  });
}

/** A quote as the TPM produced it: the exact signed TPMS_ATTEST bytes and the TPMT_SIGNATURE bytes. */
export interface Quote {
  readonly attest: Uint8Array;
  readonly signature: Uint8Array;
}

/**
 * TPM2_Quote over `pcrs` with `qualifyingData` (the verifier's nonce, ≤ 66 bytes) using the AK's own
 * scheme.
 */
export async function quote(
  tpm: Tpm,
  opts: { ak: { handle: number }; pcrs: readonly PcrSelection[]; qualifyingData: Uint8Array },
): Promise<Quote> {
  const { response } = await tpm.run(TPM2_Quote, {
    handles: [opts.ak.handle],
    params: { qualifyingData: opts.qualifyingData, inScheme: SIG_SCHEME_NULL, PCRselect: [...opts.pcrs] },
  });
  return { attest: response.quoted, signature: encode(TPMT_SIGNATURE, response.signature) };
}

/** Bound on quote attempts while PCRs keep changing underneath. */
const QUOTE_ATTEMPTS = 5;

/**
 * Quote and read the quoted PCR values consistently: read the PCRs, quote them, and check that the
 * quote's pcrDigest is the digest of what was read (else something extended a PCR in between; retry, at
 * most 5 times). Returns exactly what a verifier needs next to the AK public.
 *
 * @example
 * const { quote: q, pcrs } = await quoteWithPcrs(tpm, { ak, pcrs: sel, qualifyingData: nonce });
 * await verifyQuote({ akPublic: ak.public, attest: q.attest, signature: q.signature, nonce, pcrs });
 */
export async function quoteWithPcrs(
  tpm: Tpm,
  opts: { ak: { handle: number }; pcrs: readonly PcrSelection[]; qualifyingData: Uint8Array },
): Promise<{ quote: Quote; pcrs: PcrBanks }> {
  for (let i = 0; i < QUOTE_ATTEMPTS; i++) {
    const pcrs = await readPcrs(tpm, opts.pcrs);
    const q = await quote(tpm, opts);
    const info = decode(TPMS_ATTEST, q.attest).attested as TPMS_QUOTE_INFO;
    const sig = decode(TPMT_SIGNATURE, q.signature).signature as { hash?: number } | null;
    const h = hashInfo(sig?.hash ?? 0);
    if (!h) throw new TpmError("UNSUPPORTED", "Quote signed with an unsupported hash");
    if (bytesEqual(computePcrDigest(h, info.pcrSelect, pcrs), info.pcrDigest)) return { quote: q, pcrs };
  }
  throw new TpmError("TPM_RC", "PCRs kept changing while quoting", {
    rc: decodeRc(TPM_RC.PCR_CHANGED),
    expected: `a stable quote within ${QUOTE_ATTEMPTS} attempts`,
  });
}

/** An encrypted credential for one AK name, decryptable only by one EK (Part 1 §24 "Credential Protection"). */
export interface Credential {
  readonly credentialBlob: Uint8Array;
  readonly secret: Uint8Array;
}

/**
 * TPM2_MakeCredential with a loaded EK (public part suffices): wrap `credential` (≤ 64 bytes) for
 * `akName`. Any TPM can do this; it needs no secret.
 */
export async function makeCredential(
  tpm: Tpm,
  ek: { handle: number },
  credential: Uint8Array,
  akName: Uint8Array,
): Promise<Credential> {
  const { response } = await tpm.run(TPM2_MakeCredential, {
    handles: [ek.handle],
    params: { credential, objectName: akName },
  });
  return response;
}

/** Size of the policy session's nonceCaller (Part 3 §11.1: 16 bytes minimum; SHA-256 size here). */
const NONCE_CALLER_SIZE = 32;

/**
 * TPM2_ActivateCredential: recover the credential if the AK and EK live in this TPM. The EK's
 * adminWithPolicy is satisfied by a fresh policy session with PolicySecret(TPM_RH_ENDORSEMENT), which is
 * flushed afterwards (also on failure).
 */
export async function activateCredential(
  tpm: Tpm,
  opts: { ak: { handle: number }; ek: { handle: number }; credential: Credential },
): Promise<Uint8Array> {
  const start = await tpm.run(TPM2_StartAuthSession, {
    handles: [TPM_RH.NULL, TPM_RH.NULL],
    params: {
      nonceCaller: await getRandom(tpm, NONCE_CALLER_SIZE),
      encryptedSalt: new Uint8Array(0),
      sessionType: TPM_SE.POLICY,
      symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null },
      authHash: TPM_ALG.SHA256,
    },
  });
  const session = start.handles[0] as number;
  try {
    await tpm.run(TPM2_PolicySecret, {
      handles: [TPM_RH.ENDORSEMENT, session],
      params: {
        nonceTPM: start.response.nonceTPM,
        cpHashA: new Uint8Array(0),
        policyRef: new Uint8Array(0),
        expiration: 0,
      },
    });
    const { response } = await tpm.run(TPM2_ActivateCredential, {
      handles: [opts.ak.handle, opts.ek.handle],
      sessions: [{ kind: "password" }, { kind: "policy", handle: session }],
      params: opts.credential,
    });
    return response.certInfo;
  } finally {
    await flush(tpm, session).catch(() => undefined);
  }
}
