import { ByteWriter } from "@asterism/bytes";
import { encode } from "@asterism/codec";
import { extendPcr } from "../commands/pcr.ts";
import { TPM_ALG } from "../constants.ts";
import { EventLogError } from "../errors.ts";
import type { Tpm } from "../execute.ts";
import { digest, hashInfo } from "../hash.ts";
import { EV } from "./event-types.ts";
import { MAX_EVENTS, parseEventLog } from "./parse.ts";
import { SPEC_ID_EVENT03, TCG_EfiSpecIDEvent, TCG_PCClientPCREvent, tcgPcrEvent2 } from "./structures.ts";

/** One event to record. */
export interface EventInput {
  readonly pcrIndex: number;
  readonly eventType: number;
  /** The event data stored in the log. */
  readonly data: Uint8Array;
  /**
   * What was measured, when it is not `data` itself (e.g. a kernel image while `data` names it). Its
   * hash in each bank is the event digest; defaults to `data`.
   */
  readonly measured?: Uint8Array;
}

/**
 * Writes a crypto-agile TCG event log (PFP rev 1.05 §10.2.2 / §10.4.5.1): a Spec ID event listing the
 * banks, then one TCG_PCR_EVENT2 per {@link append}. Pair each append with the matching PCR extension
 * ({@link measureEvent} does both), so the log replays to the TPM's PCRs.
 *
 * @example
 * const log = new EventLogWriter([TPM_ALG.SHA256]);
 * await measureEvent(tpm, log, { pcrIndex: 4, eventType: EV.EFI_BOOT_SERVICES_APPLICATION, data: name, measured: image });
 * await Bun.write("eventlog.bin", log.bytes());
 */
export class EventLogWriter {
  private w = new ByteWriter();
  private readonly sizes: Map<number, number>;
  private readonly codec: ReturnType<typeof tcgPcrEvent2>;
  private count = 0;

  /**
   * Continue an existing crypto-agile log (e.g. the firmware's, from securityfs): later appends use its
   * banks and follow its events, so one log explains both the firmware's PCRs and ours.
   */
  static resume(log: Uint8Array): EventLogWriter {
    const parsed = parseEventLog(log);
    if (parsed.format !== "crypto-agile")
      throw new EventLogError("MALFORMED", "Cannot continue a log", {
        expected: "a crypto-agile log",
        actual: parsed.format,
      });
    const w = new EventLogWriter([...parsed.algorithms.keys()]);
    w.w = new ByteWriter();
    w.w.bytes(log);
    w.count = parsed.events.length;
    return w;
  }

  constructor(readonly banks: readonly number[] = [TPM_ALG.SHA256]) {
    if (!banks.length || new Set(banks).size !== banks.length)
      throw new EventLogError("MALFORMED", "EventLogWriter needs distinct banks");
    this.sizes = new Map(
      banks.map((alg) => {
        const h = hashInfo(alg);
        if (!h)
          throw new EventLogError("UNSUPPORTED_ALGORITHM", "Cannot log bank", {
            actual: `0x${alg.toString(16)}`,
          });
        return [alg, h.size];
      }),
    );
    this.codec = tcgPcrEvent2(this.sizes);
    const spec = encode(TCG_EfiSpecIDEvent, {
      signature: SPEC_ID_EVENT03,
      platformClass: 0,
      specVersionMinor: 0,
      specVersionMajor: 2,
      specErrata: 0,
      uintnSize: 2,
      digestSizes: [...this.sizes].map(([algorithmId, digestSize]) => ({ algorithmId, digestSize })),
      vendorInfoSize: 0,
      vendorInfo: new Uint8Array(0),
    });
    this.w.bytes(
      encode(TCG_PCClientPCREvent, {
        pcrIndex: 0,
        eventType: EV.NO_ACTION,
        digest: new Uint8Array(20),
        eventDataSize: spec.length,
        event: spec,
      }),
    );
    this.count = 1;
  }

  /** Append an event; returns its digests (TPM_ALG_ID → digest) for the caller to extend. */
  append(e: EventInput): Map<number, Uint8Array> {
    if (this.count >= MAX_EVENTS)
      throw new EventLogError("TOO_LARGE", "Too many events", { expected: `≤ ${MAX_EVENTS}` });
    const measured = e.measured ?? e.data;
    const digests = new Map<number, Uint8Array>();
    // EV_NO_ACTION events are not extended; their digests are zero by convention (PFP §10.4.1).
    for (const [alg, size] of this.sizes)
      digests.set(
        alg,
        e.eventType === EV.NO_ACTION ? new Uint8Array(size) : digest(hashInfo(alg)!, measured),
      );
    this.w.bytes(
      encode(this.codec, {
        pcrIndex: e.pcrIndex,
        eventType: e.eventType,
        digests: [...digests].map(([hashAlg, d]) => ({ hashAlg, digest: d })),
        eventSize: e.data.length,
        event: e.data,
      }),
    );
    this.count++;
    return digests;
  }

  /** The log so far. */
  bytes(): Uint8Array {
    return this.w.finish();
  }
}

/** Append `e` to `log` and extend the same digests into the TPM's PCR (one bank per log bank). */
export async function measureEvent(tpm: Tpm, log: EventLogWriter, e: EventInput): Promise<void> {
  const digests = log.append(e);
  if (e.eventType === EV.NO_ACTION) return;
  await extendPcr(
    tpm,
    e.pcrIndex,
    [...digests].map(([hashAlg, d]) => ({ hashAlg, digest: d })),
  );
}
