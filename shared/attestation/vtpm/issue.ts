/**
 * Issuing vTPM evidence on a live TPM (swtpm in tests and local clusters, /dev/tpmrm0 in a VM).
 *
 * The AK is a primary restricted signing key (created from the endorsement seed: the same template gives
 * the same key on the same TPM). The quote covers PCRs 0–23 of the SHA-256 bank with qualifying data
 * `SHA-256(instanceInfo ‖ SHA-256(userData ‖ nonce))` (reference §5.1 "Issue").
 */

import { bytesEqual } from "@asterism/bytes";
import { encode } from "@asterism/codec";
import {
  computePcrDigest,
  createAttestationKey,
  flush,
  hashInfo,
  type KeyAlgorithm,
  type LoadedObject,
  type PcrSelection,
  parseTpmsAttest,
  quote,
  readPcrs,
  TPM_ALG,
  type TPMS_QUOTE_INFO,
  TPMT_PUBLIC,
  type Tpm,
} from "@asterism/tpm";
import { makeExtraData, tpmQualifyingData } from "../binding.ts";
import { AttestationVerifyError } from "../errors.ts";
import type { VtpmEvidence } from "./evidence.ts";

/** The PCRs every vTPM quote covers (PC Client: 24 per bank). */
export const QUOTED_PCRS: readonly number[] = Array.from({ length: 24 }, (_, i) => i);

/**
 * PCRs can change between TPM2_Quote and TPM2_PCR_Read (a concurrent extend); we re-quote a bounded
 * number of times until the read values match the quoted digest.
 */
const MAX_QUOTE_ATTEMPTS = 3;

/** Dependencies of a vTPM issuer. */
export interface VtpmIssuerDeps {
  readonly tpm: Tpm;
  /** AK algorithm; Constellation uses RSA-2048. */
  readonly akAlg?: KeyAlgorithm;
  /**
   * A long-lived AK to quote with (e.g. `persistentAttestationKey`, resolved once per process). Without it
   * every issue creates a transient AK and flushes it again, which costs an RSA key generation per quote.
   */
  readonly attestationKey?: () => Promise<LoadedObject>;
  /** The TCG event log, if the platform has one (e.g. /sys/kernel/security/tpm0/binary_bios_measurements). */
  readonly readEventLog?: () => Promise<Uint8Array | undefined>;
}

/**
 * One issuance at a time per TPM: swtpm has no resource manager and few transient-object slots, and a
 * concurrent PCR extend between quote and read would only cost retries.
 */
const locks = new WeakMap<Tpm, Promise<unknown>>();

async function exclusive<T>(tpm: Tpm, f: () => Promise<T>): Promise<T> {
  const prev = locks.get(tpm) ?? Promise.resolve();
  const run = prev.then(f, f);
  locks.set(
    tpm,
    run.catch(() => undefined),
  );
  return run;
}

/** Produce vTPM evidence bound to `userData` and `nonce`. */
export function issueVtpmEvidence(
  deps: VtpmIssuerDeps,
  userData: Uint8Array,
  nonce: Uint8Array,
  info?: Uint8Array | ((ak: TPMT_PUBLIC) => Promise<Uint8Array>),
): Promise<VtpmEvidence> {
  return exclusive(deps.tpm, () => issueLocked(deps, userData, nonce, info));
}

async function issueLocked(
  deps: VtpmIssuerDeps,
  userData: Uint8Array,
  nonce: Uint8Array,
  info?: Uint8Array | ((ak: TPMT_PUBLIC) => Promise<Uint8Array>),
): Promise<VtpmEvidence> {
  const extraData = makeExtraData(userData, nonce); // length errors before touching the TPM
  const selection: PcrSelection[] = [{ hash: TPM_ALG.SHA256, pcrSelect: [...QUOTED_PCRS] }];
  const owned = deps.attestationKey === undefined;
  const ak = owned
    ? await createAttestationKey(deps.tpm, { alg: deps.akAlg ?? "rsa" })
    : await (deps.attestationKey as () => Promise<LoadedObject>)();
  try {
    // Instance info may depend on the AK (aws-sev-snp: the SNP report binds SHA-512 of the AK SPKI).
    const instanceInfo = typeof info === "function" ? await info(ak.public) : info;
    const qualifyingData = tpmQualifyingData(extraData, instanceInfo);
    for (let attempt = 0; attempt < MAX_QUOTE_ATTEMPTS; attempt++) {
      const q = await quote(deps.tpm, { ak, pcrs: selection, qualifyingData });
      const banks = await readPcrs(deps.tpm, selection);
      const quoted = parseTpmsAttest(q.attest).attested as TPMS_QUOTE_INFO;
      const sigHash = hashInfo(TPM_ALG.SHA256);
      if (sigHash && bytesEqual(computePcrDigest(sigHash, quoted.pcrSelect, banks), quoted.pcrDigest)) {
        const eventLog = deps.readEventLog ? await deps.readEventLog() : undefined;
        return {
          akPublic: encode(TPMT_PUBLIC, ak.public),
          quotes: [
            {
              attest: q.attest,
              signature: q.signature,
              bank: "sha256",
              pcrs: banks.get(TPM_ALG.SHA256) ?? new Map(),
            },
          ],
          ...(eventLog ? { eventLog } : {}),
          intermediates: [],
          ...(instanceInfo ? { instanceInfo } : {}),
        };
      }
    }
  } finally {
    if (owned) await flush(deps.tpm, ak.handle);
  }
  throw new AttestationVerifyError("PCR_DIGEST_MISMATCH", "PCRs kept changing while quoting", {
    expected: `stable PCRs within ${MAX_QUOTE_ATTEMPTS} attempts`,
  });
}
