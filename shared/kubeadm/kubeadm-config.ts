import * as v from "valibot";
import { stringify } from "yaml";
import { describeIssue } from "./_issues.ts";
import { KubeadmConfigError } from "./errors.ts";
import { canonicalIp, isValidNodeName, type NodeRole } from "./identity.ts";
import { KEY_ALGORITHMS, type KeyAlgorithm } from "./keys.ts";
import {
  BOOTSTRAP_TOKEN_PATTERN,
  type BootstrapToken,
  DEFAULT_NODE_TOKEN_GROUP,
  formatBootstrapToken,
} from "./token.ts";

/** The kubeadm configuration API this module emits (kubeadm ≥ 1.31). */
export const KUBEADM_API_VERSION = "kubeadm.k8s.io/v1beta4";
/** containerd's socket on our node image. */
export const DEFAULT_CRI_SOCKET = "unix:///run/containerd/containerd.sock";
/** kube-apiserver's port on every control-plane node. */
export const DEFAULT_API_SERVER_PORT = 6443;
/** kubeadm's `CACertHashes` format (see `caCertHash`). */
export const CA_CERT_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;
/** The kubelet's component configuration API (`KubeletConfiguration`). */
export const KUBELET_CONFIG_API_VERSION = "kubelet.config.k8s.io/v1beta1";
/**
 * The `kubeadm join` preflight check that fails when `/etc/kubernetes/kubelet.conf` already exists
 * (kubeadm `FileAvailableCheck`, named `FileAvailable-` + the path with `/` replaced by `-`; kubeadm
 * matches ignored names case-insensitively). A pre-provisioned kubelet identity trips this check and no
 * other, so it is the only one a JoinConfiguration ignores.
 */
export const KUBELET_CONF_PREFLIGHT_CHECK = "FileAvailable--etc-kubernetes-kubelet.conf";

const nodeName = v.pipe(v.string(), v.check(isValidNodeName, "must be a lower-case RFC 1123 DNS subdomain"));
const ip = v.pipe(
  v.string(),
  v.check((s) => canonicalIp(s) !== undefined, "must be an IPv4 or IPv6 literal"),
);
const port = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535));
const hostLabel = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;
/** `host:port`, host a DNS name, IPv4 or bracketed IPv6 (what kubeadm's endpoints take). */
const endpoint = v.pipe(
  v.string(),
  v.check((s) => parseEndpoint(s) !== undefined, "must be host:port (IPv6 in brackets)"),
);
const cidr = v.pipe(
  v.string(),
  v.check((s) => {
    const [addr, bits, extra] = s.split("/");
    if (addr === undefined || bits === undefined || extra !== undefined || !/^\d{1,3}$/.test(bits))
      return false;
    const c = canonicalIp(addr);
    return c !== undefined && Number(bits) <= (c.includes(":") ? 128 : 32);
  }, "must be a CIDR like 10.96.0.0/12"),
);
const argName = v.pipe(
  v.string(),
  v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be a flag name without dashes"),
);
const extraArgs = v.optional(v.record(argName, v.pipe(v.string(), v.maxLength(4096))), {});

/** `host:port` (IPv6 in brackets) as kubeadm's endpoints take it, or undefined. */
export function parseEndpoint(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const p = Number(m[3]);
  if (p < 1 || p > 65535) return undefined;
  const host = m[1] ?? m[2] ?? "";
  if (m[1] !== undefined) return canonicalIp(host)?.includes(":") ? { host, port: p } : undefined;
  return canonicalIp(host) !== undefined || hostLabel.test(host) ? { host, port: p } : undefined;
}

const absolutePath = v.pipe(
  v.string(),
  v.maxLength(4096),
  v.regex(/^\/[^\0\n\r]*$/, "must be an absolute path"),
);

/**
 * The node's kubelet identity is pre-provisioned (`writeKubeletIdentity`: kubelet.conf, client store,
 * serving pair, kubeadm patch): the configuration names the patch directory, and init also writes the
 * cluster-wide KubeletConfiguration with the serving pair's paths.
 */
