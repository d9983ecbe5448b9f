// checkKubeletCredential on mutated join tickets: mutated certificate DER, mutated CA DER and random PEM
// text only ever raise the module's typed errors, and a mutation that passes still names exactly this node
// under the pinned CA.
import { beforeAll, describe, expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { encodePem } from "./_pem.ts";
import { makeCsr, seededBytes, TEST_NOW } from "./_test-helpers.ts";
import { caCertHash, generateCa } from "./ca.ts";
import { KubeletCredentialError, KubeletCredentialPolicyError, PkiError } from "./errors.ts";
import { issueKubeletCertificate } from "./kubelet-cert.ts";
import { checkKubeletCredential, type KubeletCredentialInput } from "./kubelet-credential.ts";
import { x509 } from "./x509.ts";

const deps = { now: () => TEST_NOW, randomBytes: seededBytes(5) };
const identity = { nodeName: "worker-1", ips: ["10.0.0.5"] };
let honest: KubeletCredentialInput;
let certDer: Uint8Array;
let caDer: Uint8Array;

beforeAll(async () => {
  const ca = await generateCa({ commonName: "kubernetes" }, deps);
  const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const csr = await makeCsr({ dns: ["worker-1"], ips: ["10.0.0.5"], keys });
  const cert = await issueKubeletCertificate(
    { csr, identity: { ...identity, role: "worker" }, usages: ["client", "serving"], ca },
    deps,
  );
  certDer = new Uint8Array(cert.cert.rawData);
  caDer = new Uint8Array(ca.cert.rawData);
  honest = {
    certPem: cert.certPem,
    keyPem: encodePem("PRIVATE KEY", new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey))),
    caCertPem: ca.certPem,
    caCertHashes: [await caCertHash(ca.cert)],
    identity,
  };
});

const mutations = fc.array(
  fc.tuple(
    fc.constantFrom("flip", "set", "insert", "delete", "truncate"),
    fc.nat(),
    fc.integer({ min: 0, max: 255 }),
  ),
  { minLength: 1, maxLength: 4 },
);

function mutate(valid: Uint8Array, ops: [string, number, number][]): Uint8Array {
  let b = Array.from(valid);
  for (const [op, pos, val] of ops) {
    const i = b.length === 0 ? 0 : pos % b.length;
    if (op === "flip") b[i] = (b[i] ?? 0) ^ (1 << (val % 8));
    else if (op === "set") b[i] = val;
    else if (op === "insert") b.splice(i, 0, val);
    else if (op === "delete") b.splice(i, 1);
    else b = b.slice(0, i);
  }
  return new Uint8Array(b);
}

function onlyTyped(e: unknown): void {
  if (
    !(
      e instanceof PkiError ||
      e instanceof KubeletCredentialError ||
      e instanceof KubeletCredentialPolicyError
    )
  )
    throw e;
  expect(typeof e.code).toBe("string");
}

async function check(over: Partial<KubeletCredentialInput>): Promise<void> {
  try {
    const c = await checkKubeletCredential({ ...honest, ...over }, deps);
    // Only a mutation that left the signed content intact can pass, and then it is this node's certificate.
    expect(new x509.X509Certificate(c.certPem).subject).toBe("CN=system:node:worker-1, O=system:nodes");
  } catch (e) {
    onlyTyped(e);
  }
}

describe("checkKubeletCredential (fuzz)", () => {
  test("mutated kubelet certificates: typed refusals only", async () => {
    await fc.assert(
      fc.asyncProperty(mutations, async (ops) =>
        check({ certPem: encodePem("CERTIFICATE", mutate(certDer, ops)) }),
      ),
      { numRuns: fuzzRuns(200) },
    );
  });

  test("mutated CA certificates: typed refusals only", async () => {
    await fc.assert(
      fc.asyncProperty(mutations, async (ops) =>
        check({ caCertPem: encodePem("CERTIFICATE", mutate(caDer, ops)) }),
      ),
      { numRuns: fuzzRuns(200) },
    );
  });

  test("random PEM-ish text for every field: typed refusals only", async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc
        .tuple(fc.constantFrom("CERTIFICATE", "PRIVATE KEY", "X"), fc.base64String({ maxLength: 400 }))
        .map(([label, b64]) => `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("certPem", "caCertPem", "keyPem"), text, async (field, value) =>
        check({ [field]: value }),
      ),
      { numRuns: fuzzRuns(300) },
    );
  });
});
