/**
 * The benches `bench/run` knows: how to run each with a bounded duration (normal and `--quick`), what it
 * measures against which same-run baseline (for docs/performance.md), and, for benches that print their
 * own JSON shape rather than harness figures, an adapter from that JSON to figures.
 */
import { type Figure, figure } from "./harness.ts";

export interface BenchCommand {
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export interface BenchSpec {
  readonly name: string;
  readonly title: string;
  /** What is measured and against what, in one paragraph (rendered into docs/performance.md). */
  readonly what: string;
  readonly command: BenchCommand;
  readonly quick: BenchCommand;
  /** Hard wall-clock limit; the process group is killed after it. */
  readonly timeoutSeconds: number;
  /** Paths (relative to the repo) the bench needs; missing → skipped, not failed. */
  readonly requires: readonly string[];
  /** JSON line → figures, for benches that do not print harness figures themselves. */
  readonly adapt?: (json: Record<string, unknown>) => Figure[];
}

const num = (v: unknown): number => (typeof v === "number" ? v : Number.NaN);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};

/** bench/tpm.ts prints its own JSON (branch `tpm`); map it to figures. */
function adaptTpm(j: Record<string, unknown>): Figure[] {
  const ours = obj(j["quoteVerifyPerSec"]);
  const raw = obj(j["rawWebCryptoVerifyPerSec"]);
  const rt = obj(j["quoteRoundTripMs"]);
  const tools = obj(j["tpm2QuoteProcessMs"]);
  const replay = obj(j["eventLogReplayMs"]);
  return [
    figure("RSA-2048 quote verify (GCE vector)", num(ours["rsa2048"]), "verifications/s", "higher", {
      name: "raw WebCrypto RSASSA verify, same key and bytes",
      value: num(raw["rsa2048"]),
    }),
    figure("P-256 quote verify (swtpm AK)", num(ours["p256"]), "verifications/s", "higher", {
      name: "raw WebCrypto ECDSA verify, same key and bytes",
      value: num(raw["p256"]),
    }),
    figure("swtpm quote round trip, median", num(rt["median"]), "ms", "lower", {
      name: "tpm2_quote process (tpm2-tools), median",
      value: num(tools["median"]),
    }),
    figure("swtpm quote round trip, p90", num(rt["p90"]), "ms", "lower", {
      name: "tpm2_quote process (tpm2-tools), p90",
      value: num(tools["p90"]),
    }),
    figure(
      `event log parse + replay (${String(replay["log"])}, ${String(replay["events"])} events), median`,
      num(replay["median"]),
      "ms",
      "lower",
    ),
  ];
}

