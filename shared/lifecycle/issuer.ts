import { createQemuVtpmIssuer, type Issuer } from "@asterism/attestation";
import { type KeyAlgorithm, type LoadedObject, persistentAttestationKey, type Tpm } from "@asterism/tpm";

/** Options of {@link createNodeIssuer}. */
export interface NodeIssuerOptions {
  readonly tpm: Tpm;
  /** The node's event log (its PCR 16 identity event); read at every issue. */
  readonly readEventLog: () => Promise<Uint8Array | undefined>;
  /** AK algorithm (default RSA-2048, as Constellation). */
  readonly akAlg?: KeyAlgorithm;
  /** Persistent AK handle (default `ASTERISM_AK_HANDLE`). */
  readonly akHandle?: number;
}

/**
 * The node's qemu-vtpm issuer: quotes with the persistent attestation key, resolved once per process (a
 * TPM clear or an evicted key resets the cache on the next failure), and carries the node's event log.
 * The AK is created only if the TPM has none yet, so issuing costs one quote, not a key generation.
 */
export function createNodeIssuer(opts: NodeIssuerOptions): Issuer {
  let ak: Promise<LoadedObject> | undefined;
  const attestationKey = () => {
    ak ??= persistentAttestationKey(opts.tpm, {
      ...(opts.akAlg ? { alg: opts.akAlg } : {}),
      ...(opts.akHandle !== undefined ? { handle: opts.akHandle } : {}),
    });
    return ak;
  };
  const inner = createQemuVtpmIssuer({ tpm: opts.tpm, attestationKey, readEventLog: opts.readEventLog });
  return {
    variant: inner.variant,
    async issue(userData, nonce) {
      try {
        return await inner.issue(userData, nonce);
      } catch (err) {
        ak = undefined;
        throw err;
      }
    },
  };
}
