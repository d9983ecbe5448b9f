import { API_PATHS, type InitRequestJson, InitResponseSchema, type OwnerPinWire } from "@asterism/api";
import { attestedFetch, type PeerAttestation } from "@asterism/atls";
import type { AttestationPolicy, Validator } from "@asterism/attestation";
import { fromHex, fromUtf8, toBase64 } from "@asterism/bytes";
import { LifecycleError } from "./errors.ts";
import { isUnavailable, readAnswer, wrapAtlsFailure } from "./http.ts";
import { serializePolicy } from "./join-config.ts";

/** Kubernetes settings of an init request. */
export interface InitKubernetesSettings {
  readonly version: string;
  /** Every component SHA-256 pinned (`{url, hash, installPath, extract?}`). */
  readonly components: readonly unknown[];
  readonly serviceCidr: string;
  readonly podCidr?: string;
  readonly clusterName?: string;
  readonly apiServerCertSans?: readonly string[];
  /** `host:port` of the API server as clients reach it (load balancer). */
  readonly controlPlaneEndpoint?: string;
}

/** Options of {@link initCluster}. */
export interface InitClusterOptions {
  /** `https://<host>:<port>` of the first control plane's init endpoint. */
  readonly endpoint: string;
  /** Validators whose policy expects the node's image and PCR 15 = 0 (an uninitialized node). */
  readonly validators: readonly Validator[];
  readonly initSecret: Uint8Array;
  readonly masterSecret: { readonly key: Uint8Array; readonly salt: Uint8Array };
  /** 32 random bytes; keep them: the cluster ID is derived from them. */
  readonly measurementSalt: Uint8Array;
  readonly kubernetes: InitKubernetesSettings;
  /**
   * The policy joining nodes must meet (normally the one `validators` apply: PCR 15 = 0), sent as the
   * request's `joinPolicy`. A node that provisions the control-plane services itself (VM cluster) writes
   * it into its cluster state's join configuration; other nodes ignore it.
   */
  readonly joinPolicy?: AttestationPolicy;
  /** Keep trying while nobody answers, until this long has passed (default 5 min). */
  readonly waitForEndpointMs?: number;
  /** Pause between attempts while waiting (default 2 s). */
  readonly retryIntervalMs?: number;
  readonly signal?: AbortSignal;
  /** Clock for certificate checks (tests). */
  readonly now?: () => Date;
  /** Bound on the whole init call once connected (default 10 min: kubeadm init is slow). */
  readonly responseTimeoutMs?: number;
  /** The cluster's owners (docs/owner.md "At init"): the node records them for recovery approvals. */
  readonly owner?: OwnerPinWire;
}

/** What a successful init returns. */
export interface InitClusterResult {
  readonly clusterId: Uint8Array;
  /** The admin kubeconfig (YAML). It holds a client key: store it 0600. */
  readonly kubeconfig: string;
  /** Whether Kubernetes was really installed (false in the local cluster, with the reason). */
  readonly kubernetes: { readonly performed: boolean; readonly note?: string };
  /** The node's verified attestation. */
  readonly attestation: PeerAttestation | undefined;
}

/**
 * The CLI side of init (docs/lifecycle.md §3): connect to the bootstrapper with server-attested aTLS, so
 * the node's evidence (its image and PCR 15 = 0) is checked BEFORE the master secret leaves, then send the
 * init request. While the endpoint does not answer it retries; once a connection has been established it
 * never retries (a second init can only be refused), as Constellation's CLI.
 *
 * Errors: `UNAVAILABLE` (nobody answered in time), `NOT_TRUSTED` (attestation failed), `REFUSED` with
 * `remoteCode` (`INIT_SECRET_INVALID`, `NODE_ALREADY_ACTIVATED`, `INIT_FAILED`, …), `INVALID_RESPONSE`.
 *
 * @example
 * const { clusterId, kubeconfig } = await initCluster({ endpoint, validators: [validator], initSecret,
 *   masterSecret, measurementSalt, kubernetes: { version: "v1.31.13", components, serviceCidr: "10.96.0.0/12" } });
 */
export async function initCluster(opts: InitClusterOptions): Promise<InitClusterResult> {
  const body: InitRequestJson = {
    initSecret: toBase64(opts.initSecret),
    masterSecret: { key: toBase64(opts.masterSecret.key), salt: toBase64(opts.masterSecret.salt) },
    measurementSalt: toBase64(opts.measurementSalt),
    kubernetesVersion: opts.kubernetes.version,
    kubernetesComponents: [...opts.kubernetes.components],
    serviceCidr: opts.kubernetes.serviceCidr,
    ...(opts.kubernetes.podCidr ? { podCidr: opts.kubernetes.podCidr } : {}),
    ...(opts.kubernetes.clusterName ? { clusterName: opts.kubernetes.clusterName } : {}),
    ...(opts.kubernetes.apiServerCertSans
      ? { apiServerCertSans: [...opts.kubernetes.apiServerCertSans] }
      : {}),
    ...(opts.kubernetes.controlPlaneEndpoint
      ? { controlPlaneEndpoint: opts.kubernetes.controlPlaneEndpoint }
      : {}),
    ...(opts.owner ? { owner: opts.owner } : {}),
    ...(opts.joinPolicy
      ? {
          joinPolicy: JSON.parse(fromUtf8(serializePolicy(opts.joinPolicy))) as InitRequestJson["joinPolicy"],
        }
      : {}),
  };
  const action = `Cannot initialize the cluster at ${opts.endpoint}`;
  const deadline = Date.now() + (opts.waitForEndpointMs ?? 5 * 60_000);
  const interval = opts.retryIntervalMs ?? 2000;
  let attestation: PeerAttestation | undefined;
  for (;;) {
    if (opts.signal?.aborted) throw new LifecycleError("ABORTED", action);
    let connected = false;
    try {
      const res = await attestedFetch(
        new URL(API_PATHS.init, opts.endpoint),
        { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
        {
          mode: "server-attested",
          validators: opts.validators,
          responseTimeoutMs: opts.responseTimeoutMs ?? 10 * 60_000,
          ...(opts.now ? { now: opts.now } : {}),
          onAttested: (peer) => {
            connected = true;
            attestation = peer;
          },
        },
      );
      const out = await readAnswer(res, InitResponseSchema, action);
      return {
        clusterId: fromHex(out.clusterId),
        kubeconfig: out.kubeconfig,
        kubernetes: out.kubernetes,
        attestation,
      };
    } catch (err) {
      if (connected || !isUnavailable(err) || Date.now() + interval > deadline)
        throw wrapAtlsFailure(err, action);
      await Bun.sleep(interval);
    }
  }
}
