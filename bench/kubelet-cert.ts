/**
 * Kubelet certificate issuance throughput: the JoinService's per-join PKI work (parse + verify CSR, validate
 * against the attested identity, sign) and the whole Kubernetes part of a ticket (plus bootstrap token,
 * Secret validation and CA pin), against the cryptographic floor measured in the same run: one raw WebCrypto
 * ECDSA P-256 verify + one sign. Bounded: ~2 s per case.
 *
 * Run: bun bench/kubelet-cert.ts
 */
import "reflect-metadata";
import { generateClusterPki, issueKubeletCertificate, issueKubernetesJoinMaterial } from "@asterism/kubeadm";
import * as x509 from "@peculiar/x509";

const CASE_MS = 2000;

async function measure(
  name: string,
  fn: () => Promise<unknown>,
): Promise<{ name: string; perSec: number; p50: number; p99: number }> {
  for (let i = 0; i < 20; i++) await fn(); // warm-up
  const times: number[] = [];
  const end = performance.now() + CASE_MS;
  while (performance.now() < end) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const total = times.reduce((a, b) => a + b, 0);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0;
  return { name, perSec: (times.length / total) * 1000, p50: q(0.5), p99: q(0.99) };
}

const pki = await generateClusterPki({ serviceAccountAlgorithm: "ECDSA-P256" });
const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
  "sign",
  "verify",
])) as CryptoKeyPair;
const csr = new Uint8Array(
  (
    await x509.Pkcs10CertificateRequestGenerator.create(
      {
        name: "CN=system:node:worker-1, O=system:nodes",
        keys,
        signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: "ip", value: "10.0.0.5" }])],
      },
      crypto,
    )
  ).rawData,
);
const identity = { nodeName: "worker-1", ips: ["10.0.0.5"], role: "worker" as const };
const tbs = new Uint8Array(400).fill(7);
const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, tbs);
const caSign = pki.ca.key;

const results = [
  await measure("baseline: WebCrypto P-256 verify + sign", async () => {
    await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, keys.publicKey, sig, tbs);
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, caSign, tbs);
  }),
  await measure("issueKubeletCertificate", () =>
    issueKubeletCertificate({ csr, identity, usages: ["client", "serving"], ca: pki.ca }),
  ),
  await measure("issueKubernetesJoinMaterial (worker)", () =>
    issueKubernetesJoinMaterial({ identity, request: { csr, controlPlane: false }, pki }),
  ),
];

const base = results[0]?.perSec ?? 1;
console.log("| case | ops/s | p50 ms | p99 ms | × baseline time |");
console.log("|---|---|---|---|---|");
for (const r of results) {
  console.log(
    `| ${r.name} | ${r.perSec.toFixed(0)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${(base / r.perSec).toFixed(2)} |`,
  );
}
console.log(JSON.stringify({ bench: "kubelet-cert", results }));
