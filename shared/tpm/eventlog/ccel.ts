import { bytesEqual, toHex } from "@asterism/bytes";
import { bytes, constant, decode, type Infer, reserved, struct, u8, u32le, u64le } from "@asterism/codec";
import { TPM_ALG } from "../constants.ts";
import { EventLogError } from "../errors.ts";
import { EV } from "./event-types.ts";
import { type EventLog, parseEventLog } from "./parse.ts";
import { replayEventLog } from "./replay.ts";

/**
 * ACPI 6.5 §5.2.34 "CC Event Log ACPI Table" (CCEL): the standard 36-byte ACPI header, then
 * CC Type (1 = SEV, 2 = TDX), CC Subtype, Reserved (2 bytes, must be zero), LAML (log area minimum length, UINT64) and
 * LASA (log area start address, UINT64). 56 bytes.
 */
export const ACPI_CCEL = struct("ACPI_CCEL", {
  signature: constant(u32le, 0x4c454343, "CCEL"),
  length: constant(u32le, 56),
  revision: u8,
  checksum: u8,
  oemId: bytes(6),
  oemTableId: bytes(8),
  oemRevision: u32le,
  creatorId: u32le,
  creatorRevision: u32le,
  ccType: u8,
  ccSubtype: u8,
  reserved: reserved(2),
  laml: u64le,
  lasa: u64le,
});
export type ACPI_CCEL = Infer<typeof ACPI_CCEL>;

/** Parse the ACPI CCEL table and check its checksum (all bytes sum to 0 mod 256, ACPI §5.2.6). */
export function parseCcelTable(table: Uint8Array): ACPI_CCEL {
  let t: ACPI_CCEL;
  try {
    t = decode(ACPI_CCEL, table);
  } catch (err) {
    throw new EventLogError("MALFORMED", "Cannot parse the ACPI CCEL table", { cause: err });
  }
  let sum = 0;
  for (const b of table) sum = (sum + b) & 0xff;
  if (sum !== 0)
    throw new EventLogError("MALFORMED", "ACPI CCEL table checksum wrong", {
      actual: `sum 0x${sum.toString(16)}`,
    });
  return t;
}

/**
 * Parse a TDX CC event log (UEFI 2.10 §38.4 EFI_CC_EVENT; same layout as TCG_PCR_EVENT2, SHA-384). The
 * log region is reserved at its full size and padded, so `allowPadding` defaults to true here; pass
 * false to require an exactly-sized (unpadded) log.
 */
export function parseCcel(bytes: Uint8Array, opts: { allowPadding?: boolean } = {}): EventLog {
  const log = parseEventLog(bytes, { allowPadding: opts.allowPadding ?? true });
  if (log.format !== "crypto-agile" || !log.algorithms.has(TPM_ALG.SHA384))
    throw new EventLogError("MALFORMED", "CCEL is not a crypto-agile SHA-384 log", { actual: log.format });
  return log;
}

/** RTMR0..3 (48 bytes each) and the events that explain each. */
export interface RtmrReplay {
  readonly rtmrs: readonly Uint8Array[];
  readonly events: readonly (readonly number[])[];
}

/**
 * Replay a CCEL into RTMRs. The event's "PCR index" is the CC measurement-register index (UEFI 2.10
 * §38.4.1, Intel TDX guest-host communication spec): 0 = MRTD (never extended by events), 1..4 → RTMR0..3.
 */
export function replayCcel(log: EventLog): RtmrReplay {
  for (const e of log.events)
    if (e.eventType !== EV.NO_ACTION && (e.pcrIndex < 1 || e.pcrIndex > 4))
      throw new EventLogError("MALFORMED", `CCEL event ${e.index} has MR index ${e.pcrIndex}`, {
        expected: "1..4 (RTMR0..3)",
      });
  const bank = replayEventLog(log, { banks: [TPM_ALG.SHA384], startupLocality: false }).get(TPM_ALG.SHA384);
  const rtmrs: Uint8Array[] = [];
  const events: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const r = bank?.get(i + 1);
    rtmrs.push(r?.value ?? new Uint8Array(48));
    events.push([...(r?.events ?? [])]);
  }
  return { rtmrs, events };
}

/** Compare a replayed CCEL with RTMR values from a verified TDX quote; any difference is rejected. */
export function matchCcel(log: EventLog, rtmrs: readonly Uint8Array[]): RtmrReplay {
  const r = replayCcel(log);
  rtmrs.forEach((want, i) => {
    const got = r.rtmrs[i] as Uint8Array;
    if (!bytesEqual(got, want))
      throw new EventLogError("REPLAY_MISMATCH", `CCEL does not replay to RTMR${i}`, {
        expected: `"${toHex(want)}"`,
        actual: `"${toHex(got)}"`,
      });
  });
  return r;
}

/**
 * EV_SEPARATOR events that repeat one already seen for the same register. Firmware must measure exactly
 * one separator per register (PFP §3.3.4.2); a duplicate is a known UEFI bug that lets later events pose
 * as pre-OS ones, so firmware-state extraction must refuse such logs (go-eventlog does too).
 */
export function findDuplicateSeparators(log: EventLog): number[] {
  const seen = new Set<number>();
  const dupes: number[] = [];
  for (const e of log.events) {
    if (e.eventType !== EV.SEPARATOR) continue;
    if (seen.has(e.pcrIndex)) dupes.push(e.index);
    seen.add(e.pcrIndex);
  }
  return dupes;
}
