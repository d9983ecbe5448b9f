// writeKubeletIdentity into temporary directories: the files the kubelet and kubeadm read, their modes,
// the certificate-store symlink, the kubeconfig (parsed; its client certificate names the node and chains
// to the CA, checked with openssl as an independent implementation), and the kubeadm configuration that
// names the same paths.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lstat, mkdtemp, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { makeCsr, openssl, seededBytes, TEST_NOW } from "./_test-helpers.ts";
import { type CertificateAuthority, caCertHash, generateCa } from "./ca.ts";
import { KubeadmConfigError } from "./errors.ts";
import { generateInitConfig, generateJoinConfig, KUBELET_CONF_PREFLIGHT_CHECK } from "./kubeadm-config.ts";
import { issueKubeletCertificate } from "./kubelet-cert.ts";
import { checkKubeletCredential, type KubeletCredential } from "./kubelet-credential.ts";
import {
  defaultKubeletPaths,
  KUBELET_CERT_DIR,
  KUBELET_KUBECONFIG_PATH,
  type KubeletPaths,
  kubeletConfigFields,
  kubeletFiles,
  writeKubeletIdentity,
} from "./kubelet-identity.ts";
import { x509 } from "./x509.ts";

const deps = { now: () => TEST_NOW, randomBytes: seededBytes(11) };
const identity = { nodeName: "worker-1", ips: ["10.0.0.5"] };
let ca: CertificateAuthority;
let credential: KubeletCredential;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "kubelet-identity-"));
  ca = await generateCa({ commonName: "kubernetes" }, deps);
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const keyDer = Buffer.from(await crypto.subtle.exportKey("pkcs8", keys.privateKey)).toString("base64");
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${keyDer}\n-----END PRIVATE KEY-----\n`;
  const csr = await makeCsr({
    subject: "CN=system:node:worker-1, O=system:nodes",
    dns: ["worker-1"],
    ips: ["10.0.0.5"],
    keys,
  });
  const cert = await issueKubeletCertificate(
    { csr, identity: { ...identity, role: "worker" }, usages: ["client", "serving"], ca },
    deps,
  );
  credential = await checkKubeletCredential(
    {
      certPem: cert.certPem,
      keyPem,
      caCertPem: ca.certPem,
      caCertHashes: [await caCertHash(ca.cert)],
      identity,
    },
    deps,
  );
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
function tempPaths(): KubeletPaths {
  const base = join(root, `node-${n++}`);
  return {
    kubeconfig: join(base, "etc/kubernetes/kubelet.conf"),
    certDir: join(base, "var/lib/kubelet/pki"),
    patchesDir: join(base, "run/kubeadm/patches"),
  };
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe("the defaults are kubeadm's and the kubelet's own paths", () => {
  test("kubelet.conf, the certificate store and the serving pair", () => {
    const files = kubeletFiles(defaultKubeletPaths("/run/asterism/kubeadm/patches"));
    expect(files).toEqual({
      kubeconfig: "/etc/kubernetes/kubelet.conf",
      clientCurrent: "/var/lib/kubelet/pki/kubelet-client-current.pem",
      servingCert: "/var/lib/kubelet/pki/kubelet.crt",
      servingKey: "/var/lib/kubelet/pki/kubelet.key",
      patch: "/run/asterism/kubeadm/patches/kubeletconfiguration+merge.yaml",
    });
    expect(KUBELET_KUBECONFIG_PATH).toBe("/etc/kubernetes/kubelet.conf");
    expect(KUBELET_CERT_DIR).toBe("/var/lib/kubelet/pki");
    // kubeadm names the check after the fixed path: FileAvailable- + path with "/" → "-".
    expect(KUBELET_CONF_PREFLIGHT_CHECK).toBe(
      `FileAvailable-${KUBELET_KUBECONFIG_PATH.replaceAll("/", "-")}`,
    );
  });
});

describe("writeKubeletIdentity", () => {
  test("writes the client store (dated file + symlink), serving pair, patch and kubeconfig with their modes", async () => {
    const paths = tempPaths();
    const files = await writeKubeletIdentity(credential, {
      paths,
      apiServerEndpoint: "203.0.113.10:6443",
      now: new Date("2026-11-25T08:09:10Z"),
    });
    expect(files).toEqual(kubeletFiles(paths));
    const dated = join(paths.certDir, "kubelet-client-2026-11-25-08-09-10.pem");
    // The store file is a symlink (the kubelet refuses to rotate over a regular file) with an absolute target.
    expect((await lstat(files.clientCurrent)).isSymbolicLink()).toBe(true);
    expect(await readlink(files.clientCurrent)).toBe(dated);
    expect(await mode(dated)).toBe(0o600);
    expect(await readFile(dated, "utf8")).toBe(`${credential.certPem}${credential.keyPem}`);
    expect(await mode(files.servingKey)).toBe(0o600);
    expect(await mode(files.servingCert)).toBe(0o644);
    expect(await readFile(files.servingCert, "utf8")).toBe(credential.certPem);
    expect(await readFile(files.servingKey, "utf8")).toBe(credential.keyPem);
    expect(await mode(files.kubeconfig)).toBe(0o600);
    expect(await mode(files.patch)).toBe(0o644);
    expect(parse(await readFile(files.patch, "utf8"))).toEqual({
      rotateCertificates: true,
      serverTLSBootstrap: false,
      tlsCertFile: files.servingCert,
      tlsPrivateKeyFile: files.servingKey,
    });
    expect(await mode(paths.certDir)).toBe(0o755);
    // Nothing left behind under temporary names.
    const { readdir } = await import("node:fs/promises");
    expect((await readdir(paths.certDir)).sort()).toEqual([
      "kubelet-client-2026-11-25-08-09-10.pem",
      "kubelet-client-current.pem",
      "kubelet.crt",
      "kubelet.key",
    ]);
  });

  test("the kubeconfig parses; its client certificate is CN=system:node:<name>/O=system:nodes, chained to the CA", async () => {
    const paths = tempPaths();
    const files = await writeKubeletIdentity(credential, {
      paths,
      apiServerEndpoint: "[2001:db8::10]:6443",
      now: TEST_NOW,
    });
    const conf = parse(await readFile(files.kubeconfig, "utf8"));
    expect(conf.kind).toBe("Config");
    const context = conf.contexts.find((c: { name: string }) => c.name === conf["current-context"]).context;
    const cluster = conf.clusters.find((c: { name: string }) => c.name === context.cluster).cluster;
    const user = conf.users.find((u: { name: string }) => u.name === context.user).user;
    expect(cluster.server).toBe("https://[2001:db8::10]:6443");
    expect(user).toEqual({ "client-certificate": files.clientCurrent, "client-key": files.clientCurrent });
    // kubeadm compares the embedded CA with Go's pem.EncodeToMemory of ca.crt (whitespace-trimmed);
    // openssl writes the same shape.
    const caData = Buffer.from(cluster["certificate-authority-data"], "base64").toString();
    const caFromOpenssl = new TextDecoder().decode(await openssl(["x509", "-outform", "PEM"], ca.certPem));
    expect(caData).toBe(caFromOpenssl);
    // The client file, as the kubelet reads it: certificate first, then its key.
    const pemFile = await readFile(user["client-certificate"], "utf8");
    const cert = new x509.X509Certificate(pemFile.slice(0, pemFile.indexOf("-----BEGIN PRIVATE KEY-----")));
    expect(cert.subject).toBe("CN=system:node:worker-1, O=system:nodes");
    expect(await cert.verify({ publicKey: new x509.X509Certificate(caData), signatureOnly: true })).toBe(
      true,
    );
    const caFile = join(dirname(files.kubeconfig), "ca-from-kubeconfig.pem");
    await writeFile(caFile, caData);
    const at = String(Math.floor(TEST_NOW.getTime() / 1000) + 60);
    const verified = new TextDecoder().decode(
      await openssl(
        ["verify", "-attime", at, "-purpose", "sslclient", "-CAfile", caFile, user["client-certificate"]],
        "",
      ),
    );
    expect(verified).toContain(": OK");
    // The key in the file is the certificate's key (what Go's tls.LoadX509KeyPair checks).
    const certPub = await openssl(["x509", "-noout", "-pubkey"], pemFile);
    const keyPub = await openssl(
      ["pkey", "-pubout"],
      pemFile.slice(pemFile.indexOf("-----BEGIN PRIVATE KEY-----")),
    );
    expect(new TextDecoder().decode(keyPub)).toBe(new TextDecoder().decode(certPub));
  });

  test("a second write (a re-run) replaces the symlink and files atomically", async () => {
    const paths = tempPaths();
    await writeKubeletIdentity(credential, { paths, apiServerEndpoint: "10.0.0.2:6443", now: TEST_NOW });
    const later = new Date(TEST_NOW.getTime() + 1000);
    const files = await writeKubeletIdentity(credential, {
      paths,
      apiServerEndpoint: "10.0.0.2:6443",
      now: later,
    });
    expect(await readlink(files.clientCurrent)).toBe(
      join(paths.certDir, "kubelet-client-2026-11-25-00-00-01.pem"),
    );
  });

  test.each([
    { name: "an endpoint without a port", endpoint: "10.0.0.2", relative: false },
    { name: "an endpoint with a path", endpoint: "10.0.0.2:6443/evil", relative: false },
    { name: "relative paths", endpoint: "10.0.0.2:6443", relative: true },
  ])("$name is refused before anything is written (CONFIG_INVALID)", async ({ endpoint, relative }) => {
    const paths = relative
      ? { kubeconfig: "etc/kubelet.conf", certDir: "pki", patchesDir: "patches" }
      : tempPaths();
    let caught: unknown;
    try {
      await writeKubeletIdentity(credential, { paths, apiServerEndpoint: endpoint, now: TEST_NOW });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(KubeadmConfigError);
    expect((caught as KubeadmConfigError).code).toBe("CONFIG_INVALID");
    await expect(stat(paths.certDir)).rejects.toThrow();
  });
});

describe("the kubeadm configuration names the same files", () => {
  const token = { id: "abcdef", secret: "0123456789abcdef" };
  const files = kubeletFiles(defaultKubeletPaths("/run/asterism/kubeadm/patches"));

  test("init: patches.directory and a cluster-wide KubeletConfiguration equal to the node's patch", () => {
    const docs = parseAllDocuments(
      generateInitConfig({
        nodeName: "cp-0",
        nodeIp: "10.0.0.2",
        kubernetesVersion: "v1.31.13",
        clusterName: "asterism",
        controlPlaneEndpoint: "10.0.0.2:6443",
        serviceSubnet: "10.96.0.0/12",
        initToken: token,
        kubelet: {
          patchesDir: "/run/asterism/kubeadm/patches",
          tlsCertFile: files.servingCert,
          tlsPrivateKeyFile: files.servingKey,
        },
      }),
    ).map((d) => d.toJS());
    expect(docs.map((d) => d.kind)).toEqual([
      "InitConfiguration",
      "ClusterConfiguration",
      "KubeletConfiguration",
    ]);
    expect(docs[0].patches).toEqual({ directory: "/run/asterism/kubeadm/patches" });
    // No preflight check is ignored at init: kubeadm init does not check kubelet.conf, it validates and
    // keeps an existing one (same CA).
    expect(docs[0].nodeRegistration.ignorePreflightErrors).toBeUndefined();
    const { apiVersion, kind, ...fields } = docs[2];
    expect(apiVersion).toBe("kubelet.config.k8s.io/v1beta1");
    expect(kind).toBe("KubeletConfiguration");
    expect(fields).toEqual(kubeletConfigFields(files));
  });

  test.each(["worker", "control-plane"] as const)(
    "join (%s): ignores exactly the kubelet.conf preflight check and names the patch directory",
    (role) => {
      const join = parse(
        generateJoinConfig({
          nodeName: "worker-1",
          nodeIp: "10.0.0.5",
          role,
          apiServerEndpoint: "10.0.0.2:6443",
          token,
          caCertHashes: [`sha256:${"ab".repeat(32)}`],
          kubelet: { patchesDir: "/run/asterism/kubeadm/patches" },
        }),
      );
      expect(join.nodeRegistration.ignorePreflightErrors).toEqual([
        "FileAvailable--etc-kubernetes-kubelet.conf",
      ]);
      expect(join.patches).toEqual({ directory: "/run/asterism/kubeadm/patches" });
      expect(join.discovery.bootstrapToken.unsafeSkipCAVerification).toBe(false);
    },
  );

  test("without a pre-provisioned identity neither is emitted", () => {
    const join = parse(
      generateJoinConfig({
        nodeName: "worker-1",
        nodeIp: "10.0.0.5",
        role: "worker",
        apiServerEndpoint: "10.0.0.2:6443",
        token,
        caCertHashes: [`sha256:${"ab".repeat(32)}`],
      }),
    );
    expect(join.nodeRegistration.ignorePreflightErrors).toBeUndefined();
    expect(join.patches).toBeUndefined();
  });

  test.each([
    { name: "relative patch directory", kubelet: { patchesDir: "patches" } },
    { name: "newline in the path", kubelet: { patchesDir: "/run/x\nkind: Evil" } },
    { name: "unknown field", kubelet: { patchesDir: "/run/p", ignorePreflightErrors: "all" } },
  ])("join: $name → CONFIG_INVALID", ({ kubelet }) => {
    expect(() =>
      generateJoinConfig({
        nodeName: "worker-1",
        nodeIp: "10.0.0.5",
        role: "worker",
        apiServerEndpoint: "10.0.0.2:6443",
        token,
        caCertHashes: [`sha256:${"ab".repeat(32)}`],
        kubelet: kubelet as { patchesDir: string },
      }),
    ).toThrow(KubeadmConfigError);
  });
});
