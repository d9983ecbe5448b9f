// The kubelet's identity at init and join (node.ts): the attested certificate becomes the kubelet's
// client and serving identity (kubelet.conf → kubelet-client-current.pem, serving pair, KubeletConfiguration
// patch) BEFORE kubeadm runs, and the kubeadm configuration names it (join: exactly the kubelet.conf
// preflight check ignored). A join ticket whose certificate is not this node's (another name, key or CA) is
// refused before the node lock and before anything is written. Real aTLS stand-in JoinService (software
// evidence), real CA and certificates; fake lock, disk and installer; every path in a temp directory.
// Built from kubeadm's and the kubelet's documented behaviour; no kubelet runs here.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InitRequestSchema } from "@asterism/api";
import { type AtlsServer, serveAttested } from "@asterism/atls";
import type { Issuer } from "@asterism/attestation";
import { fromBase64 } from "@asterism/bytes";
import {
  type CertificateAuthority,
  caCertHash,
  createInitSecretChecker,
  generateCa,
  issueKubeletCertificate,
  KUBELET_CONF_PREFLIGHT_CHECK,
  type KubeletPaths,
  type KubernetesInstaller,
} from "@asterism/kubeadm";
import type { NodeLock } from "@asterism/lifecycle";
import type { MetadataClient } from "@asterism/metadata";
import { createMemoryLogger } from "@asterism/service";
import { createSoftwareAttester, type SoftwareAttester } from "@asterism/testing";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import * as v from "valibot";
import { parse, parseAllDocuments } from "yaml";
import { createNode } from "./node.ts";
import type { Status } from "./node-files.ts";
import type { StateDisk } from "./state-disk.ts";

setDefaultTimeout(20_000);

const DISK = "12345678-1234-1234-1234-123456789abc";
const ENDPOINT = "10.0.0.2:6443";
const b64 = (n: number, fill: number) => Buffer.from(new Uint8Array(n).fill(fill)).toString("base64");

let attester: SoftwareAttester;
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
const servers: AtlsServer[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  attester = await createSoftwareAttester();
  ca = await generateCa({ commonName: "kubernetes" });
  otherCa = await generateCa({ commonName: "kubernetes" });
});
afterAll(async () => {
  for (const s of servers) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** How the stand-in JoinService answers the node's CSR. */
type Issue = (csr: Uint8Array) => Promise<{ kubeletCert: string; caCert: string; pins: string[] }>;

/** The honest JoinService: the CSR signed by the cluster CA for the attested worker-0. */
const honest: Issue = async (csr) => ({
  kubeletCert: (
    await issueKubeletCertificate({
      csr,
      identity: { nodeName: "worker-0", ips: ["10.0.0.5"], role: "worker" },
      usages: ["client", "serving"],
      ca,
    })
  ).certPem,
  caCert: ca.certPem,
  pins: [await caCertHash(ca.cert)],
});

/** A certificate for the CSR's key (or `otherKey`) with any subject, signed by `signer`. */
async function forge(
  csr: Uint8Array,
  opts: { subject: string; signer?: CertificateAuthority; otherKey?: boolean },
): Promise<string> {
  const request = new x509.Pkcs10CertificateRequest(new Uint8Array(csr));
  const publicKey = opts.otherKey
    ? (
        (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
          "sign",
          "verify",
        ])) as CryptoKeyPair
      ).publicKey
    : await request.publicKey.export(crypto);
  const signer = opts.signer ?? ca;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: "01",
      subject: opts.subject,
      issuer: signer.cert.subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      publicKey,
      signingKey: signer.key,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.clientAuth,
          x509.ExtendedKeyUsage.serverAuth,
        ]),
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "worker-0" }]),
      ],
    },
    crypto,
  );
  return cert.toString("pem");
}

async function joinService(issue: Issue, extra: Record<string, unknown> = {}): Promise<string> {
  const server = await serveAttested(
    {
      fetch: async (req: Request) => {
        const { csr } = (await req.json()) as { csr: string };
        const t = await issue(fromBase64(csr));
        return Response.json({
          diskKey: b64(32, 1),
          measurementSecret: b64(32, 2),
          measurementSalt: b64(32, 3),
          kubeletCert: t.kubeletCert,
          caCert: t.caCert,
          apiServerEndpoint: ENDPOINT,
          token: "abcdef.0123456789abcdef",
          caCertHashes: t.pins,
          controlPlaneFiles: [],
          kubernetesVersion: "",
          kubernetesComponents: [],
          ...extra,
        });
      },
    },
    { mode: "client-attested", validators: [attester.validator()] },
  );
  servers.push(server);
  return `https://127.0.0.1:${server.port}`;
}

