import { fromBase64, fromUtf8 } from "@asterism/bytes";
import type { BootstrapTokenSecret } from "@asterism/kubeadm";
import { BOOTSTRAP_TOKEN_LABEL } from "@asterism/lifecycle";
import type { Logger } from "@asterism/service";
import type { ClusterState } from "@asterism/state";

/**
 * Where bootstrap-token Secrets go. The cluster-state backend stores kubeadm's data keys under the
 * Secret's name (the local cluster has no kube-apiserver to consume them); a Kubernetes deployment would
 * create the typed `bootstrap.kubernetes.io/token` Secret in kube-system instead (not in this build).
 */
export interface TokenPublisher {
  publish(secret: BootstrapTokenSecret): Promise<void>;
  /** Delete expired tokens (kube-controller-manager's tokencleaner does this in a real cluster). */
  purgeExpired(): Promise<number>;
}

export function createStateTokenPublisher(
  state: ClusterState,
  now: () => Date,
  logger: Logger,
): TokenPublisher {
  return {
    async publish(secret) {
      const data = Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, fromBase64(v)]));
      await state.create("secret", secret.metadata.name, data, { ...BOOTSTRAP_TOKEN_LABEL });
    },
    async purgeExpired() {
      let n = 0;
      for (const o of await state.list("secret", { ...BOOTSTRAP_TOKEN_LABEL })) {
        const exp = Date.parse(fromUtf8(o.data["expiration"] ?? new Uint8Array()));
        if (Number.isFinite(exp) && exp < now().getTime()) {
          await state.delete("secret", o.name).catch(() => undefined);
          n++;
        }
      }
      if (n > 0) logger.log("info", "join.tokens_purged", { count: n });
      return n;
    },
  };
}
