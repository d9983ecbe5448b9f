import { bytesEqual, toHex } from "@asterism/bytes";
import type { PcrBanks } from "../commands/pcr.ts";
import { EventLogError } from "../errors.ts";
import { digest, hashInfo } from "../hash.ts";
import { EV } from "./event-types.ts";
import type { EventLog, TcgEvent } from "./parse.ts";
import { STARTUP_LOCALITY_SIGNATURE } from "./structures.ts";

/** A replayed register: its final value and the events (by log index) that were extended into it. */
export interface ReplayedPcr {
  readonly value: Uint8Array;
  readonly events: readonly number[];
}

/** Replay result: bank (TPM_ALG_ID) → PCR index → value and explaining events. */
export type Replay = Map<number, Map<number, ReplayedPcr>>;

/**
 * The EV_NO_ACTION StartupLocality event (PFP rev 1.05 §10.4.5.3): when present, PCR 0 starts as
 * 0…0‖locality instead of all zeros (H-CRTM or locality-3 startup).
 */
function startupLocality(events: readonly TcgEvent[]): number | undefined {
  for (const e of events) {
    if (e.eventType !== EV.NO_ACTION || e.pcrIndex !== 0 || e.data.length !== 17) continue;
    let match = true;
    for (let i = 0; i < 16; i++) if (e.data[i] !== STARTUP_LOCALITY_SIGNATURE[i]) match = false;
    if (match) return e.data[16];
  }
  return undefined;
}

/** Options of {@link replayEventLog}. */
export interface ReplayOptions {
  /** Banks to replay (default: every bank the log declares that we can hash). */
  readonly banks?: readonly number[];
  /** Honour the StartupLocality event for PCR 0 (TPM logs: yes; CCEL: there is none). Default true. */
  readonly startupLocality?: boolean;
}

/**
 * Replay a log: for every event except EV_NO_ACTION (which PFP §10.4.1 says is not extended),
 * PCR[i] := H(PCR[i] ‖ digest) in each bank, starting from zeros (PCR 0 per StartupLocality).
 */
export function replayEventLog(log: EventLog, opts: ReplayOptions = {}): Replay {
  const banks = opts.banks ?? [...log.algorithms.keys()].filter((a) => hashInfo(a));
  const locality = (opts.startupLocality ?? true) ? startupLocality(log.events) : undefined;
  const out: Replay = new Map();
  for (const alg of banks) {
    const h = hashInfo(alg);
    if (!h)
      throw new EventLogError("UNSUPPORTED_ALGORITHM", "Cannot replay bank", {
        actual: `0x${alg.toString(16)}`,
      });
    if (!log.algorithms.has(alg))
      throw new EventLogError("BANK_MISSING", `Log has no ${h.name} bank`, {
        expected: h.name,
        actual: [...log.algorithms.keys()].map((a) => hashInfo(a)?.name ?? `0x${a.toString(16)}`).join(","),
      });
    const values = new Map<number, { value: Uint8Array; events: number[] }>();
    for (const e of log.events) {
      if (e.eventType === EV.NO_ACTION) continue;
      const d = e.digests.get(alg);
      if (!d)
        throw new EventLogError("MALFORMED", `Event ${e.index} has no ${h.name} digest`, {
          actual: `offset 0x${e.offset.toString(16)}`,
        });
      let pcr = values.get(e.pcrIndex);
      if (!pcr) {
        const init = new Uint8Array(h.size);
        if (e.pcrIndex === 0 && locality !== undefined) init[h.size - 1] = locality;
        pcr = { value: init, events: [] };
        values.set(e.pcrIndex, pcr);
      }
      pcr.value = digest(h, pcr.value, d);
      pcr.events.push(e.index);
    }
    out.set(alg, new Map([...values].sort(([a], [b]) => a - b)));
  }
  return out;
}

/** Result of {@link matchEventLog}. */
export interface EventLogMatch {
  readonly replay: Replay;
  /** Quoted PCRs the log explains: bank → PCR → event indices. */
  readonly explained: Map<number, Map<number, readonly number[]>>;
  /** Quoted PCRs that no event touches (their value is not explained by this log). */
  readonly unexplained: Map<number, readonly number[]>;
}

/**
 * Replay `log` and compare it with authenticated PCR values (e.g. `VerifiedQuote.pcrs`). Every PCR the
 * log extends and that was quoted must match exactly, otherwise `REPLAY_MISMATCH`: a log that does not
 * replay is rejected as a whole, never partially trusted.
 */
export function matchEventLog(log: EventLog, quoted: PcrBanks, opts: ReplayOptions = {}): EventLogMatch {
  const replay = replayEventLog(log, { ...opts, banks: [...quoted.keys()] });
  const explained = new Map<number, Map<number, readonly number[]>>();
  const unexplained = new Map<number, readonly number[]>();
  for (const [alg, pcrs] of quoted) {
    const r = replay.get(alg) ?? new Map();
    const ex = new Map<number, readonly number[]>();
    const un: number[] = [];
    for (const [i, want] of [...pcrs].sort(([a], [b]) => a - b)) {
      const got = r.get(i);
      if (!got) {
        un.push(i);
        continue;
      }
      if (!bytesEqual(got.value, want))
        throw new EventLogError(
          "REPLAY_MISMATCH",
          `Event log does not replay to ${hashInfo(alg)?.name} PCR ${i}`,
          {
            expected: `"${toHex(want)}"`,
            actual: `"${toHex(got.value)}"`,
          },
        );
      ex.set(i, got.events);
    }
    explained.set(alg, ex);
    unexplained.set(alg, un);
  }
  return { replay, explained, unexplained };
}
