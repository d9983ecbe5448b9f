/**
 * Kubelet certificate issuance throughput: the JoinService's per-join PKI work (parse + verify CSR, validate
 * against the attested identity, sign) and the whole Kubernetes part of a ticket (plus bootstrap token,
 * Secret validation and CA pin), against the cryptographic floor measured in the same run: one raw WebCrypto
 * ECDSA P-256 verify + one sign. Bounded: ~2 s per case (`--seconds=N` or BENCH_SECONDS).
 *
 * Run: bun bench/kubelet-cert.ts
 */
import "reflect-metadata";
import { generateClusterPki, issueKubeletCertificate, issueKubernetesJoinMaterial } from "@asterism/kubeadm";
import * as x509 from "@peculiar/x509";
import { arg, emit, figure, type Measured, machineLine, printTable, sequential } from "./harness.ts";

const CASE_SECONDS = Number(arg("seconds", "2", "BENCH_SECONDS"));
const measure = (name: string, fn: () => Promise<unknown>) =>
  sequential(name, fn, { seconds: CASE_SECONDS, warmup: 20 });

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

const base = results[0] as Measured;
printTable(
  `Kubelet certificate issuance (${machineLine()}, sequential, ${CASE_SECONDS} s per case)`,
  ["case", "ops/s", "p50 ms", "p99 ms", "× baseline time"],
  results.map((r) => [
    r.name,
    r.opsPerSec.toFixed(0),
    r.p50Ms.toFixed(3),
    r.p99Ms.toFixed(3),
    (base.opsPerSec / r.opsPerSec).toFixed(2),
  ]),
);
emit(
  "kubelet-cert",
  results
    .slice(1)
    .map((r) => figure(r.name, r.opsPerSec, "ops/s", "higher", { name: base.name, value: base.opsPerSec })),
  { results: results.map((r) => ({ name: r.name, perSec: r.opsPerSec, p50: r.p50Ms, p99: r.p99Ms })) },
);