interface Harness {
  readonly node: ReturnType<typeof createNode>;
  readonly root: string;
  readonly pkiDir: string;
  readonly paths: KubeletPaths | undefined;
  readonly statuses: Status[];
  readonly logger: ReturnType<typeof createMemoryLogger>;
  /** What kubeadm was given, and whether kubelet.conf existed at that moment. */
  readonly kubeadm: { config?: string; kubeletConfExisted?: boolean };
  readonly locked: () => number;
  readonly diskActivations: () => number;
}

function harness(opts: {
  role: "worker" | "control-plane";
  name: string;
  endpoint?: string;
  local?: boolean;
  joinTimeoutMs?: number;
  initSecretHash?: string;
}): Harness {
  const root = mkdtempSync(join(tmpdir(), "asterism-node-kubelet-"));
  dirs.push(root);
  const paths: KubeletPaths | undefined = opts.local
    ? undefined
    : {
        kubeconfig: join(root, "etc/kubernetes/kubelet.conf"),
        certDir: join(root, "var/lib/kubelet/pki"),
        patchesDir: join(root, "run/kubeadm/patches"),
      };
  const kubeadm: Harness["kubeadm"] = {};
  const record = (config: string) => {
    kubeadm.config = config;
    kubeadm.kubeletConfExisted = paths !== undefined && existsSync(paths.kubeconfig);
    return Promise.resolve({ performed: !opts.local, output: "" });
  };
  const installer = {
    install: async () => ({ performed: !opts.local, installed: [], skipped: [] }),
    runKubeadmInit: record,
    runKubeadmJoin: record,
  } as unknown as KubernetesInstaller;
  let locked = 0;
  const lock = {
    holder: undefined,
    tryActivate: async () => {
      locked++;
      return true;
    },
  } as unknown as NodeLock;
  let diskActivations = 0;
  const disk = {
    activate: async () => {
      diskActivations++;
    },
    markUninitialized: async () => {},
  } as unknown as StateDisk;
  const statuses: Status[] = [];
  const logger = createMemoryLogger();
  const node = createNode({
    tpm: {} as never,
    issuer: attester.issuer as Issuer,
    identity: { name: opts.name, role: opts.role, ips: ["10.0.0.5"] },
    lock,
    disk,
    diskState: { kind: "fresh", uuid: DISK },
    installer,
    applyManifests: async () => ({ objects: 0 }),
    metadata: {
      instances: async () => [
        { name: "cp-0", role: "control-plane", ips: ["10.0.0.2"], endpoints: { join: opts.endpoint ?? "" } },
      ],
    } as unknown as MetadataClient,
    initSecret: opts.initSecretHash ? createInitSecretChecker(opts.initSecretHash) : undefined,
    runDir: join(root, "run"),
    pkiDir: join(root, "pki"),
    ...(paths ? { kubelet: paths } : {}),
    backoff: { baseMs: 10, capMs: 40 },
    joinTimeoutMs: opts.joinTimeoutMs ?? 30_000,
    logger,
    now: () => new Date(),
    onStatus: (s) => statuses.push(s),
  });
  node.activated.catch(() => undefined);
  return {
    node,
    root,
    pkiDir: join(root, "pki"),
    paths,
    statuses,
    logger,
    kubeadm,
    locked: () => locked,
    diskActivations: () => diskActivations,
  };
}

const mode = (p: string) => statSync(p).mode & 0o777;

/** kubelet.conf as the kubelet reads it: server, CA and the client certificate it points at. */
function readKubeletConf(path: string) {
  const conf = parse(readFileSync(path, "utf8"));
  const ctx = conf.contexts.find((c: { name: string }) => c.name === conf["current-context"]).context;
  const cluster = conf.clusters.find((c: { name: string }) => c.name === ctx.cluster).cluster;
  const user = conf.users.find((u: { name: string }) => u.name === ctx.user).user;
  const caPem = Buffer.from(cluster["certificate-authority-data"], "base64").toString();
  const pem = readFileSync(user["client-certificate"], "utf8");
  const cert = new x509.X509Certificate(pem.slice(0, pem.indexOf("-----BEGIN PRIVATE KEY-----")));
  return { server: cluster.server as string, caPem, cert, user };
}

