import { describe, expect, test } from "bun:test";
import { readTestdata } from "@asterism/testing";
import { openssl, opensslPin, seededBytes, TEST_NOW } from "./_test-helpers.ts";
import { CA_COMMON_NAMES, caCertHash, generateCa, generateClusterPki, loadCa } from "./ca.ts";
import { PkiError } from "./errors.ts";
import { x509 } from "./x509.ts";

const deps = { now: () => TEST_NOW, randomBytes: seededBytes() };
const SNP = ["constellation", "internal", "attestation", "snp", "testdata"];

describe("caCertHash (kubeadm --discovery-token-ca-cert-hash)", () => {
  // Pins computed independently on 2026-11-25 with:
  //   openssl x509 -pubkey -noout < F | openssl pkey -pubin -outform der | sha256sum
  test.each([
    {
      name: "EC P-384 VCEK",
      file: "vcek.pem",
      pin: "sha256:8fe7fe71199ca4947975771c37452f586c00367d9d742a59f200a6199f138416",
    },
    {
      name: "RSA-4096 ASK (first of certchain.pem)",
      file: "certchain.pem",
      pin: "sha256:42491669ccb851d627ea9846cd24eccbeb7de7c2a62740120fff88001d38ebb6",
    },
  ])("$name matches the openssl pin", async ({ file, pin }) => {
    const pem = new TextDecoder().decode(await readTestdata(...SNP, file));
    const first = pem.slice(0, pem.indexOf("-----END CERTIFICATE-----") + 25);
    expect(await caCertHash(first)).toBe(pin);
    expect(await caCertHash(new Uint8Array(new x509.X509Certificate(first).rawData))).toBe(pin);
  });

  test("a generated CA's pin equals the one openssl computes", async () => {
    const ca = await generateCa({ commonName: "kubernetes" }, deps);
    expect(await caCertHash(ca.cert)).toBe(await opensslPin(ca.certPem));
  });

  test("garbage is a coded parse error", async () => {
    await expect(caCertHash("not a cert")).rejects.toMatchObject({ code: "PEM_INVALID" });
    await expect(caCertHash(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))).rejects.toBeInstanceOf(PkiError);
  });
});

