import { beforeAll, describe, expect, test } from "bun:test";
import { makeCsr, seededBytes, TEST_NOW } from "./_test-helpers.ts";
import { type CertificateAuthority, caCertHash, generateCa } from "./ca.ts";
import { KubeletCredentialError, KubeletCredentialPolicyError, PkiError } from "./errors.ts";
import { issueKubeletCertificate, type KubeletCertUsage } from "./kubelet-cert.ts";
import {
  checkKubeletCredential,
  type KubeletCredentialInput,
  MAX_KUBELET_PEM_BYTES,
} from "./kubelet-credential.ts";
import { x509 } from "./x509.ts";

const deps = { now: () => TEST_NOW, randomBytes: seededBytes(7) };
const identity = { nodeName: "worker-1", ips: ["10.0.0.5", "2001:db8::5"] };

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

interface Node {
  readonly keys: CryptoKeyPair;
  readonly keyPem: string;
}
async function node(): Promise<Node> {
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  return { keys, keyPem: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)) };
}

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let me: Node;
let stranger: Node;
let pin: string;

beforeAll(async () => {
  ca = await generateCa({ commonName: "kubernetes" }, deps);
  otherCa = await generateCa({ commonName: "kubernetes" }, deps);
  me = await node();
  stranger = await node();
  pin = await caCertHash(ca.cert);
});

/** A certificate the JoinService would issue (its real code path) for `name`, `ips` and `keys`. */
async function issued(
  opts: {
    name?: string;
    ips?: string[];
    keys?: CryptoKeyPair;
    usages?: KubeletCertUsage[];
    by?: CertificateAuthority;
  } = {},
) {
  const name = opts.name ?? identity.nodeName;
  const ips = opts.ips ?? identity.ips;
  const usages = opts.usages ?? ["client", "serving"];
  const csr = await makeCsr({
    subject: `CN=system:node:${name}, O=system:nodes`,
    ...(usages.includes("serving") ? { dns: [name], ips } : {}),
    keys: opts.keys ?? me.keys,
  });
  const c = await issueKubeletCertificate(
    { csr, identity: { nodeName: name, ips, role: "worker" }, usages, ca: opts.by ?? ca },
    deps,
  );
  return c.certPem;
}

/** A hand-made certificate (what no honest JoinService issues), signed by `signer`. */
async function forged(spec: {
  subject: string;
  issuer?: string;
  signer?: CertificateAuthority;
  eku?: string[];
  ca?: boolean;
  sans?: x509.JsonGeneralName[];
}) {
  const signer = spec.signer ?? ca;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: "0a1b2c",
      subject: spec.subject,
      issuer: spec.issuer ?? signer.cert.subject,
      notBefore: new Date(TEST_NOW.getTime() - 60_000),
      notAfter: new Date(TEST_NOW.getTime() + 86_400_000),
      publicKey: me.keys.publicKey,
      signingKey: signer.key,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams,
      extensions: [
        new x509.BasicConstraintsExtension(spec.ca ?? false, undefined, true),
        new x509.ExtendedKeyUsageExtension(
          spec.eku ?? [x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth],
        ),
        new x509.SubjectAlternativeNameExtension(spec.sans ?? [{ type: "dns", value: "worker-1" }]),
      ],
    },
    crypto,
  );
  return cert.toString("pem");
}

const input = (over: Partial<KubeletCredentialInput>): KubeletCredentialInput => ({
  certPem: "",
  keyPem: me.keyPem,
  caCertPem: ca.certPem,
  caCertHashes: [pin],
  identity,
  ...over,
});

describe("checkKubeletCredential: an honest ticket", () => {
  test("the JoinService's certificate for this node's key passes and comes back in Go's PEM shape", async () => {
    const certPem = await issued();
    const c = await checkKubeletCredential(input({ certPem }), deps);
    expect(c.nodeName).toBe("worker-1");
    expect(c.cert.subject).toBe("CN=system:node:worker-1, O=system:nodes");
    for (const p of [c.certPem, c.caCertPem, c.keyPem]) {
      expect(p.endsWith("-----\n")).toBe(true);
      const body = p.split("\n").slice(1, -2);
      expect(body.slice(0, -1).every((l) => l.length === 64)).toBe(true);
    }
    expect(new x509.X509Certificate(c.caCertPem).equal(ca.cert)).toBe(true);
    expect(new x509.X509Certificate(c.certPem).subject).toBe(c.cert.subject);
  });

  test("whitespace around the PEM and CRLF line ends are accepted", async () => {
    const certPem = (await issued()).replace(/\n/g, "\r\n");
    await checkKubeletCredential(input({ certPem: `\n  ${certPem}\n` }), deps);
  });
});