interface KmsRow {
  readonly name: string;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** bench/kms.ts prints its own JSON (branch `kms`); map it to figures. */
function adaptKms(j: Record<string, unknown>): Figure[] {
  const rows = (Array.isArray(j["results"]) ? j["results"] : []) as KmsRow[];
  const [raw, ...rest] = rows;
  if (raw === undefined) return [];
  const transport = rows.find((r) => r.name.startsWith("mTLS transport"));
  const out: Figure[] = [];
  for (const r of rest) {
    // Through the service a derivation is a request; in-process it is a derivation.
    const unit = r.name.startsWith("mTLS") || r.name.startsWith("KMS API") ? "requests/s" : "derivations/s";
    out.push(figure(r.name, r.perSecond, unit, "higher", { name: raw.name, value: raw.perSecond }));
    if (transport && r !== transport && r.name.startsWith("KMS API"))
      out.push(
        figure(`${r.name}, vs transport only`, r.perSecond, "requests/s", "higher", {
          name: transport.name,
          value: transport.perSecond,
        }),
      );
    out.push(figure(`${r.name} p99`, r.p99Ms, "ms", "lower", { name: `${raw.name} p99`, value: raw.p99Ms }));
  }
  return out;
}

interface JoinLevel {
  readonly mode: "attested" | "baseline";
  readonly concurrency: number;
  readonly joinsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ok: number;
  readonly failed: number;
}

/** bench/join.ts prints its own JSON (branch `lifecycle`); map it to figures. */
function adaptJoin(j: Record<string, unknown>): Figure[] {
  const rows = (Array.isArray(j["results"]) ? j["results"] : []) as JoinLevel[];
  const out: Figure[] = [];
  for (const r of rows.filter((x) => x.mode === "attested")) {
    const b = rows.find((x) => x.mode === "baseline" && x.concurrency === r.concurrency);
    const base = `same flow without attestation, ${r.concurrency} nodes`;
    out.push(
      figure(
        `${r.concurrency} nodes joining at once (${r.ok}/${r.ok + r.failed} ok)`,
        r.joinsPerSecond,
        "joins/s",
        "higher",
        b ? { name: base, value: b.joinsPerSecond } : undefined,
      ),
      figure(
        `${r.concurrency} nodes joining at once, p99`,
        r.p99Ms,
        "ms",
        "lower",
        b ? { name: `${base}, p99`, value: b.p99Ms } : undefined,
      ),
    );
  }
  return out;
}

const bun = (file: string, ...rest: string[]) => ["bun", `bench/${file}`, ...rest];

export const BENCHES: readonly BenchSpec[] = [
  {
    name: "tpm",
    title: "TPM quotes and event logs",
    what:
      "Quote signature verification (parse TPMS_ATTEST, nonce, PCR digest, signature) against raw WebCrypto " +
      "verification of the same bytes with the same pre-imported key; a quote round trip on swtpm through our " +
      "TPM stack against one `tpm2_quote` process (tpm2-tools) on the same swtpm; event-log replay time.",
    command: { argv: bun("tpm.ts"), env: { BENCH_SECONDS: "3" } },
    quick: { argv: bun("tpm.ts"), env: { BENCH_SECONDS: "1" } },
    timeoutSeconds: 120,
    requires: ["bench/tpm.ts"],
    adapt: adaptTpm,
  },
  {
    name: "attestation-vtpm",
    title: "vTPM attestation documents",
    what:
      "Full qemu-vtpm document validation (JSON + valibot, binding, AK, quote signature, PCR digest, " +
      "event-log replay, measurements policy; document issued on a real swtpm) against the one raw " +
      "RSASSA quote-signature verification a validation cannot avoid. Interleaved rounds.",
    command: { argv: bun("attestation-vtpm.ts", "8") },
    quick: { argv: bun("attestation-vtpm.ts", "3") },
    timeoutSeconds: 120,
    requires: ["bench/attestation-vtpm.ts"],
  },
  {
    name: "attestation-snp",
    title: "SEV-SNP reports",
    what:
      "SEV-SNP report verification (parse, VCEK chain (cached and cold), validity, TCB consistency, ECDSA " +
      "P-384 report signature) and verify + policy, against raw WebCrypto ECDSA P-384 verification of the " +
      "same signed bytes with the same key. Real AMD Genoa report (oak vector). Interleaved rounds.",
    command: { argv: bun("attestation-snp.ts", "8") },
    quick: { argv: bun("attestation-snp.ts", "3") },
    timeoutSeconds: 120,
    requires: ["bench/attestation-snp.ts"],
  },
  {
    name: "tdx",
    title: "Intel TDX quotes",
    what:
      "TDX quote v4 verification with collateral cached (5 ECDSA P-256 signatures per quote, X.509, SGX " +
      "extensions, CRLs, TCB evaluation) against the ideal rate: raw WebCrypto P-256 verifications of the " +
      "same five signatures per second ÷ 5. Real SPR quote (go-tdx-guest vector).",
    command: { argv: bun("tdx.ts"), env: { BENCH_PHASE_MS: "2500" } },
    quick: { argv: bun("tdx.ts"), env: { BENCH_PHASE_MS: "800" } },
    timeoutSeconds: 120,
    requires: ["bench/tdx.ts"],
  },
  {
    name: "atls",
    title: "Attested TLS",
    what:
      "A new connection + one GET per iteration for each aTLS mode (server-attested, client-attested, " +
      "mutual), with software evidence (isolates the protocol) and with real swtpm quotes, against plain " +
      "TLS 1.3 with a static certificate on the same HTTP stack.",
    command: { argv: bun("atls.ts", "--seconds=2", "--evidence=both") },
    quick: { argv: bun("atls.ts", "--seconds=0.7", "--evidence=software") },
    timeoutSeconds: 150,
    requires: ["bench/atls.ts"],
  },
  {
    name: "kubelet-cert",
    title: "Kubelet certificates and join material",
    what:
      "The JoinService's per-join PKI work (parse + verify the CSR, check it against the attested identity, " +
      "sign) and the whole Kubernetes part of a ticket, against one raw WebCrypto P-256 verify + sign.",
    command: { argv: bun("kubelet-cert.ts", "--seconds=2") },
    quick: { argv: bun("kubelet-cert.ts", "--seconds=0.7") },
    timeoutSeconds: 90,
    requires: ["bench/kubelet-cert.ts"],
  },
  {
    name: "kms",
    title: "KMS key release",
    what:
      "Data-key requests through the real KMS service (own process, mutual TLS on 127.0.0.1, 200 concurrent " +
      "callers), cluster-managed (HKDF) and user-managed (SoftHSM2 unwrap), against raw WebCrypto HKDF at the " +
      "same concurrency and against the same mTLS/HTTP stack answering a constant (transport only).",
    command: { argv: bun("kms.ts"), env: { BENCH_SECONDS: "3" } },
    quick: { argv: bun("kms.ts"), env: { BENCH_SECONDS: "1" } },
    timeoutSeconds: 150,
    requires: ["bench/kms.ts", "apps/kms/src/main.ts"],
    adapt: adaptKms,
  },
  {
    name: "binaries",
    title: "Compiled binaries: start time and memory",
    what:
      "Every executable in dist/ (rebuilt by `bun scripts/build.ts` first): services that serve in this build " +
      "from spawn to the first 200 on /healthz and their resident memory after 1 s idle, against a compiled " +
      "hello-world `Bun.serve`; the CLI (and services that only answer --help so far) from spawn to exit of " +
      "`--help` and peak memory, against a compiled hello-world `console.log`; executable sizes. Same " +
      "`bun build --compile --minify --sourcemap` flags for all. Interleaved rounds, medians.",
    command: { argv: bun("binaries.ts", "--runs=15") },
    quick: { argv: bun("binaries.ts", "--runs=4") },
    timeoutSeconds: 180,
    requires: ["bench/binaries.ts", "scripts/build.ts"],
  },
  {
    name: "verification-service",
    title: "VerificationService: attestations per second per node",
    what:
      "The real VerificationService (own process) on one swtpm node at 1, 50 and 500 concurrent verifiers: " +
      "`GET /?nonce=` (one TPM quote per verifier, Constellation's API) and `POST /v1/attest/batch` (one quote " +
      "for every verifier waiting; each answer carries its Merkle inclusion proof), against the same HTTP " +
      "stack answering a constant body of the same size (no attestation) and the TPM's sequential quote " +
      "ceiling without HTTP. Sampled answers are fully validated against each verifier's own nonce.",
    command: { argv: bun("verification-service.ts", "--seconds=3") },
    quick: { argv: bun("verification-service.ts", "--seconds=1") },
    timeoutSeconds: 180,
    requires: ["bench/verification-service.ts", "apps/verification-service/src/main.ts"],
  },
  {
    name: "join",
    title: "Joins under load",
    what:
      "50, 200 and 1000 simulated nodes join at once through the real JoinService process (client-attested " +
      "aTLS, real swtpm evidence from a pool of booted swtpm instances, SQLite state, keys from the real KMS " +
      "process over mTLS), against the same ticket flow without attestation (mutual TLS, identity from the " +
      "request, the same issueJoinTicket) at the same concurrency in the same run. Retries (BUSY, timeouts) " +
      "use capped backoff; latency includes the wait. Correctness under load (1000 joins, every key, name " +
      "and owner checked) is `bun run load` (tests/load/join-load.test.ts).",
    command: { argv: bun("join.ts"), env: { BENCH_LEVELS: "50,200,1000", BENCH_LEVEL_TIMEOUT_S: "60" } },
    quick: { argv: bun("join.ts"), env: { BENCH_LEVELS: "50", BENCH_LEVEL_TIMEOUT_S: "30" } },
    timeoutSeconds: 900,
    requires: ["bench/join.ts", "bench/support/join-baseline-server.ts"],
    adapt: adaptJoin,
  },
  {
    name: "join-faults",
    title: "Fault campaign (joins with processes killed)",
    what:
      "120 joins of real swtpm nodes through the real JoinService and KMS processes, one of JoinService, KMS, " +
      "swtpm or the node killed (SIGKILL) at a random point of each join and restarted; some runs ask for " +
      "another node's disk. Not a speed benchmark: the counts per fault and outcome, with the invariants " +
      "the test asserts (right key to the right owner only, clean refusals, state integrity).",
    command: { argv: bun("join-faults.ts") },
    quick: {
      argv: [
        "bun",
        "-e",
        "console.log(JSON.stringify({bench:'join-faults',figures:[],skipped:'quick mode'}))",
      ],
    },
    timeoutSeconds: 1500,
    requires: ["bench/join-faults.ts", "tests/load/join-faults.test.ts"],
  },
];