describe("join: the ticket's certificate is the kubelet's identity", () => {
  test("kubelet.conf, certificate store and serving pair are written before kubeadm join, which ignores exactly the kubelet.conf check", async () => {
    const h = harness({ role: "worker", name: "worker-0", endpoint: await joinService(honest) });
    await h.node.join();
    expect(h.statuses.at(-1)?.phase).toBe("done");
    const paths = h.paths as KubeletPaths;
    // kubeadm join ran with kubelet.conf already in place (it waits for that file; the kubelet skips
    // its bootstrap kubeconfig when this one is valid).
    expect(h.kubeadm.kubeletConfExisted).toBe(true);
    const cfg = parse(h.kubeadm.config as string);
    expect(cfg.kind).toBe("JoinConfiguration");
    expect(cfg.nodeRegistration.ignorePreflightErrors).toEqual([KUBELET_CONF_PREFLIGHT_CHECK]);
    expect(cfg.patches).toEqual({ directory: paths.patchesDir });
    expect(cfg.controlPlane).toBeUndefined();
    // The kubeconfig: server = the ticket's endpoint, CA = the cluster CA, client = the attested certificate.
    const conf = readKubeletConf(paths.kubeconfig);
    expect(conf.server).toBe(`https://${ENDPOINT}`);
    expect(new x509.X509Certificate(conf.caPem).equal(ca.cert)).toBe(true);
    expect(conf.cert.subject).toBe("CN=system:node:worker-0, O=system:nodes");
    expect(await conf.cert.verify({ publicKey: ca.cert, signatureOnly: true })).toBe(true);
    const current = join(paths.certDir, "kubelet-client-current.pem");
    expect(conf.user["client-certificate"]).toBe(current);
    expect(conf.user["client-key"]).toBe(current);
    expect(lstatSync(current).isSymbolicLink()).toBe(true);
    expect(readlinkSync(current)).toMatch(/\/kubelet-client-\d{4}(-\d\d){5}\.pem$/);
    expect(mode(current)).toBe(0o600);
    expect(mode(paths.kubeconfig)).toBe(0o600);
    expect(mode(join(paths.certDir, "kubelet.key"))).toBe(0o600);
    expect(parse(readFileSync(join(paths.patchesDir, "kubeletconfiguration+merge.yaml"), "utf8"))).toEqual({
      rotateCertificates: true,
      serverTLSBootstrap: false,
      tlsCertFile: join(paths.certDir, "kubelet.crt"),
      tlsPrivateKeyFile: join(paths.certDir, "kubelet.key"),
    });
    // A worker gets no ca.crt from us: kubeadm join's preflight requires it absent and writes it itself.
    expect(existsSync(join(h.pkiDir, "ca.crt"))).toBe(false);
    expect(h.logger.lines.some((l) => l["msg"] === "node.kubelet_identity_written")).toBe(true);
  });

  test("local installer (no kubeadm): the checked pair goes to <pkiDir>/kubelet.crt|key as before, no kubelet.conf", async () => {
    const h = harness({ role: "worker", name: "worker-0", endpoint: await joinService(honest), local: true });
    await h.node.join();
    expect(h.statuses.at(-1)?.phase).toBe("done");
    const cert = new x509.X509Certificate(readFileSync(join(h.pkiDir, "kubelet.crt"), "utf8"));
    expect(cert.subject).toBe("CN=system:node:worker-0, O=system:nodes");
    expect(mode(join(h.pkiDir, "kubelet.key"))).toBe(0o600);
    expect(existsSync(join(h.root, "etc"))).toBe(false);
    const cfg = parse(h.kubeadm.config as string);
    expect(cfg.nodeRegistration.ignorePreflightErrors).toBeUndefined();
    expect(cfg.patches).toBeUndefined();
  });
});

