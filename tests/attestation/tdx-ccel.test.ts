/**
 * Cross-module: a verified TDX quote (@asterism/tdx) and its CC event log (@asterism/tpm) agree — the
 * CCEL replays to the quote's RTMR0..3 (go-tdx-guest TestReplayCcelWithTdQuote, VECTORS.md §4.2).
 */
import { describe, expect, test } from "bun:test";
import { parseQuote, verifyQuote } from "@asterism/tdx";
import { readTestdata } from "@asterism/testing";
import { EventLogError, matchCcel, parseCcel } from "@asterism/tpm";

const CCEL = ["external", "go-tdx-guest", "ccel"];
const NOW = new Date("2025-01-01T00:00:00Z");

describe("TDX quote + CCEL", () => {
  test("the cos-113 CCEL replays to the verified quote's RTMRs", async () => {
    const v = await verifyQuote(await readTestdata(...CCEL, "cos-113-tdx-quote.dat"), { now: NOW });
    const b = v.quote.body;
    const log = parseCcel(await readTestdata(...CCEL, "ccel_data.dat"));
    const r = matchCcel(log, [b.rtmr0, b.rtmr1, b.rtmr2, b.rtmr3]);
    expect(r.events.slice(0, 3).every((e) => e.length > 0)).toBe(true);
  });

  test("the duplicate-separator log does not replay to that quote", async () => {
    const b = parseQuote(await readTestdata(...CCEL, "cos-113-tdx-quote.dat")).body;
    const log = parseCcel(
      await readTestdata("external", "go-eventlog", "ccel", "cos-113-intel-tdx-dupe-separator.bin"),
    );
    expect(() => matchCcel(log, [b.rtmr0, b.rtmr1, b.rtmr2, b.rtmr3])).toThrow(EventLogError);
  });
});
