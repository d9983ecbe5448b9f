import { bytesEqual } from "@asterism/bytes";
import { CodecError, decode, decodePrefix } from "@asterism/codec";
import { TPM_ALG } from "../constants.ts";
import { EventLogError } from "../errors.ts";
import { EV } from "./event-types.ts";
import { SPEC_ID_EVENT03, TCG_EfiSpecIDEvent, TCG_PCClientPCREvent, tcgPcrEvent2 } from "./structures.ts";

/** Bound on the whole log (firmware logs are tens of KiB; CCEL regions are 64–256 KiB). */
export const MAX_LOG_SIZE = 16 * 1024 * 1024;
/** Bound on the number of events. */
export const MAX_EVENTS = 100_000;

/** One measured (or informational) event. */
export interface TcgEvent {
  /** Position in the log, 0-based, counting the Spec ID event. */
  readonly index: number;
  /** Byte offset of the event in the log. */
  readonly offset: number;
  /** PCR index (or, in a CCEL, the CC measurement-register index). */
  readonly pcrIndex: number;
  readonly eventType: number;
  /** Digest per bank (TPM_ALG_ID → digest). */
  readonly digests: ReadonlyMap<number, Uint8Array>;
  readonly data: Uint8Array;
}

/** A parsed log. */
export interface EventLog {
  /** `crypto-agile` (TCG_PCR_EVENT2 after a Spec ID event) or `sha1` (TCG 1.2-style, SHA-1 only). */
  readonly format: "crypto-agile" | "sha1";
  /** Banks declared by the Spec ID event (TPM_ALG_ID → digest size), or SHA-1 alone. */
  readonly algorithms: ReadonlyMap<number, number>;
  readonly events: readonly TcgEvent[];
}

/** Options of {@link parseEventLog}. */
export interface ParseEventLogOptions {
  /**
   * Accept trailing bytes that are all 0x00 or all 0xFF after the last event. Reserved regions (TDX
   * CCEL, ACPI TPM2 LAML) are padded to their full size; a securityfs log is not. Default false.
   */
  readonly allowPadding?: boolean;
}

function isPadding(b: Uint8Array): boolean {
  const first = b[0];
  if (first !== 0x00 && first !== 0xff) return false;
  for (const x of b) if (x !== first) return false;
  return true;
}

function wrap(err: unknown, offset: number, index: number): never {
  if (err instanceof EventLogError) throw err;
  if (err instanceof CodecError)
    throw new EventLogError("MALFORMED", `Cannot parse event ${index} at offset 0x${offset.toString(16)}`, {
      actual: err.message,
      cause: err,
    });
  throw err;
}

/**
 * Parse a TCG PC Client event log (PFP rev 1.05 §10): crypto-agile if the first event is the
 * EV_NO_ACTION "Spec ID Event03" event, otherwise the SHA-1 legacy format throughout.
 *
 * @example
 * const log = parseEventLog(await Bun.file("/sys/kernel/security/tpm0/binary_bios_measurements").bytes());
 */
