import { isAsterismError } from "@asterism/errors";
import {
  applyAll,
  createKubeClient,
  type KubeClient,
  KubeError,
  type KubeFetch,
  type KubeObject,
  KubeObjectSchema,
} from "@asterism/kube-apply";
import type { Logger } from "@asterism/service";
import { type ClusterState, kubernetesState, StateError } from "@asterism/state";
import { ApiException } from "@kubernetes/client-node";
import * as v from "valibot";
import { parse } from "yaml";
import {
  buildServiceObjects,
  type ClusterServicesInput,
  createServiceObjects,
  SERVICES_NAMESPACE,
  type ServiceObjectsResult,
  writeInitJoinConfig,
} from "./cluster-objects.ts";
import { BootstrapperError } from "./errors.ts";
import {
  type AutoApprovalRemoval,
  KUBEADM_BOOTSTRAP_AUTOAPPROVE,
  removeBootstrapAutoApproval,
} from "./kubeadm-rbac.ts";
// Rendered from k8s/overlays at build time (k8s/render/embed.ts, run by scripts/build.ts): the compiled
// binary carries the manifests and needs no repository checkout.
import embedded from "./manifests.generated.json" with { type: "json" };

/** Attestation variant → overlay in k8s/overlays (k8s/README.md). */
export const VARIANT_OVERLAYS: Readonly<Record<string, string>> = {
  "qemu-vtpm": "qemu",
  "aws-sev-snp": "aws",
  "azure-sev-snp": "azure",
  "gcp-sev-snp": "gcp",
};

const EmbeddedSchema = v.record(v.string(), v.array(KubeObjectSchema));

/** The rendered objects of the overlay for `variant`, from the copy embedded in the binary. */
export function embeddedManifests(variant: string): KubeObject[] {
  const overlay = VARIANT_OVERLAYS[variant];
  const all = v.parse(EmbeddedSchema, embedded);
  const objects = overlay === undefined ? undefined : all[overlay];
  if (objects === undefined)
    throw new BootstrapperError("MANIFESTS_APPLY_FAILED", "No embedded manifests for the variant", {
      actual: variant,
    });
  return structuredClone(objects);
}

const b64 = v.pipe(v.string(), v.base64());
/** The parts of an admin kubeconfig (createAdminKubeconfig's shape: one cluster, one user, inline PEM). */
const KubeconfigSchema = v.looseObject({
  clusters: v.tuple([
    v.looseObject({
      cluster: v.looseObject({ server: v.pipe(v.string(), v.url()), "certificate-authority-data": b64 }),
    }),
  ]),
  users: v.tuple([
    v.looseObject({
      user: v.looseObject({ "client-certificate-data": b64, "client-key-data": b64 }),
    }),
  ]),
});