describe("checkKubeletCredential: refusals, each with its code", () => {
  const cases: {
    name: string;
    make: () => Promise<Partial<KubeletCredentialInput>>;
    error: typeof PkiError | typeof KubeletCredentialError | typeof KubeletCredentialPolicyError;
    code: string;
    now?: Date;
  }[] = [
    {
      name: "a certificate naming another node",
      make: async () => ({ certPem: await issued({ name: "worker-2" }) }),
      error: KubeletCredentialPolicyError,
      code: "CERT_NAME_MISMATCH",
    },
    {
      name: "a control plane's name for a worker's key",
      make: async () => ({ certPem: await issued({ name: "cp-0" }) }),
      error: KubeletCredentialPolicyError,
      code: "CERT_NAME_MISMATCH",
    },
    {
      name: "an extra subject attribute",
      make: async () => ({
        certPem: await forged({ subject: "CN=system:node:worker-1, O=system:nodes, O=system:masters" }),
      }),
      error: KubeletCredentialPolicyError,
      code: "CERT_NAME_MISMATCH",
    },
    {
      name: "the right name in another group",
      make: async () => ({ certPem: await forged({ subject: "CN=system:node:worker-1, O=system:masters" }) }),
      error: KubeletCredentialPolicyError,
      code: "CERT_NAME_MISMATCH",
    },
    {
      name: "a certificate for another node's key",
      make: async () => ({ certPem: await issued({ keys: stranger.keys }) }),
      error: KubeletCredentialError,
      code: "CERT_KEY_MISMATCH",
    },
    {
      name: "a certificate from another CA, sent with the pinned CA",
      make: async () => ({ certPem: await issued({ by: otherCa }) }),
      error: KubeletCredentialError,
      code: "CERT_NOT_FROM_CA",
    },
    {
      name: "the pinned CA's name, another CA's signature",
      make: async () => ({
        certPem: await forged({
          subject: "CN=system:node:worker-1, O=system:nodes",
          issuer: ca.cert.subject,
          signer: otherCa,
        }),
      }),
      error: KubeletCredentialError,
      code: "CERT_NOT_FROM_CA",
    },
    {
      name: "the pinned CA's signature under another issuer name",
      make: async () => ({
        certPem: await forged({
          subject: "CN=system:node:worker-1, O=system:nodes",
          issuer: "CN=front-proxy-ca",
        }),
      }),
      error: KubeletCredentialError,
      code: "CERT_NOT_FROM_CA",
    },
    {
      name: "another CA than the ticket pins, with a certificate it issued",
      make: async () => ({ certPem: await issued({ by: otherCa }), caCertPem: otherCa.certPem }),
      error: KubeletCredentialError,
      code: "CA_PIN_MISMATCH",
    },
    {
      name: "no pin at all",
      make: async () => ({ certPem: await issued(), caCertHashes: [] }),
      error: KubeletCredentialError,
      code: "CA_PIN_MISMATCH",
    },
    {
      name: "expired (clock past notAfter)",
      make: async () => ({ certPem: await issued() }),
      now: new Date(TEST_NOW.getTime() + 400 * 86_400_000),
      error: KubeletCredentialError,
      code: "CERT_NOT_VALID_NOW",
    },
    {
      name: "not yet valid (clock before notBefore)",
      make: async () => ({ certPem: await issued() }),
      now: new Date(TEST_NOW.getTime() - 3_600_000),
      error: KubeletCredentialError,
      code: "CERT_NOT_VALID_NOW",
    },
    {
      name: "client usage only (no serving pair)",
      make: async () => ({ certPem: await issued({ usages: ["client"] }) }),
      error: KubeletCredentialPolicyError,
      code: "CERT_USAGE_INVALID",
    },
    {
      name: "a CA certificate",
      make: async () => ({
        certPem: await forged({ subject: "CN=system:node:worker-1, O=system:nodes", ca: true }),
      }),
      error: KubeletCredentialPolicyError,
      code: "CERT_USAGE_INVALID",
    },
    {
      name: "a serving address the node did not attest",
      make: async () => ({ certPem: await issued({ ips: ["10.0.0.5", "10.9.9.9"] }) }),
      error: KubeletCredentialPolicyError,
      code: "CERT_SAN_MISMATCH",
    },
    {
      name: "another DNS name for serving",
      make: async () => ({
        certPem: await forged({
          subject: "CN=system:node:worker-1, O=system:nodes",
          sans: [
            { type: "dns", value: "worker-1" },
            { type: "dns", value: "kubernetes.default" },
          ],
        }),
      }),
      error: KubeletCredentialPolicyError,
      code: "CERT_SAN_MISMATCH",
    },
    {
      name: "garbage instead of a certificate",
      make: async () => ({ certPem: "not a certificate" }),
      error: PkiError,
      code: "PEM_INVALID",
    },
    {
      name: "a chain instead of one certificate",
      make: async () => ({ certPem: `${await issued()}${ca.certPem}` }),
      error: PkiError,
      code: "PEM_INVALID",
    },
    {
      name: "text around the PEM block",
      make: async () => ({ certPem: `subject=worker-1\n${await issued()}` }),
      error: PkiError,
      code: "PEM_INVALID",
    },
    {
      name: "a certificate larger than the bound",
      make: async () => ({ certPem: `${await issued()}${" ".repeat(MAX_KUBELET_PEM_BYTES)}` }),
      error: PkiError,
      code: "PEM_INVALID",
    },
    {
      name: "a CERTIFICATE block that is no certificate",
      make: async () => ({
        certPem: pem("CERTIFICATE", new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]).buffer),
      }),
      error: PkiError,
      code: "PEM_INVALID",
    },
    {
      name: "a key block of another kind",
      make: async () => ({
        certPem: await issued(),
        keyPem: me.keyPem.replace(/PRIVATE KEY/g, "EC PRIVATE KEY"),
      }),
      error: PkiError,
      code: "PEM_INVALID",
    },
  ];

  test.each(cases)("$name", async ({ make, error, code, now }) => {
    const over = await make();
    let caught: unknown;
    try {
      await checkKubeletCredential(input(over), { ...deps, ...(now ? { now: () => now } : {}) });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(error);
    expect((caught as PkiError).code).toBe(code as PkiError["code"]);
    // Never key material in a message.
    expect((caught as Error).message).not.toContain(me.keyPem.split("\n")[1] as string);
  });
});
