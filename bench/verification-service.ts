/**
 * VerificationService throughput: attestations served per second by one node and their p99 latency, at 1,
 * 50 and 500 concurrent verifiers, for
 * - the Constellation-compatible path `GET /?nonce=` (one TPM quote per verifier), and
 * - batched attestation `POST /v1/attest/batch` (one quote for every verifier waiting; each answer
 *   carries the verifier's Merkle inclusion proof, see shared/attestation/nonce-tree.ts),
 * against, in the same run: the same HTTP stack answering a constant body of the same size (no
 * attestation) at the same concurrency, and the TPM's own ceiling (sequential quotes with the persistent
 * AK straight on the same swtpm, no HTTP).
 *
 * The service is the real one (apps/verification-service/src/main.ts in its own process) on a real swtpm.
 * Verifiers here fetch and parse; a sample of answers is fully validated (validateBatchedDocument /
 * validateDocument) after each phase so the numbers are known to be of valid evidence. The service
 * bounds the quotes in flight on the one-quote-per-verifier path (503 BUSY beyond 16); verifiers retry
 * those after a short pause and the latency includes the waits.
 *
 *   bun bench/verification-service.ts [--seconds=3] [--concurrency=1,50,500]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BatchedVerifyResponseSchema, VERIFY_USER_DATA, VerifyResponseSchema } from "@asterism/api";
import { validateBatchedDocument, validateDocument } from "@asterism/attestation";
import { fromBase64, toBase64, toBase64Url } from "@asterism/bytes";
import {
  bootLocalNode,
  createNodeIssuer,
  localImage,
  localImageMeasurements,
  openNodeTpm,
} from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
import { startSwtpm } from "@asterism/testing";
import * as v from "valibot";
import {
  arg,
  concurrent,
  emit,
  type Figure,
  figure,
  type Measured,
  machineLine,
  printTable,
  sequential,
} from "./harness.ts";

const SECONDS = Number(arg("seconds", "3", "BENCH_SECONDS"));
const LEVELS = arg("concurrency", "1,50,500")
  .split(",")
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0);
const root = resolve(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "asterism-bench-vs-"));
let policy = { measurements: createMeasurements([]) };
const SAMPLE = 20;

type Mode = "unbatched" | "batched" | "constant";
const children: Bun.Subprocess[] = [];

async function waitForJson<T>(
  read: () => string,
  pick: (s: string) => T | undefined,
  ms: number,
): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = pick(read());
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`not ready: ${read().slice(-500)}`);
    await Bun.sleep(20);
  }
}

const sw = await startSwtpm();
try {
  // Power on and "boot" the node image, as `asterism mini` does before a node's services start.
  const image = localImage("bench");
  await bootLocalNode(sw, image);
  policy = { measurements: localImageMeasurements(image) };
  // The TPM's ceiling: sequential quotes with the persistent AK, our stack, no HTTP (then released: the
  // service opens the swtpm itself, and swtpm serves one client at a time).
  const tpm = await openNodeTpm({ kind: "swtpm", host: sw.host, port: sw.port });
  const issuer = createNodeIssuer({ tpm, readEventLog: async () => undefined });
  const ceiling = await sequential(
    "TPM quote + document, sequential, no HTTP",
    () => issuer.issue(VERIFY_USER_DATA, crypto.getRandomValues(new Uint8Array(32))),
    {
      seconds: SECONDS,
      warmup: 3,
    },
  );
  await tpm.close();

  const vsLog = join(dir, "vs.log");
  const endpoints = join(dir, "endpoints.json");
  const vs = Bun.spawn(["bun", join(root, "apps", "verification-service", "src", "main.ts")], {
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      ASTERISM_TPM: `swtpm:127.0.0.1:${sw.port}`,
      ASTERISM_RUN_DIR: dir,
      ASTERISM_VERIFY_LISTEN: "127.0.0.1:0",
      ASTERISM_ENDPOINTS_FILE: endpoints,
      ASTERISM_LOG_LEVEL: "warn",
    },
    stdout: "ignore",
    stderr: Bun.file(vsLog),
  });
  children.push(vs);
  const vsUrl = await waitForJson(
    () => {
      try {
        return readFileSync(endpoints, "utf8");
      } catch {
        return "";
      }
    },
    (s) => (s ? (JSON.parse(s) as { verify?: string }).verify : undefined),
    15_000,
  );
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`${vsUrl}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    await Bun.sleep(50);
  }

  const constant = Bun.spawn(["bun", join(import.meta.dir, "support", "constant-server.ts")], {
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", BODY_BYTES: "4500" },
    stdout: "pipe",
    stderr: "inherit",
  });
  children.push(constant);
  const reader = constant.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  const constantUrl = `http://127.0.0.1:${(JSON.parse(new TextDecoder().decode(first.value)) as { port: number }).port}`;

  const samples: { mode: Mode; nonce: Uint8Array; body: unknown }[] = [];
  const busy = new Map<string, number>();
  /**
   * One verifier's attestation. A 503 BUSY (the service bounds the quotes in flight) is retried after a
   * short jittered pause, as a client honouring Retry-After would; the latency includes the waits, and
   * only served attestations count.
   */
  const call = async (mode: Mode, level: number) => {
    const deadline = performance.now() + 60_000;
    for (let attempt = 0; performance.now() < deadline; attempt++) {
      const served = await once(mode);
      if (served) return;
      busy.set(`${mode}:${level}`, (busy.get(`${mode}:${level}`) ?? 0) + 1);
      // Capped exponential backoff with full jitter (5 ms doubling to 200 ms).
      await Bun.sleep(Math.random() * Math.min(200, 5 * 2 ** attempt));
    }
    throw new Error(`${mode}: still BUSY after 60 s`);
  };
  const once = async (mode: Mode): Promise<boolean> => {
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const res =
      mode === "unbatched"
        ? await fetch(`${vsUrl}/?nonce=${toBase64Url(nonce)}`, { signal: AbortSignal.timeout(60_000) })
        : await fetch(mode === "batched" ? `${vsUrl}/v1/attest/batch` : constantUrl, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ nonce: toBase64(nonce) }),
            signal: AbortSignal.timeout(60_000),
          });
    if (res.status === 503) {
      await res.arrayBuffer();
      return false;
    }
    if (res.status !== 200) throw new Error(`${mode}: status ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as unknown;
    if (mode !== "constant" && samples.filter((s) => s.mode === mode).length < SAMPLE)
      samples.push({ mode, nonce, body });
    return true;
  };

  const results = new Map<string, Measured & { concurrency: number }>();
  for (const c of LEVELS) {
    for (const mode of ["constant", "unbatched", "batched"] as const) {
      const r = await concurrent(`${mode}, ${c} concurrent verifiers`, () => call(mode, c), {
        concurrency: c,
        seconds: SECONDS,
        warmupSeconds: 0.5,
      });
      results.set(`${mode}:${c}`, r);
    }
  }

  // Every sampled answer must be valid evidence for its verifier's own nonce.
  let validated = 0;
  for (const s of samples) {
    if (s.mode === "batched") {
      const b = v.parse(BatchedVerifyResponseSchema, s.body);
      const r = await validateBatchedDocument(fromBase64(b.data), b.proof, { policy, nonce: s.nonce });
      if (!Buffer.from(r.claims.userData).equals(Buffer.from(VERIFY_USER_DATA))) throw new Error("userData");
    } else {
      const b = v.parse(VerifyResponseSchema, s.body);
      await validateDocument(fromBase64(b.data), { policy, nonce: s.nonce });
    }
    validated++;
  }
  const metrics = await (await fetch(`${vsUrl}/metrics`)).text();

  const rows: string[][] = [];
  const figures: Figure[] = [];
  const ceilingRate = ceiling.opsPerSec;
  rows.push([
    ceiling.name,
    "1",
    ceilingRate.toFixed(0),
    ceiling.p50Ms.toFixed(1),
    ceiling.p99Ms.toFixed(1),
    "—",
  ]);
  for (const c of LEVELS) {
    const k = (m: Mode) => results.get(`${m}:${c}`) as Measured;
    for (const m of ["constant", "unbatched", "batched"] as const)
      rows.push([
        k(m).name,
        String(c),
        k(m).opsPerSec.toFixed(0),
        k(m).p50Ms.toFixed(1),
        k(m).p99Ms.toFixed(1),
        String(busy.get(`${m}:${c}`) ?? 0),
      ]);
    const tag = `${c} concurrent verifier${c === 1 ? "" : "s"}`;
    figures.push(
      figure(`batched, ${tag}`, k("batched").opsPerSec, "attestations/s", "higher", {
        name: `one quote per verifier (GET /?nonce=), ${tag}`,
        value: k("unbatched").opsPerSec,
      }),
      figure(`batched, ${tag}, vs no attestation`, k("batched").opsPerSec, "attestations/s", "higher", {
        name: `same HTTP stack, constant body, ${tag}`,
        value: k("constant").opsPerSec,
      }),
      figure(`batched, ${tag} p99`, k("batched").p99Ms, "ms", "lower", {
        name: `one quote per verifier, ${tag} p99`,
        value: k("unbatched").p99Ms,
      }),
      figure(`unbatched, ${tag}`, k("unbatched").opsPerSec, "attestations/s", "higher", {
        name: "TPM ceiling: sequential quotes, no HTTP",
        value: ceilingRate,
      }),
    );
  }
  printTable(
    `VerificationService on one swtpm node (${machineLine()}, ${SECONDS} s per phase)`,
    ["case", "verifiers", "attestations/s", "p50 ms", "p99 ms", "503 BUSY (retried)"],
    rows,
  );
  const batches = /asterism_verify_batched_total\{result="ok"\} (\d+)/.exec(metrics)?.[1];
  console.log(`\n${validated} sampled answers fully validated (each against its own verifier's nonce).`);
  emit("verification-service", figures, {
    seconds: SECONDS,
    levels: LEVELS,
    validatedSamples: validated,
    batchedAnswers: Number(batches ?? 0),
    tpmCeilingPerSec: ceilingRate,
    busyRetries: Object.fromEntries(busy),
  });
} finally {
  for (const c of children) {
    c.kill("SIGTERM");
    await Promise.race([c.exited, Bun.sleep(3000)]);
    if (c.exitCode === null) c.kill("SIGKILL");
  }
  await sw.stop();
  rmSync(dir, { recursive: true, force: true });
}