/** The API server and admin credentials (PEM) of an admin kubeconfig. */
export interface AdminCredentials {
  readonly server: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * The server and credentials in an admin kubeconfig. It holds a private key: a parse failure reports the
 * field paths only, never values.
 */
export function adminCredentials(kubeconfig: string): AdminCredentials {
  let doc: unknown;
  try {
    doc = parse(kubeconfig);
  } catch {
    throw new BootstrapperError("MANIFESTS_APPLY_FAILED", "The admin kubeconfig is not YAML");
  }
  const r = v.safeParse(KubeconfigSchema, doc);
  if (!r.success)
    throw new BootstrapperError("MANIFESTS_APPLY_FAILED", "The admin kubeconfig lacks inline credentials", {
      actual: r.issues.map((i) => v.getDotPath(i) ?? "(root)").join(", "),
    });
  const cluster = r.output.clusters[0].cluster;
  const user = r.output.users[0].user;
  const text = (s: string) => Buffer.from(s, "base64").toString("utf8");
  return {
    server: cluster.server,
    ca: text(cluster["certificate-authority-data"]),
    cert: text(user["client-certificate-data"]),
    key: text(user["client-key-data"]),
  };
}

/** A client for the API server named in an admin kubeconfig, with its CA and client certificate. */
export function kubeClientFromKubeconfig(kubeconfig: string, fetch?: KubeFetch): KubeClient {
  const c = adminCredentials(kubeconfig);
  return createKubeClient({
    server: c.server,
    tls: { ca: c.ca, cert: c.cert, key: c.key },
    ...(fetch ? { fetch } : {}),
  });
}

/** How the apply step reaches the API server and how long it waits for it. */
export interface ApplyManifestsOptions {
  readonly variant: string;
  readonly logger: Logger;
  /** Defaults to {@link kubeClientFromKubeconfig}; tests point it at their API server. */
  readonly connect?: (kubeconfig: string) => KubeClient;
  /** Cluster state in the services' namespace for the join configuration; defaults to the kubeconfig's. */
  readonly connectState?: (kubeconfig: string) => ClusterState;
  /** Clock for the service certificates. */
  readonly now?: () => Date;
  /** Objects to apply; defaults to the embedded overlay of `variant`. */
  readonly objects?: readonly KubeObject[];
  /** Attempts while the API server is unreachable (default 10), `delayMs` apart (default 3000). */
  readonly attempts?: number;
  readonly delayMs?: number;
}

/** What the apply step did. */
export interface ManifestsApplied {
  readonly objects: number;
  readonly overlay: string;
  /** kubeadm's bootstrap-token CSR auto-approval binding: deleted now, or already absent (kubeadm-rbac.ts). */
  readonly bootstrapAutoApproval: AutoApprovalRemoval;
  /** The objects the manifests reference, when the services were provisioned (cluster-objects.ts). */
  readonly services?: ServiceObjectsResult & { readonly joinConfigWritten: boolean };
}

/**
 * The bootstrapper's init step after `kubeadm init`, with the admin credentials: with `services`, first
 * the objects the manifests reference (the overlay's Namespace, then cluster-objects.ts: service TLS,
 * master secret, JoinService settings, join configuration), then server-side apply (field manager
 * `asterism`) of the variant's rendered overlay, so the pods find everything they mount when they are
 * created. Only an unreachable API server is retried (bounded; kubeadm returns once it is healthy, but a
 * restart of the static pod can race), with the same objects each time; any other failure is
 * `MANIFESTS_APPLY_FAILED` at once. Every step is idempotent, so a retry after a partial run converges.
 *
 * After the apply, kubeadm's `kubeadm:node-autoapprove-bootstrap` ClusterRoleBinding is deleted (also
 * idempotent, same retry): a bootstrap token must not be a way to a kubelet certificate for any node
 * name when the JoinService issues them bound to attested names (kubeadm-rbac.ts, docs/security.md).
 */
export function createManifestApplier(opts: ApplyManifestsOptions) {
  const attempts = Math.max(1, Math.min(opts.attempts ?? 10, 100));
  const delayMs = opts.delayMs ?? 3000;
  const now = opts.now ?? (() => new Date());
  return async (kubeconfig: string, services?: ClusterServicesInput): Promise<ManifestsApplied> => {
    const overlay = VARIANT_OVERLAYS[opts.variant] ?? opts.variant;
    const objects = opts.objects ?? embeddedManifests(opts.variant);
    const client = (opts.connect ?? ((k: string) => kubeClientFromKubeconfig(k)))(kubeconfig);
    // Built once: a retry must offer the same certificates, or it would refuse its own first attempt.
    const serviceObjects = services === undefined ? undefined : await buildServiceObjects(services, now());
    const state =
      services?.joinPolicy === undefined
        ? undefined
        : (
            opts.connectState ??
            ((k: string) => kubernetesState({ ...adminCredentials(k), namespace: SERVICES_NAMESPACE }))
          )(kubeconfig);
    for (let attempt = 1; ; attempt++) {
      try {
        let provisioned: ManifestsApplied["services"];
        if (services !== undefined && serviceObjects !== undefined) {
          await applyAll(
            client,
            objects.filter((o) => o.kind === "Namespace"),
          );
          const result = await createServiceObjects(client, serviceObjects);
          const joinConfigWritten =
            state !== undefined && services.joinPolicy !== undefined
              ? await writeInitJoinConfig(state, { ...services, joinPolicy: services.joinPolicy })
              : false;
          provisioned = { ...result, joinConfigWritten };
          opts.logger.log("info", "manifests.services_provisioned", {
            created: result.created.join(","),
            existing: result.existing.join(","),
            joinConfig: joinConfigWritten
              ? "written"
              : services.joinPolicy === undefined
                ? "left to asterism apply (no join policy in the init request)"
                : "already there",
          });
        }
        const results = await applyAll(client, objects);
        opts.logger.log("info", "manifests.applied", { overlay, objects: results.length });
        const bootstrapAutoApproval = await removeBootstrapAutoApproval(client);
        opts.logger.log("info", "manifests.kubeadm_autoapprove_removed", {
          binding: KUBEADM_BOOTSTRAP_AUTOAPPROVE,
          result: bootstrapAutoApproval,
        });
        return {
          objects: results.length,
          overlay,
          bootstrapAutoApproval,
          ...(provisioned ? { services: provisioned } : {}),
        };
      } catch (err) {
        const transient =
          (err instanceof KubeError && err.code === "TRANSPORT") ||
          (err instanceof StateError &&
            err.code === "BACKEND_UNAVAILABLE" &&
            !(err.cause instanceof ApiException));
        if (transient && attempt < attempts) {
          opts.logger.log("warn", "manifests.retry", { attempt, code: (err as KubeError | StateError).code });
          await Bun.sleep(delayMs);
          continue;
        }
        if (err instanceof BootstrapperError) throw err;
        // KubeError messages carry the request path and the server's Status, never request bodies or
        // credentials (and the manifests hold no Secret: the policy checks forbid it; the service Secrets
        // go in request bodies only).
        throw new BootstrapperError("MANIFESTS_APPLY_FAILED", "Cannot apply the cluster manifests", {
          actual: isAsterismError(err) ? `${err.code}: ${err.message}` : "unexpected error",
          cause: err,
        });
      }
    }
  };
}