const initKubeletSchema = v.strictObject({
  patchesDir: absolutePath,
  tlsCertFile: absolutePath,
  tlsPrivateKeyFile: absolutePath,
});
const joinKubeletSchema = v.strictObject({ patchesDir: absolutePath });

const tokenSchema = v.pipe(
  v.object({ id: v.string(), secret: v.string() }),
  v.check((t) => BOOTSTRAP_TOKEN_PATTERN.test(`${t.id}.${t.secret}`), "must be a kubeadm bootstrap token"),
);

/** Typed input of {@link generateInitConfig}; checked by this schema before anything is emitted. */
export const InitConfigInputSchema = v.strictObject({
  nodeName,
  nodeIp: ip,
  /** Full patch version, e.g. `v1.31.13`. */
  kubernetesVersion: v.pipe(v.string(), v.regex(/^v1\.\d{1,3}\.\d{1,3}$/, "must look like v1.31.13")),
  clusterName: v.pipe(v.string(), v.check(isValidNodeName, "must be a DNS label")),
  /** Stable endpoint of the API server (load balancer), `host:port`. */
  controlPlaneEndpoint: endpoint,
  serviceSubnet: cidr,
  podSubnet: v.optional(cidr),
  dnsDomain: v.optional(v.pipe(v.string(), v.check(isValidNodeName, "must be a DNS name")), "cluster.local"),
  /** Extra API server certificate SANs (beyond node IP and 127.0.0.1). */
  apiServerCertSans: v.optional(
    v.pipe(
      v.array(
        v.pipe(
          v.string(),
          v.check(
            (s) => canonicalIp(s) !== undefined || hostLabel.test(s.startsWith("*.") ? s.slice(2) : s),
            "must be an IP literal or a DNS name",
          ),
        ),
      ),
      v.maxLength(64),
    ),
    [],
  ),
  bindPort: v.optional(port, DEFAULT_API_SERVER_PORT),
  criSocket: v.optional(v.pipe(v.string(), v.startsWith("unix:///")), DEFAULT_CRI_SOCKET),
  encryptionAlgorithm: v.optional(v.picklist(KEY_ALGORITHMS), "ECDSA-P256" satisfies KeyAlgorithm),
  /**
   * The token `kubeadm init` creates. Always given explicitly: left empty, kubeadm would invent its own
   * token valid for 24 hours.
   */
  initToken: tokenSchema,
  /** TTL of {@link initToken}, as a Go duration; default 15 minutes. */
  initTokenTtl: v.optional(v.pipe(v.string(), v.regex(/^(\d+h)?(\d+m)?(\d+s)?$/), v.minLength(2)), "15m0s"),
  skipPhases: v.optional(v.array(v.pipe(v.string(), v.regex(/^[a-z-]+(\/[a-z-]+)?$/))), []),
  /** Sets `cloud-provider=external` on kubelet (for clouds with a cloud-controller-manager). */
  externalCloudProvider: v.optional(v.boolean(), false),
  kubeletExtraArgs: extraArgs,
  apiServerExtraArgs: extraArgs,
  controllerManagerExtraArgs: extraArgs,
  schedulerExtraArgs: extraArgs,
  /**
   * The init node's kubelet identity was written beforehand (absent only where kubeadm never runs): adds
   * `patches.directory` and a KubeletConfiguration document (serving pair, client rotation, no serving
   * bootstrap) that kubeadm uploads as the cluster's `kubelet-config` for every node.
   */
  kubelet: v.optional(initKubeletSchema),
});

/** Input of {@link generateInitConfig}. */
export type InitConfigInput = v.InferInput<typeof InitConfigInputSchema>;

