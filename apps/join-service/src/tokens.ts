import { fromBase64, fromUtf8 } from "@asterism/bytes";
import type { BootstrapTokenSecret } from "@asterism/kubeadm";
import { BOOTSTRAP_TOKEN_LABEL } from "@asterism/lifecycle";
import type { Logger } from "@asterism/service";
import { bunFetchHttpLibrary, type ClusterState, type KubeConnection } from "@asterism/state";
import { CoreV1Api, createConfiguration, ServerConfiguration, type V1Secret } from "@kubernetes/client-node";

/**
 * Where bootstrap-token Secrets go: in a Kubernetes cluster the typed `bootstrap.kubernetes.io/token` Secret
 * in kube-system, exactly as kubeadm writes it ({@link createKubeTokenPublisher}); in the local cluster,
 * which has no kube-apiserver to consume them, the cluster state keeps kubeadm's data keys under the
 * Secret's name ({@link createStateTokenPublisher}).
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

/**
 * Bootstrap tokens on a real API server: `POST /api/v1/namespaces/kube-system/secrets` with kubeadm's
 * object through @kubernetes/client-node on Bun's fetch (CA and client certificate honoured). Expired
 * tokens are deleted by kube-controller-manager's tokencleaner, so `purgeExpired` does nothing.
 */
export function createKubeTokenPublisher(conn: KubeConnection): TokenPublisher {
  const api = new CoreV1Api(
    createConfiguration({
      baseServer: new ServerConfiguration(conn.server.replace(/\/$/, ""), {}),
      httpApi: bunFetchHttpLibrary(conn),
      authMethods: {},
    }),
  );
  return {
    async publish(secret) {
      await api.createNamespacedSecret({ namespace: secret.metadata.namespace, body: secret as V1Secret });
    },
    purgeExpired: async () => 0,
  };
}
