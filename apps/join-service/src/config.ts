import { listenAddressSchema } from "@asterism/service";
import * as v from "valibot";

const listen = listenAddressSchema;
const file = v.pipe(v.string(), v.minLength(1), v.maxLength(4096));

/** Environment of the join-service (docs/lifecycle.md §5). */
export const ConfigSchema = v.object({
  ASTERISM_STATE: v.pipe(
    v.string(),
    v.regex(
      /^(sqlite:.+|kube:.+|kube-in-cluster:[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/,
      "must be sqlite:<path>, kube:<kubeconfig>[#namespace] or kube-in-cluster:<namespace>",
    ),
  ),
  ASTERISM_SERVICE_ACCOUNT_DIR: v.optional(file),
  ASTERISM_JOIN_LISTEN: listen("127.0.0.1:9090"),
  ASTERISM_HTTP_LISTEN: listen("127.0.0.1:9091"),
  ASTERISM_PKI_DIR: file,
  ASTERISM_KMS_URL: v.pipe(v.string(), v.url(), v.startsWith("https://")),
  ASTERISM_KMS_CA_FILE: file,
  ASTERISM_KMS_CERT_FILE: file,
  ASTERISM_KMS_KEY_FILE: file,
  ASTERISM_API_SERVER_ENDPOINT: v.pipe(v.string(), v.regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/)),
  ASTERISM_METADATA_URL: v.optional(v.pipe(v.string(), v.url())),
  ASTERISM_POLICY_RELOAD_MS: v.optional(
    v.pipe(v.string(), v.regex(/^\d{2,6}$/), v.transform(Number), v.minValue(50)),
    "2000",
  ),
  ASTERISM_ENDPOINTS_FILE: v.optional(v.string()),
  ASTERISM_OWNER_ANCHOR: v.optional(
    v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits")),
  ),
  ASTERISM_LOG_LEVEL: v.optional(v.picklist(["debug", "info", "warn", "error"]), "info"),
});
export type Config = v.InferOutput<typeof ConfigSchema>;

export const ENV_HELP: Record<string, string> = {
  ASTERISM_STATE:
    "cluster state: sqlite:<path> (local cluster), kube:<kubeconfig>[#namespace], or kube-in-cluster:<namespace> (in a pod: its ServiceAccount token, KUBERNETES_SERVICE_HOST/PORT)",
  ASTERISM_SERVICE_ACCOUNT_DIR:
    "kube-in-cluster only: where the pod's token and ca.crt are mounted (default /var/run/secrets/kubernetes.io/serviceaccount)",
  ASTERISM_JOIN_LISTEN: "aTLS listener, nodes attest (default 127.0.0.1:9090; port 0 = free port)",
  ASTERISM_HTTP_LISTEN: "plain HTTP /healthz /readyz /metrics (default 127.0.0.1:9091)",
  ASTERISM_PKI_DIR:
    "the control plane's Kubernetes PKI directory (ca.crt, ca.key, sa.*, front-proxy-ca.*, etcd/ca.*)",
  ASTERISM_KMS_URL: "https URL of the KMS",
  ASTERISM_KMS_CA_FILE: "cluster service CA (PEM) that issued the KMS certificate",
  ASTERISM_KMS_CERT_FILE: "this service's client certificate (asterism://join-service)",
  ASTERISM_KMS_KEY_FILE: "its private key",
  ASTERISM_API_SERVER_ENDPOINT: "host:port of the Kubernetes API server, put into tickets",
  ASTERISM_METADATA_URL: "optional: cross-check attested identities against the instance list",
  ASTERISM_POLICY_RELOAD_MS: "how often the join configuration is re-read (default 2000)",
  ASTERISM_ENDPOINTS_FILE: 'optional: JSON file announcing {"join": url, "http": url}',
  ASTERISM_OWNER_ANCHOR:
    "genesis hash of the owners' audit log (docs/owner.md): enforce only the owner-approved policy and revocations; unset = trust the join configuration (logged as a warning)",
  ASTERISM_LOG_LEVEL: "debug | info | warn | error (default info)",
};