describe("generateCa", () => {
  test("kubeadm-shaped P-256 CA that openssl accepts as a CA", async () => {
    const ca = await generateCa({ commonName: CA_COMMON_NAMES.ca }, deps);
    expect(ca.cert.subject).toBe("CN=kubernetes");
    expect(ca.cert.notBefore.getTime()).toBe(TEST_NOW.getTime() - 5 * 60_000);
    expect(ca.cert.notAfter.getTime()).toBe(TEST_NOW.getTime() + 87_600 * 3_600_000);
    expect(ca.cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    expect(ca.cert.serialNumber).toMatch(/^[4-7][0-9a-f]{31}$/);
    expect(ca.keyPem).toContain("-----BEGIN PRIVATE KEY-----");
    const text = new TextDecoder().decode(await openssl(["x509", "-noout", "-text"], ca.certPem));
    expect(text).toContain("CA:TRUE");
    expect(text).toContain("Certificate Sign");
    expect(text).toContain("ecdsa-with-SHA256");
    // openssl reads the PKCS#8 key and finds it matches the certificate.
    await openssl(["pkey", "-noout"], ca.keyPem);
  });

  test("RSA-2048 CA works too (a migrated Constellation/kubeadm CA is RSA)", async () => {
    const ca = await generateCa({ commonName: "kubernetes", algorithm: "RSA-2048" }, deps);
    expect(ca.cert.signatureAlgorithm.name).toBe("RSASSA-PKCS1-v1_5");
  });
});

describe("loadCa", () => {
  test("round-trips a generated CA", async () => {
    const ca = await generateCa({ commonName: "etcd-ca" }, deps);
    const again = await loadCa(ca.certPem, ca.keyPem, deps);
    expect(again.cert.subject).toBe("CN=etcd-ca");
  });

  test("accepts SEC1 (EC PRIVATE KEY) and PKCS#1 (RSA PRIVATE KEY) keys as kubeadm writes them", async () => {
    for (const algorithm of ["ECDSA-P256", "RSA-2048"] as const) {
      const ca = await generateCa({ commonName: "kubernetes", algorithm }, deps);
      const traditional = new TextDecoder().decode(await openssl(["pkey", "-traditional"], ca.keyPem));
      expect(traditional).toMatch(/BEGIN (EC|RSA) PRIVATE KEY/);
      await loadCa(ca.certPem, traditional, deps);
    }
  });

  const cases: { name: string; wantCode: string; make: () => Promise<[string, string]> }[] = [
    {
      name: "key of another CA",
      wantCode: "KEY_MISMATCH",
      make: async () => {
        const [a, b] = await Promise.all([
          generateCa({ commonName: "a" }, deps),
          generateCa({ commonName: "b" }, deps),
        ]);
        return [a.certPem, b.keyPem];
      },
    },
    {
      name: "garbage key",
      wantCode: "PEM_INVALID",
      make: async () => [
        (await generateCa({ commonName: "a" }, deps)).certPem,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      ],
    },
    {
      name: "garbage certificate",
      wantCode: "PEM_INVALID",
      make: async () => ["nope", (await generateCa({ commonName: "a" }, deps)).keyPem],
    },
    {
      name: "expired CA",
      wantCode: "CA_EXPIRED",
      make: async () => {
        const ca = await generateCa(
          { commonName: "a", validityMs: 1000 },
          { ...deps, now: () => new Date(TEST_NOW.getTime() - 3_600_000) },
        );
        return [ca.certPem, ca.keyPem];
      },
    },
    {
      name: "leaf certificate (CA:FALSE)",
      wantCode: "CA_INVALID",
      make: async () => {
        const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
          "sign",
          "verify",
        ])) as CryptoKeyPair;
        const cert = await x509.X509CertificateGenerator.createSelfSigned(
          {
            name: "CN=leaf",
            keys,
            notBefore: new Date(TEST_NOW.getTime() - 1000),
            notAfter: new Date(TEST_NOW.getTime() + 1e9),
            signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
            extensions: [new x509.BasicConstraintsExtension(false)],
          },
          crypto,
        );
        const der = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
        return [cert.toString("pem"), x509.PemConverter.encode(der, "PRIVATE KEY")];
      },
    },
    {
      name: "CA certificate whose keyUsage lacks keyCertSign",
      wantCode: "CA_INVALID",
      make: async () => {
        const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
          "sign",
          "verify",
        ])) as CryptoKeyPair;
        const cert = await x509.X509CertificateGenerator.createSelfSigned(
          {
            name: "CN=kubernetes",
            keys,
            notBefore: new Date(TEST_NOW.getTime() - 1000),
            notAfter: new Date(TEST_NOW.getTime() + 1e9),
            signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
            extensions: [
              new x509.BasicConstraintsExtension(true, undefined, true),
              new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
            ],
          },
          crypto,
        );
        const der = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
        return [cert.toString("pem"), x509.PemConverter.encode(der, "PRIVATE KEY")];
      },
    },
    {
      name: "Ed25519 key is not a kubeadm CA key type",
      wantCode: "KEY_UNSUPPORTED",
      make: async () => {
        const pem = new TextDecoder().decode(await openssl(["genpkey", "-algorithm", "ed25519"], ""));
        return [(await generateCa({ commonName: "a" }, deps)).certPem, pem];
      },
    },
  ];
  test.each(cases)("rejects $name", async ({ make, wantCode }) => {
    const [cert, key] = await make();
    const err = await loadCa(cert, key, deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PkiError);
    expect((err as PkiError).code).toBe(wantCode as PkiError["code"]);
  });
});

describe("generateClusterPki", () => {
  test("three CAs with kubeadm names and an RSA service-account key", async () => {
    const pki = await generateClusterPki({}, deps);
    expect(pki.ca.cert.subject).toBe("CN=kubernetes");
    expect(pki.frontProxyCa.cert.subject).toBe("CN=front-proxy-ca");
    expect(pki.etcdCa.cert.subject).toBe("CN=etcd-ca");
    expect(pki.serviceAccount.publicKeyPem).toContain("BEGIN PUBLIC KEY");
    const text = new TextDecoder().decode(
      await openssl(["pkey", "-noout", "-text"], pki.serviceAccount.privateKeyPem),
    );
    expect(text).toContain("2048 bit");
  });
});