/** Typed input of {@link generateJoinConfig}. */
export const JoinConfigInputSchema = v.strictObject({
  nodeName,
  nodeIp: ip,
  /** The node's ATTESTED role; `control-plane` adds the `controlPlane` section. */
  role: v.picklist(["control-plane", "worker"] satisfies NodeRole[]),
  /** API server to discover the cluster through, `host:port` (normally the load balancer). */
  apiServerEndpoint: endpoint,
  token: tokenSchema,
  /** CA pins from the join ticket; at least one (no unsafe skipping of CA verification, ever). */
  caCertHashes: v.pipe(
    v.array(v.pipe(v.string(), v.regex(CA_CERT_HASH_PATTERN, "must be sha256:<64 hex>"))),
    v.minLength(1),
    v.maxLength(8),
  ),
  bindPort: v.optional(port, DEFAULT_API_SERVER_PORT),
  criSocket: v.optional(v.pipe(v.string(), v.startsWith("unix:///")), DEFAULT_CRI_SOCKET),
  skipPhases: v.optional(v.array(v.pipe(v.string(), v.regex(/^[a-z-]+(\/[a-z-]+)?$/))), []),
  externalCloudProvider: v.optional(v.boolean(), false),
  kubeletExtraArgs: extraArgs,
  /**
   * The node's kubelet identity (from its join ticket) was written beforehand (absent only where kubeadm
   * never runs): the kubelet then never TLS-bootstraps, which an Asterism cluster would not approve.
   * Adds `patches.directory` and ignores exactly {@link KUBELET_CONF_PREFLIGHT_CHECK}.
   */
  kubelet: v.optional(joinKubeletSchema),
});

/** Input of {@link generateJoinConfig}. */
export type JoinConfigInput = v.InferInput<typeof JoinConfigInputSchema>;

function check<S extends v.GenericSchema>(schema: S, input: unknown, what: string): v.InferOutput<S> {
  const r = v.safeParse(schema, input);
  if (!r.success) {
    const { path, rule } = describeIssue(r.issues);
    throw new KubeadmConfigError("CONFIG_INVALID", `Cannot generate ${what}`, {
      expected: `${path}: ${rule}`,
      // Never echo values: the input carries the bootstrap token.
      actual: `invalid ${path}`,
    });
  }
  return r.output;
}

/** v1beta4 `[]Arg`: a list of `{name, value}` (replaced v1beta3's maps), sorted for stable output. */
function args(map: Readonly<Record<string, string>>): { name: string; value: string }[] {
  return Object.entries(map)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => ({ name, value }));
}

function kubeletArgs(nodeIp: string, external: boolean, extra: Readonly<Record<string, string>>) {
  return args({ ...extra, "node-ip": nodeIp, ...(external ? { "cloud-provider": "external" } : {}) });
}

/** Hardening flags applied to every control plane: no profiling endpoints, TLS ≥ 1.2. */
const API_SERVER_DEFAULT_ARGS = { profiling: "false", "tls-min-version": "VersionTLS12" };
const COMPONENT_DEFAULT_ARGS = { profiling: "false" };

/**
 * kubeadm InitConfiguration + ClusterConfiguration (kubeadm.k8s.io/v1beta4) as one multi-document YAML string,
 * for `kubeadm init --config`. The configuration embeds the init bootstrap token: write it with mode 0600
 * and delete it after use.
 */
