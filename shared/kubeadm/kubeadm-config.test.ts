import { describe, expect, test } from "bun:test";
import { parse, parseAllDocuments } from "yaml";
import { KubeadmConfigError } from "./errors.ts";
import {
  generateInitConfig,
  generateJoinConfig,
  type InitConfigInput,
  type JoinConfigInput,
} from "./kubeadm-config.ts";

const token = { id: "abcdef", secret: "0123456789abcdef" };
const pin = `sha256:${"ab".repeat(32)}`;

const init: InitConfigInput = {
  nodeName: "cp-0",
  nodeIp: "10.0.0.2",
  kubernetesVersion: "v1.31.13",
  clusterName: "asterism",
  controlPlaneEndpoint: "203.0.113.10:6443",
  serviceSubnet: "10.96.0.0/12",
  podSubnet: "10.244.0.0/16",
  apiServerCertSans: ["203.0.113.10", "api.example.com", "10.0.0.2"],
  initToken: token,
  externalCloudProvider: true,
};
const join: JoinConfigInput = {
  nodeName: "worker-1",
  nodeIp: "10.0.0.5",
  role: "worker",
  apiServerEndpoint: "203.0.113.10:6443",
  token,
  caCertHashes: [pin],
};

type Obj = Record<string, unknown> & { [k: string]: never | unknown };
const at = (o: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((x, k) => (x as Obj | undefined)?.[k as string], o);

describe("generateInitConfig", () => {
  test("emits InitConfiguration and ClusterConfiguration (v1beta4)", () => {
    const docs = parseAllDocuments(generateInitConfig(init)).map((d) => d.toJS());
    expect(docs.map((d) => [d.apiVersion, d.kind])).toEqual([
      ["kubeadm.k8s.io/v1beta4", "InitConfiguration"],
      ["kubeadm.k8s.io/v1beta4", "ClusterConfiguration"],
    ]);
    const [i, c] = docs;
    expect(at(i, "nodeRegistration", "name")).toBe("cp-0");
    expect(at(i, "nodeRegistration", "kubeletExtraArgs")).toEqual([
      { name: "cloud-provider", value: "external" },
      { name: "node-ip", value: "10.0.0.2" },
    ]);
    expect(at(i, "localAPIEndpoint")).toEqual({ advertiseAddress: "10.0.0.2", bindPort: 6443 });
    expect(at(i, "bootstrapTokens", 0)).toMatchObject({
      token: "abcdef.0123456789abcdef",
      ttl: "15m0s",
      usages: ["signing", "authentication"],
      groups: ["system:bootstrappers:kubeadm:default-node-token"],
    });
    expect(c).toMatchObject({
      clusterName: "asterism",
      kubernetesVersion: "v1.31.13",
      controlPlaneEndpoint: "203.0.113.10:6443",
      encryptionAlgorithm: "ECDSA-P256",
      certificatesDir: "/etc/kubernetes/pki",
      networking: { serviceSubnet: "10.96.0.0/12", podSubnet: "10.244.0.0/16", dnsDomain: "cluster.local" },
    });
    expect(at(c, "apiServer", "certSANs")).toEqual([
      "10.0.0.2",
      "127.0.0.1",
      "203.0.113.10",
      "api.example.com",
    ]);
    expect(at(c, "apiServer", "extraArgs")).toContainEqual({ name: "profiling", value: "false" });
  });

  test.each([
    { name: "upper-case node name", patch: { nodeName: "CP-0" } },
    { name: "bad node IP", patch: { nodeIp: "10.0.0.256" } },
    { name: "version without v", patch: { kubernetesVersion: "1.31.13" } },
    { name: "endpoint without port", patch: { controlPlaneEndpoint: "203.0.113.10" } },
    { name: "unbracketed IPv6 endpoint", patch: { controlPlaneEndpoint: "2001:db8::1:6443" } },
    { name: "CIDR without prefix", patch: { serviceSubnet: "10.96.0.0" } },
    { name: "CIDR prefix too long", patch: { serviceSubnet: "10.96.0.0/33" } },
    { name: "malformed token", patch: { initToken: { id: "ABCDEF", secret: "0123456789abcdef" } } },
    { name: "unknown field", patch: { unsafeSkipCAVerification: true } },
    { name: "cert SAN that is neither IP nor DNS name", patch: { apiServerCertSans: ["a b"] } },
    {
      name: "YAML injection in an extra arg name",
      patch: { apiServerExtraArgs: { "a\nkind: Secret": "x" } },
    },
  ])("rejects $name", ({ patch }) => {
    expect(() => generateInitConfig({ ...init, ...patch } as InitConfigInput)).toThrow(
      expect.objectContaining({ code: "CONFIG_INVALID" }),
    );
  });

  test("values with YAML metacharacters stay data", () => {
    const out = generateInitConfig({ ...init, apiServerExtraArgs: { "audit-log-path": "a: b\n- c #d" } });
    const c = parseAllDocuments(out)[1]?.toJS();
    expect(at(c, "apiServer", "extraArgs")).toContainEqual({ name: "audit-log-path", value: "a: b\n- c #d" });
  });
});

describe("generateJoinConfig", () => {
  test("worker: token discovery pinned to the CA, no controlPlane section", () => {
    const j = parse(generateJoinConfig(join));
    expect(j.apiVersion).toBe("kubeadm.k8s.io/v1beta4");
    expect(j.kind).toBe("JoinConfiguration");
    expect(j.discovery.bootstrapToken).toEqual({
      apiServerEndpoint: "203.0.113.10:6443",
      token: "abcdef.0123456789abcdef",
      caCertHashes: [pin],
      unsafeSkipCAVerification: false,
    });
    expect(j.nodeRegistration).toEqual({
      name: "worker-1",
      criSocket: "unix:///run/containerd/containerd.sock",
      kubeletExtraArgs: [{ name: "node-ip", value: "10.0.0.5" }],
    });
    expect(j.controlPlane).toBeUndefined();
  });

  test("control plane: localAPIEndpoint on the node's own IP", () => {
    const j = parse(
      generateJoinConfig({ ...join, role: "control-plane", nodeName: "cp-1", nodeIp: "10.0.0.3" }),
    );
    expect(j.controlPlane).toEqual({ localAPIEndpoint: { advertiseAddress: "10.0.0.3", bindPort: 6443 } });
  });

  test("IPv6 endpoint in brackets is accepted", () => {
    const j = parse(
      generateJoinConfig({ ...join, apiServerEndpoint: "[2001:db8::1]:6443", nodeIp: "2001:db8::5" }),
    );
    expect(j.discovery.bootstrapToken.apiServerEndpoint).toBe("[2001:db8::1]:6443");
  });

  test.each([
    { name: "no CA pin", patch: { caCertHashes: [] } },
    { name: "upper-case pin", patch: { caCertHashes: [pin.toUpperCase()] } },
    { name: "sha1 pin", patch: { caCertHashes: [`sha1:${"ab".repeat(20)}`] } },
    { name: "role from a request flag", patch: { role: true } },
    { name: "port 0", patch: { apiServerEndpoint: "10.0.0.1:0" } },
  ])("rejects $name", ({ patch }) => {
    let err: unknown;
    try {
      generateJoinConfig({ ...join, ...patch } as JoinConfigInput);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KubeadmConfigError);
    expect((err as KubeadmConfigError).code).toBe("CONFIG_INVALID");
    expect((err as Error).message).not.toContain("0123456789abcdef");
  });

  test.each([
    { name: "upper-case secret", token: { id: "abcdef", secret: "SECRETSECRETSECR" } },
    { name: "numeric secret", token: { id: "abcdef", secret: 1234567890 } },
  ])("a malformed token ($name) is never echoed in the error", ({ token: bad }) => {
    let err: unknown;
    try {
      generateJoinConfig({ ...join, token: bad } as JoinConfigInput);
    } catch (e) {
      err = e;
    }
    expect((err as KubeadmConfigError).code).toBe("CONFIG_INVALID");
    const text = `${(err as Error).message} ${JSON.stringify(err)}`;
    expect(text).not.toContain(String(bad.secret));
  });
});
