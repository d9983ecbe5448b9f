import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CsrSpec, makeCsr, openssl, p256Keys, seededBytes, TEST_NOW } from "./_test-helpers.ts";
import { type CertificateAuthority, generateCa } from "./ca.ts";
import { CsrError, CsrPolicyError, JoinPolicyError } from "./errors.ts";
import { issueKubeletCertificate, type KubeletCertUsage } from "./kubelet-cert.ts";
import { x509 } from "./x509.ts";

const deps = { now: () => TEST_NOW, randomBytes: seededBytes(42) };
const identity = { nodeName: "worker-1", ips: ["10.0.0.5", "2001:db8::5"], role: "worker" as const };
let ca: CertificateAuthority;
let dir: string;

beforeAll(async () => {
  ca = await generateCa({ commonName: "kubernetes" }, deps);
  dir = await mkdtemp(join(tmpdir(), "kubelet-cert-"));
  await writeFile(join(dir, "ca.crt"), ca.certPem);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function opensslVerify(certPem: string, purpose: "sslclient" | "sslserver"): Promise<string> {
  await writeFile(join(dir, "leaf.crt"), certPem);
  const at = String(Math.floor(TEST_NOW.getTime() / 1000) + 3600);
  return new TextDecoder().decode(
    await openssl(
      ["verify", "-attime", at, "-purpose", purpose, "-CAfile", join(dir, "ca.crt"), join(dir, "leaf.crt")],
      "",
    ),
  );
}

async function issue(spec: CsrSpec, usages: KubeletCertUsage[] = ["client"], extra: object = {}) {
  return issueKubeletCertificate({ csr: await makeCsr(spec), identity, usages, ca, ...extra }, deps);
}

describe("issueKubeletCertificate: what it signs", () => {
  test("client certificate: attested subject, clientAuth only, no SANs, chains to the CA", async () => {
    const c = await issue({ ips: ["10.0.0.5"] });
    expect(c.cert.subject).toBe("CN=system:node:worker-1, O=system:nodes");
    expect(c.cert.issuer).toBe("CN=kubernetes");
    expect(c.cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.clientAuth,
    ]);
    expect(c.cert.getExtension(x509.SubjectAlternativeNameExtension)).toBeNull();
    expect(c.cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(c.cert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(c.notBefore.getTime()).toBe(TEST_NOW.getTime() - 5 * 60_000);
    expect(c.notAfter.getTime()).toBe(TEST_NOW.getTime() + 365 * 24 * 3_600_000);
    expect(await opensslVerify(c.certPem, "sslclient")).toContain(": OK");
    await expect(opensslVerify(c.certPem, "sslserver")).rejects.toThrow();
  });

  test("serving certificate: SANs are the attested name and IPs", async () => {
    const c = await issue({ dns: ["worker-1"], ips: ["2001:DB8:0::5"] }, ["serving"]);
    const sans = c.cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON();
    expect(sans).toEqual([
      { type: "dns", value: "worker-1" },
      { type: "ip", value: "10.0.0.5" },
      { type: "ip", value: "2001:db8::5" },
    ]);
    expect(await opensslVerify(c.certPem, "sslserver")).toContain(": OK");
  });

  test("client+serving in one certificate", async () => {
    const c = await issue({}, ["client", "serving"]);
    expect(c.cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.clientAuth,
      x509.ExtendedKeyUsage.serverAuth,
    ]);
  });

  test("RSA-2048 request gets keyEncipherment too; serials are random and distinct", async () => {
    const spec = {
      algorithm: {
        name: "RSASSA-PKCS1-v1_5",
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: "SHA-256",
      },
      signingAlgorithm: { name: "RSASSA-PKCS1-v1_5" },
    };
    const a = await issue(spec);
    expect(a.cert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
    );
    const b = await issue({});
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(a.serialNumber).toMatch(/^[4-7][0-9a-f]{31}$/);
  });

  test("an RSA-2048 cluster CA (migrated Constellation/kubeadm cluster) signs verifiable certificates", async () => {
    const rsaCa = await generateCa({ commonName: "kubernetes", algorithm: "RSA-2048" }, deps);
    const c = await issueKubeletCertificate(
      { csr: await makeCsr({}), identity, usages: ["client"], ca: rsaCa },
      deps,
    );
    expect(c.cert.signatureAlgorithm.name).toBe("RSASSA-PKCS1-v1_5");
    expect(await c.cert.verify({ publicKey: rsaCa.cert.publicKey, signatureOnly: true }, crypto)).toBe(true);
  });

  test("never outlives the CA", async () => {
    const shortCa = await generateCa({ commonName: "kubernetes", validityMs: 2 * 3_600_000 }, deps);
    const c = await issueKubeletCertificate(
      { csr: await makeCsr({}), identity, usages: ["client"], ca: shortCa },
      deps,
    );
    expect(c.notAfter.getTime()).toBe(shortCa.cert.notAfter.getTime());
  });
});

describe("issueKubeletCertificate: rejections", () => {
  const other = async () =>
    (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
  const cases: {
    name: string;
    spec: () => Promise<CsrSpec>;
    wantClass: typeof CsrError | typeof CsrPolicyError;
    wantCode: string;
  }[] = [
    {
      name: "CN of another node",
      spec: async () => ({ subject: "CN=system:node:worker-2, O=system:nodes" }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_NAME_MISMATCH",
    },
    {
      name: "CN of a node-name prefix",
      spec: async () => ({ subject: "CN=system:node:worker-10, O=system:nodes" }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_NAME_MISMATCH",
    },
    {
      name: "DNS SAN of another node",
      spec: async () => ({ dns: ["worker-2"] }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_NAME_MISMATCH",
    },
    {
      name: "IP SAN not attested",
      spec: async () => ({ ips: ["10.0.0.6"] }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_IP_MISMATCH",
    },
    {
      name: "IPv4-mapped form of an attested IP",
      spec: async () => ({ ips: ["::ffff:10.0.0.5"] }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_IP_MISMATCH",
    },
    {
      name: "O=system:masters",
      spec: async () => ({ subject: "CN=system:node:worker-1, O=system:masters" }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_SUBJECT_INVALID",
    },
    {
      name: "second O",
      spec: async () => ({ subject: "CN=system:node:worker-1, O=system:nodes, O=system:masters" }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_SUBJECT_INVALID",
    },
    {
      name: "extra OU",
      spec: async () => ({ subject: "CN=system:node:worker-1, O=system:nodes, OU=x" }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_SUBJECT_INVALID",
    },
    {
      name: "missing O",
      spec: async () => ({ subject: "CN=system:node:worker-1" }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_SUBJECT_INVALID",
    },
    {
      name: "CN without node prefix",
      spec: async () => ({ subject: "CN=worker-1, O=system:nodes" }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_SUBJECT_INVALID",
    },
    {
      name: "e-mail SAN",
      spec: async () => ({ emails: ["a@b.c"] }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_SAN_FORBIDDEN",
    },
    {
      name: "URI SAN",
      spec: async () => ({ uris: ["spiffe://x/y"] }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_SAN_FORBIDDEN",
    },
    {
      name: "requested CA:TRUE extension",
      spec: async () => ({ extraExtensions: [new x509.BasicConstraintsExtension(true)] }),
      wantClass: CsrPolicyError,
      wantCode: "CSR_EXTENSION_FORBIDDEN",
    },
    {
      name: "signature by a different key",
      spec: async () => ({
        keys: { publicKey: (await p256Keys()).publicKey, privateKey: (await other()).privateKey },
      }),
      wantClass: CsrError,
      wantCode: "CSR_SIGNATURE_INVALID",
    },
    {
      name: "RSA-1024 key",
      spec: async () => ({
        algorithm: {
          name: "RSASSA-PKCS1-v1_5",
          modulusLength: 1024,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-256",
        },
        signingAlgorithm: { name: "RSASSA-PKCS1-v1_5" },
      }),
      wantClass: CsrError,
      wantCode: "CSR_KEY_WEAK",
    },
    {
      name: "P-521 key",
      spec: async () => ({
        algorithm: { name: "ECDSA", namedCurve: "P-521" },
        signingAlgorithm: { name: "ECDSA", hash: "SHA-512" },
      }),
      wantClass: CsrError,
      wantCode: "CSR_KEY_UNSUPPORTED",
    },
    {
      name: "SHA-1 signature",
      spec: async () => ({
        algorithm: {
          name: "RSASSA-PKCS1-v1_5",
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-1",
        },
        signingAlgorithm: { name: "RSASSA-PKCS1-v1_5" },
      }),
      wantClass: CsrError,
      wantCode: "CSR_SIGNATURE_ALGORITHM_UNSUPPORTED",
    },
  ];
  test.each(cases)("$name → $wantCode", async ({ spec, wantClass, wantCode }) => {
    const err = await issue(await spec(), ["client", "serving"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(wantClass);
    expect((err as CsrError).code).toBe(wantCode as CsrError["code"]);
  });

  test.each([
    {
      name: "flipped signature byte",
      mutate: (b: Uint8Array) => {
        b[b.length - 3] = (b[b.length - 3] as number) ^ 1;
      },
      wantCode: "CSR_SIGNATURE_INVALID",
    },
    {
      name: "flipped subject byte",
      mutate: (b: Uint8Array) => {
        const i = Buffer.from(b).indexOf("worker-1");
        b[i] = "v".charCodeAt(0);
      },
      wantCode: "CSR_SIGNATURE_INVALID",
    },
  ])("$name → $wantCode", async ({ mutate, wantCode }) => {
    const der = await makeCsr({ subject: "CN=system:node:worker-1, O=system:nodes" });
    mutate(der);
    const err = await issueKubeletCertificate({ csr: der, identity, usages: ["client"], ca }, deps).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CsrError);
    expect((err as CsrError).code).toBe(wantCode as CsrError["code"]);
  });

  test.each([
    { name: "empty", make: async () => new Uint8Array(0), wantCode: "CSR_TOO_LARGE" },
    { name: "oversized", make: async () => new Uint8Array(16 * 1024 + 1), wantCode: "CSR_TOO_LARGE" },
    { name: "garbage", make: async () => new Uint8Array([1, 2, 3, 4]), wantCode: "CSR_MALFORMED" },
    { name: "truncated", make: async () => (await makeCsr({})).slice(0, 100), wantCode: "CSR_MALFORMED" },
    {
      name: "trailing byte",
      make: async () => new Uint8Array([...(await makeCsr({})), 0]),
      wantCode: "CSR_MALFORMED",
    },
  ])("$name input → $wantCode", async ({ make, wantCode }) => {
    const err = await issueKubeletCertificate(
      { csr: await make(), identity, usages: ["client"], ca },
      deps,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CsrError);
    expect((err as CsrError).code).toBe(wantCode as CsrError["code"]);
  });

  test.each([
    {
      name: "upper-case node name",
      input: { identity: { ...identity, nodeName: "Worker-1" } },
      wantCode: "IDENTITY_INVALID",
    },
    {
      name: "node name with a comma",
      input: { identity: { ...identity, nodeName: "w,O=system:masters" } },
      wantCode: "IDENTITY_INVALID",
    },
    {
      name: "IP with zone id",
      input: { identity: { ...identity, ips: ["fe80::1%eth0"] } },
      wantCode: "IDENTITY_INVALID",
    },
    {
      name: "unknown role",
      input: { identity: { ...identity, role: "admin" } },
      wantCode: "IDENTITY_INVALID",
    },
    {
      name: "two-year validity",
      input: { validityMs: 2 * 365 * 24 * 3_600_000 },
      wantCode: "VALIDITY_INVALID",
    },
    { name: "no usages", input: { usages: [] }, wantCode: "USAGES_INVALID" },
    { name: "unknown usage", input: { usages: ["signing"] }, wantCode: "USAGES_INVALID" },
  ])("$name → $wantCode", async ({ input, wantCode }) => {
    const err = await issueKubeletCertificate(
      { csr: await makeCsr({}), identity, usages: ["client"], ca, ...(input as object) },
      deps,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JoinPolicyError);
    expect((err as JoinPolicyError).code).toBe(wantCode as JoinPolicyError["code"]);
  });
});
