import { existsSync, readFileSync } from "node:fs";
import { fromBase64, fromHex } from "@asterism/bytes";
import { NodeVmError } from "./errors.ts";

/**
 * What the image's `asterism-boot-report.service` prints on the serial console: the SHA-256 PCR values
 * (from the kernel's `/sys/class/tpm/tpm0/pcr-sha256/N`, read through the vTPM) and the firmware's TCG
 * event log (`binary_bios_measurements`).
 */
export interface BootReport {
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  /** `fact <name> <value>` lines: root-verity, root-mount, state-disk, dm-crypt. */
  readonly facts: ReadonlyMap<string, string>;
  readonly eventLog: Uint8Array | undefined;
}

const PCR_LINE = /^pcr (\d{1,2}) ([0-9A-Fa-f]{64})$/;
const FACT_LINE = /^fact ([a-z0-9-]{1,32}) (\S{1,200})$/;

/** Parse the boot report out of a serial console log, or undefined if it is not (yet) complete. */
export function parseBootReport(serial: string): BootReport | undefined {
  const text = serial.replaceAll("\r", "");
  const begin = text.indexOf("ASTERISM-PCRS-BEGIN\n");
  const end = text.indexOf("ASTERISM-PCRS-END", begin);
  if (begin < 0 || end < 0) return undefined;
  const pcrs = new Map<number, Uint8Array>();
  const facts = new Map<string, string>();
  for (const line of text.slice(begin + 20, end).split("\n")) {
    const m = PCR_LINE.exec(line.trim());
    if (m) pcrs.set(Number(m[1]), fromHex(m[2]!.toLowerCase()));
    const f = FACT_LINE.exec(line.trim());
    if (f) facts.set(f[1]!, f[2]!);
  }
  if (pcrs.size === 0)
    throw new NodeVmError("MALFORMED_BOOT_REPORT", "Cannot parse boot report", {
      expected: "PCR lines",
      actual: "none",
    });
  let eventLog: Uint8Array | undefined;
  const lb = text.indexOf("ASTERISM-EVENTLOG-BEGIN\n", end);
  const le = text.indexOf("ASTERISM-EVENTLOG-END", lb);
  if (lb >= 0 && le < 0) return undefined;
  if (lb >= 0) {
    try {
      eventLog = fromBase64(text.slice(lb + 24, le).replace(/\s+/g, ""));
    } catch (err) {
      throw new NodeVmError("MALFORMED_BOOT_REPORT", "Cannot parse boot report", {
        expected: "a base64 event log",
        actual: "other characters",
        cause: err,
      });
    }
  }
  return { pcrs, facts, eventLog };
}

/** Poll `reportLog` (the VM's second serial port) until the boot report is complete (bounded by `timeoutMs`). */
export async function waitForBootReport(reportLog: string, timeoutMs = 120_000): Promise<BootReport> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (existsSync(reportLog)) {
      const r = parseBootReport(readFileSync(reportLog, "utf8"));
      if (r) return r;
    }
    await Bun.sleep(250);
  }
  throw new NodeVmError("BOOT_TIMEOUT", "Cannot read the boot report", {
    expected: `ASTERISM-PCRS-END on the report port within ${timeoutMs} ms`,
    actual: "nothing",
  });
}