export function parseEventLog(bytes: Uint8Array, opts: ParseEventLogOptions = {}): EventLog {
  if (bytes.length > MAX_LOG_SIZE)
    throw new EventLogError("TOO_LARGE", "Event log too large", {
      expected: `≤ ${MAX_LOG_SIZE} bytes`,
      actual: `${bytes.length} bytes`,
    });
  let first: { value: ReturnType<typeof TCG_PCClientPCREvent.read>; rest: Uint8Array };
  try {
    first = decodePrefix(TCG_PCClientPCREvent, bytes);
  } catch (err) {
    wrap(err, 0, 0);
  }
  const v = first.value;
  // PFP puts the Spec ID event in PCR 0; TDX firmware puts it in MR index 1 (RTMR0). Either way it is an
  // EV_NO_ACTION event and is never extended.
  const agile =
    v.eventType === EV.NO_ACTION &&
    v.event.length >= 16 &&
    bytesEqual(v.event.subarray(0, 16), SPEC_ID_EVENT03);
  const events: TcgEvent[] = [];
  let algorithms: Map<number, number>;
  let offset = 0;
  let rest = bytes;
  const pushLegacy = (e: typeof v, off: number) =>
    events.push({
      index: events.length,
      offset: off,
      pcrIndex: e.pcrIndex,
      eventType: e.eventType,
      digests: new Map([[TPM_ALG.SHA1, e.digest]]),
      data: e.event,
    });
  if (agile) {
    let spec: TCG_EfiSpecIDEvent;
    try {
      spec = decode(TCG_EfiSpecIDEvent, v.event);
    } catch (err) {
      wrap(err, 0, 0);
    }
    algorithms = new Map(spec.digestSizes.map((d) => [d.algorithmId, d.digestSize]));
    if (algorithms.size !== spec.digestSizes.length || algorithms.size === 0)
      throw new EventLogError("MALFORMED", "Spec ID event lists no or duplicate algorithms");
    for (const [alg, size] of algorithms)
      if (size === 0 || size > 64)
        throw new EventLogError("MALFORMED", "Spec ID event digest size impossible", {
          actual: `alg 0x${alg.toString(16)} size ${size}`,
        });
    pushLegacy(v, 0);
    offset = bytes.length - first.rest.length;
    rest = first.rest;
    const codec = tcgPcrEvent2(algorithms);
    while (rest.length) {
      if (isPadding(rest)) {
        if (opts.allowPadding) break;
        throw new EventLogError("TRAILING_DATA", "Padding after the last event", {
          actual: `${rest.length} bytes of 0x${(rest[0] ?? 0).toString(16)} at offset 0x${offset.toString(16)}`,
        });
      }
      if (events.length >= MAX_EVENTS)
        throw new EventLogError("TOO_LARGE", "Too many events", { expected: `≤ ${MAX_EVENTS}` });
      let e: ReturnType<typeof codec.read>;
      try {
        const r = decodePrefix(codec, rest);
        e = r.value;
        rest = r.rest;
      } catch (err) {
        wrap(err, offset, events.length);
      }
      if (e.digests.length === 0)
        throw new EventLogError("MALFORMED", `Event ${events.length} carries no digest`, {
          actual: `offset 0x${offset.toString(16)}`,
        });
      const digests = new Map<number, Uint8Array>();
      for (const d of e.digests) {
        if (digests.has(d.hashAlg))
          throw new EventLogError("MALFORMED", `Event ${events.length} repeats a bank`, {
            actual: `0x${d.hashAlg.toString(16)}`,
          });
        digests.set(d.hashAlg, d.digest);
      }
      events.push({
        index: events.length,
        offset,
        pcrIndex: e.pcrIndex,
        eventType: e.eventType,
        digests,
        data: e.event,
      });
      offset = bytes.length - rest.length;
    }
  } else {
    algorithms = new Map([[TPM_ALG.SHA1, 20]]);
    while (rest.length) {
      if (isPadding(rest)) {
        if (opts.allowPadding) break;
        throw new EventLogError("TRAILING_DATA", "Padding after the last event", {
          actual: `${rest.length} bytes of 0x${(rest[0] ?? 0).toString(16)} at offset 0x${offset.toString(16)}`,
        });
      }
      if (events.length >= MAX_EVENTS)
        throw new EventLogError("TOO_LARGE", "Too many events", { expected: `≤ ${MAX_EVENTS}` });
      let e: typeof v;
      try {
        const r = decodePrefix(TCG_PCClientPCREvent, rest);
        e = r.value;
        rest = r.rest;
      } catch (err) {
        wrap(err, offset, events.length);
      }
      pushLegacy(e, offset);
      offset = bytes.length - rest.length;
    }
  }
  return { format: agile ? "crypto-agile" : "sha1", algorithms, events };
}
