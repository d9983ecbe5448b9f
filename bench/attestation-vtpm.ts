/**
 * vTPM document validation throughput: full qemu-vtpm document validations per second (JSON + valibot
 * parse, binding, AK parse, quote signature, pcrDigest, event-log replay, measurements policy) against raw
 * quote-signature verifications per second (WebCrypto RSASSA-PKCS1-v1_5/SHA-256 over the same TPMS_ATTEST
 * bytes with the same pre-imported key), measured in the same run and interleaved in rounds so machine
 * load affects both alike. The document is issued once on a real swtpm (with a 3-event log).
 *
 * Run: `bun bench/attestation-vtpm.ts [seconds]` (default 12 s in total).
 */

import {
  createQemuVtpmIssuer,
  createQemuVtpmValidator,
  parseAttestationDocument,
  parseVtpmEvidence,
  validateDocument,
} from "@asterism/attestation";
import { decode } from "@asterism/codec";
import { createMeasurements } from "@asterism/measurements";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import {
  EV,
  EventLogWriter,
  measureEvent,
  openSwtpm,
  parseTpmtPublic,
  readPcrs,
  TPM_ALG,
  TPMT_SIGNATURE,
  tpmPublicToCryptoKey,
} from "@asterism/tpm";
import { emit, figure, interleave, type Measured, machineLine, printTable } from "./harness.ts";

const totalSeconds = Number(process.argv[2] ?? "12");
const ROUNDS = 8;

let sw: SwtpmInstance | undefined;
try {
  sw = await startSwtpm();
  const tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  const log = new EventLogWriter([TPM_ALG.SHA256]);
  for (const [pcr, name] of [
    [4, "shim"],
    [4, "kernel"],
    [9, "initrd"],
  ] as const) {
    await measureEvent(tpm, log, {
      pcrIndex: pcr,
      eventType: EV.EFI_BOOT_SERVICES_APPLICATION,
      data: new TextEncoder().encode(name),
      measured: new Uint8Array(4096).fill(pcr),
    });
  }
  const userData = new Uint8Array(32).fill(1);
  const nonce = new Uint8Array(32).fill(2);
  const doc = await createQemuVtpmIssuer({ tpm, readEventLog: async () => log.bytes() }).issue(
    userData,
    nonce,
  );
  const pcrs = (await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [4, 9, 15] }])).get(TPM_ALG.SHA256);
  await tpm.close();
  const policy = {
    measurements: createMeasurements([...(pcrs ?? new Map())].map(([i, v]) => [i, { expected: v }] as const)),
  };
  const validator = createQemuVtpmValidator({ policy });

  // Baseline: the one signature a validation cannot avoid, with the key imported once.
  const ev = parseVtpmEvidence(parseAttestationDocument(doc).evidence);
  const quote = ev.quotes[0];
  if (!quote) throw new Error("no quote");
  const key = await tpmPublicToCryptoKey(parseTpmtPublic(ev.akPublic), TPM_ALG.RSASSA, TPM_ALG.SHA256);
  const sig = (decode(TPMT_SIGNATURE, quote.signature).signature as { sig: Uint8Array })
    .sig as Uint8Array<ArrayBuffer>;
  const attest = quote.attest as Uint8Array<ArrayBuffer>;

  const cases = {
    "raw quote signature verify (WebCrypto)": async () => {
      if (!(await crypto.subtle.verify({ name: "RSASSA-PKCS1-v1_5" }, key, sig, attest)))
        throw new Error("bad");
    },
    "qemu-vtpm document validate": async () => {
      await validator.validate(doc, nonce);
    },
    "validateDocument (+ policy check, EAR)": async () => {
      await validateDocument(doc, { policy, nonce });
    },
  };
  const results = await interleave(cases, { seconds: totalSeconds, rounds: ROUNDS, warmup: 100 });
  const raw = results.find((r) => r.name === "raw quote signature verify (WebCrypto)") as Measured;
  const base = { name: raw.name, value: raw.opsPerSec };
  const figures = results
    .filter((r) => r !== raw)
    .map((r) => figure(r.name, r.opsPerSec, "validations/s", "higher", base));
  const rows = results.map((r) => ({
    name: r.name,
    opsPerSec: Math.round(r.opsPerSec),
    usPerOp: Number((1e6 / r.opsPerSec).toFixed(1)),
    p99Us: Number((r.p99Ms * 1000).toFixed(1)),
    ratio: Number((r.opsPerSec / raw.opsPerSec).toFixed(3)),
  }));
  printTable(
    `vTPM document validation throughput (${machineLine()}, ${ROUNDS} interleaved rounds, ${totalSeconds}s, document ${doc.length} bytes)`,
    ["case", "ops/s", "µs/op", "p99 µs", "vs raw"],
    rows.map((r) => [r.name, String(r.opsPerSec), String(r.usPerOp), String(r.p99Us), r.ratio.toFixed(3)]),
  );
  emit("attestation-vtpm", figures, { seconds: totalSeconds, documentBytes: doc.length, rows });
} finally {
  await sw?.stop();
}