describe("join: a ticket whose certificate is not this node's is refused before anything is written", () => {
  const cases: { name: string; issue: Issue; code: string }[] = [
    {
      name: "a certificate naming another node",
      issue: async (csr) => ({
        kubeletCert: await forge(csr, { subject: "CN=system:node:worker-9, O=system:nodes" }),
        caCert: ca.certPem,
        pins: [await caCertHash(ca.cert)],
      }),
      code: "CERT_NAME_MISMATCH",
    },
    {
      name: "a certificate naming this node for another key",
      issue: async (csr) => ({
        kubeletCert: await forge(csr, { subject: "CN=system:node:worker-0, O=system:nodes", otherKey: true }),
        caCert: ca.certPem,
        pins: [await caCertHash(ca.cert)],
      }),
      code: "CERT_KEY_MISMATCH",
    },
    {
      name: "a certificate from a CA the ticket does not pin",
      issue: async (csr) => ({
        kubeletCert: await forge(csr, {
          subject: "CN=system:node:worker-0, O=system:nodes",
          signer: otherCa,
        }),
        caCert: otherCa.certPem,
        pins: [await caCertHash(ca.cert)],
      }),
      code: "CA_PIN_MISMATCH",
    },
  ];

  test.each(cases)("$name", async ({ issue, code }) => {
    const h = harness({
      role: "worker",
      name: "worker-0",
      endpoint: await joinService(issue),
      joinTimeoutMs: 600,
    });
    await h.node.join();
    // Retried as an invalid answer until the deadline (another JoinService may be honest), then given up.
    const retries = h.logger.lines.filter((l) => l["msg"] === "join.retry");
    expect(retries.length).toBeGreaterThan(0);
    for (const r of retries) expect(String(r["error"])).toContain(`INVALID_RESPONSE`);
    expect(retries.every((r) => String(r["error"]).includes(code))).toBe(true);
    expect(h.statuses.at(-1)).toMatchObject({ phase: "failed", error: "JOIN_TIMEOUT" });
    // Never locked, never touched the disk, never ran kubeadm, wrote nothing.
    expect(h.locked()).toBe(0);
    expect(h.diskActivations()).toBe(0);
    expect(h.kubeadm.config).toBeUndefined();
    for (const d of ["etc", "var", "pki", "run/kubeadm"]) expect(existsSync(join(h.root, d))).toBe(false);
  });
});

describe("join: a ticket the node cannot use", () => {
  test("an unpinned component: status failed JOIN_TICKET_UNUSABLE before the lock, nothing written", async () => {
    const endpoint = await joinService(honest, {
      kubernetesComponents: [
        { url: "https://example.com/kubeadm", hash: "", installPath: "/usr/bin/kubeadm" },
      ],
    });
    const h = harness({ role: "worker", name: "worker-0", endpoint });
    let rejected: unknown;
    h.node.activated.catch((err) => {
      rejected = err;
    });
    await h.node.join();
    expect(h.statuses.at(-1)).toMatchObject({ phase: "failed", error: "JOIN_TICKET_UNUSABLE" });
    expect(rejected).toBeDefined();
    expect(h.locked()).toBe(0);
    expect(h.kubeadm.config).toBeUndefined();
    for (const d of ["etc", "var", "pki"]) expect(existsSync(join(h.root, d))).toBe(false);
  });
});

describe("init: the init node's own certificate is its kubelet's identity", () => {
  test("kubelet.conf (same CA as ca.crt, the control-plane endpoint) before kubeadm init; the KubeletConfiguration names the serving pair", async () => {
    const secret = "init-secret-for-the-kubelet-test";
    const h = harness({
      role: "control-plane",
      name: "cp-0",
      initSecretHash: await Bun.password.hash(secret, { algorithm: "bcrypt", cost: 4 }),
    });
    const req = v.parse(InitRequestSchema, {
      initSecret: Buffer.from(secret).toString("base64"),
      masterSecret: { key: b64(32, 7), salt: b64(32, 8) },
      measurementSalt: b64(32, 9),
      kubernetesVersion: "v1.31.13",
      kubernetesComponents: [],
      serviceCidr: "10.96.0.0/12",
      controlPlaneEndpoint: ENDPOINT,
    });
    await h.node.init(req);
    const paths = h.paths as KubeletPaths;
    expect(h.kubeadm.kubeletConfExisted).toBe(true);
    const docs = parseAllDocuments(h.kubeadm.config as string).map((d) => d.toJS());
    expect(docs.map((d) => d.kind)).toEqual([
      "InitConfiguration",
      "ClusterConfiguration",
      "KubeletConfiguration",
    ]);
    expect(docs[0].patches).toEqual({ directory: paths.patchesDir });
    expect(docs[2]).toMatchObject({
      rotateCertificates: true,
      serverTLSBootstrap: false,
      tlsCertFile: join(paths.certDir, "kubelet.crt"),
      tlsPrivateKeyFile: join(paths.certDir, "kubelet.key"),
    });
    const conf = readKubeletConf(paths.kubeconfig);
    expect(conf.server).toBe(`https://${ENDPOINT}`);
    // kubeadm init keeps an existing kubelet.conf only if its CA equals ca.crt (whitespace-trimmed).
    expect(conf.caPem.trim()).toBe(
      new x509.X509Certificate(readFileSync(join(h.pkiDir, "ca.crt"), "utf8")).toString("pem").trim(),
    );
    expect(conf.cert.subject).toBe("CN=system:node:cp-0, O=system:nodes");
    expect(
      await conf.cert.verify({ publicKey: new x509.X509Certificate(conf.caPem), signatureOnly: true }),
    ).toBe(true);
  });
});