export function generateInitConfig(input: InitConfigInput): string {
  const c = check(InitConfigInputSchema, input, "kubeadm init configuration");
  const certSans = [...new Set([c.nodeIp, "127.0.0.1", ...c.apiServerCertSans])];
  const init = {
    apiVersion: KUBEADM_API_VERSION,
    kind: "InitConfiguration",
    bootstrapTokens: [
      {
        token: formatBootstrapToken(c.initToken as BootstrapToken),
        description: "Bootstrap token of kubeadm init (Asterism)",
        ttl: c.initTokenTtl,
        usages: ["signing", "authentication"],
        groups: [DEFAULT_NODE_TOKEN_GROUP],
      },
    ],
    nodeRegistration: {
      name: c.nodeName,
      criSocket: c.criSocket,
      kubeletExtraArgs: kubeletArgs(c.nodeIp, c.externalCloudProvider, c.kubeletExtraArgs),
    },
    localAPIEndpoint: { advertiseAddress: c.nodeIp, bindPort: c.bindPort },
    ...(c.skipPhases.length > 0 ? { skipPhases: c.skipPhases } : {}),
    ...(c.kubelet ? { patches: { directory: c.kubelet.patchesDir } } : {}),
  };
  const cluster = {
    apiVersion: KUBEADM_API_VERSION,
    kind: "ClusterConfiguration",
    clusterName: c.clusterName,
    kubernetesVersion: c.kubernetesVersion,
    controlPlaneEndpoint: c.controlPlaneEndpoint,
    certificatesDir: "/etc/kubernetes/pki",
    encryptionAlgorithm: c.encryptionAlgorithm,
    networking: {
      serviceSubnet: c.serviceSubnet,
      ...(c.podSubnet ? { podSubnet: c.podSubnet } : {}),
      dnsDomain: c.dnsDomain,
    },
    apiServer: {
      certSANs: certSans,
      extraArgs: args({ ...API_SERVER_DEFAULT_ARGS, ...c.apiServerExtraArgs }),
    },
    controllerManager: { extraArgs: args({ ...COMPONENT_DEFAULT_ARGS, ...c.controllerManagerExtraArgs }) },
    scheduler: { extraArgs: args({ ...COMPONENT_DEFAULT_ARGS, ...c.schedulerExtraArgs }) },
    etcd: { local: { dataDir: "/var/lib/etcd" } },
  };
  const docs: object[] = [init, cluster];
  if (c.kubelet)
    docs.push({
      apiVersion: KUBELET_CONFIG_API_VERSION,
      kind: "KubeletConfiguration",
      // Same fields as the node's patch (writeKubeletIdentity): every node puts its pair at the same paths.
      rotateCertificates: true,
      serverTLSBootstrap: false,
      tlsCertFile: c.kubelet.tlsCertFile,
      tlsPrivateKeyFile: c.kubelet.tlsPrivateKeyFile,
    });
  return docs.map((d) => stringify(d)).join("---\n");
}

/**
 * kubeadm JoinConfiguration (kubeadm.k8s.io/v1beta4) for `kubeadm join --config`: bootstrap-token discovery
 * pinned to the CA hashes from the join ticket (never `unsafeSkipCAVerification`), the node's name and IP,
 * and — only for an attested control plane — `controlPlane.localAPIEndpoint` on the node's IP. Contains the
 * bootstrap token: write it with mode 0600 and delete it after use.
 */
export function generateJoinConfig(input: JoinConfigInput): string {
  const c = check(JoinConfigInputSchema, input, "kubeadm join configuration");
  const join = {
    apiVersion: KUBEADM_API_VERSION,
    kind: "JoinConfiguration",
    nodeRegistration: {
      name: c.nodeName,
      criSocket: c.criSocket,
      kubeletExtraArgs: kubeletArgs(c.nodeIp, c.externalCloudProvider, c.kubeletExtraArgs),
      ...(c.kubelet ? { ignorePreflightErrors: [KUBELET_CONF_PREFLIGHT_CHECK] } : {}),
    },
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: c.apiServerEndpoint,
        token: formatBootstrapToken(c.token as BootstrapToken),
        caCertHashes: [...new Set(c.caCertHashes)],
        unsafeSkipCAVerification: false,
      },
    },
    ...(c.role === "control-plane"
      ? { controlPlane: { localAPIEndpoint: { advertiseAddress: c.nodeIp, bindPort: c.bindPort } } }
      : {}),
    ...(c.skipPhases.length > 0 ? { skipPhases: c.skipPhases } : {}),
    ...(c.kubelet ? { patches: { directory: c.kubelet.patchesDir } } : {}),
  };
  return stringify(join);
}
