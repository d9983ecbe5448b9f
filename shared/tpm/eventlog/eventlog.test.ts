import { describe, expect, test } from "bun:test";
import { fromHex, toHex } from "@asterism/bytes";
import { readTestdata } from "@asterism/testing";
import { TPM_ALG } from "../constants.ts";
import { EventLogError, type EventLogErrorCode } from "../errors.ts";
import { hashInfo } from "../hash.ts";
import { EV, eventTypeName } from "./event-types.ts";
import { parseEventLog } from "./parse.ts";
import { matchEventLog, replayEventLog } from "./replay.ts";

const DIR = ["external", "go-tpm-tools", "eventlogs"];
type Expected = Record<string, { expected_pcrs: Record<string, Record<string, string>> }>;
const expected = JSON.parse(
  new TextDecoder().decode(await readTestdata(...DIR, "expected.json")),
) as Expected;
const names = Object.keys(expected).filter((k) => !k.startsWith("_"));

function banksOf(pcrs: Record<string, Record<string, string>>) {
  return new Map(
    Object.entries(pcrs).map(([bank, v]) => [
      hashInfo(bank)?.alg as number,
      new Map(Object.entries(v).map(([i, hex]) => [Number(i), fromHex(hex)])),
    ]),
  );
}

describe("go-tpm-tools event logs replay to expected.json (VECTORS.md §4.1)", () => {
  test("there are 14 logs with 245 expected values", () => {
    expect(names.length).toBe(14);
    const n = names.reduce(
      (s, k) =>
        s + Object.values(expected[k]?.expected_pcrs ?? {}).reduce((t, b) => t + Object.keys(b).length, 0),
      0,
    );
    expect(n).toBe(245);
  });

  test.each(names)("%s", async (name) => {
    const log = parseEventLog(await readTestdata(...DIR, name));
    expect(log.format).toBe(name === "debian-10.bin" ? "sha1" : "crypto-agile");
    const want = banksOf(expected[name]?.expected_pcrs ?? {});
    const m = matchEventLog(log, want);
    for (const [alg, pcrs] of want) {
      expect(m.unexplained.get(alg)).toEqual([]);
      for (const [i, v] of pcrs) {
        expect(toHex(m.replay.get(alg)?.get(i)?.value ?? new Uint8Array())).toBe(toHex(v));
        // Every explaining event really targets that PCR.
        for (const idx of m.explained.get(alg)?.get(i) ?? []) expect(log.events[idx]?.pcrIndex).toBe(i);
      }
    }
  });

  test("PCR 0 explanation of a GCE log starts with the S-CRTM version event", async () => {
    const log = parseEventLog(await readTestdata(...DIR, "cos-85-amd-sev.bin"));
    const r = replayEventLog(log, { banks: [TPM_ALG.SHA256] });
    const first = r.get(TPM_ALG.SHA256)?.get(0)?.events[0] as number;
    expect(eventTypeName(log.events[first]?.eventType ?? 0)).toBe("EV_S_CRTM_VERSION");
  });
});

describe("event log negatives", () => {
  /** Offset of the second event of cos-85-amd-sev.bin (32-byte header + 41-byte Spec ID data). */
  const EVENT1 = 0x49;
  test("debian-10 against a SHA-1 PCR0 of 00000000 is rejected (TestParseMachineStateFail)", async () => {
    const log = parseEventLog(await readTestdata(...DIR, "debian-10.bin"));
    let err: unknown;
    try {
      matchEventLog(log, new Map([[TPM_ALG.SHA1, new Map([[0, fromHex("00000000")]])]]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EventLogError);
    expect((err as EventLogError).code).toBe("REPLAY_MISMATCH");
  });

  const base = async () => readTestdata(...DIR, "cos-85-amd-sev.bin");
  const cases: { name: string; wantCode: EventLogErrorCode; mutate: (b: Uint8Array) => Uint8Array }[] = [
    { name: "truncated inside an event", wantCode: "MALFORMED", mutate: (b) => b.subarray(0, b.length - 7) },
    { name: "truncated inside the Spec ID event", wantCode: "MALFORMED", mutate: (b) => b.subarray(0, 40) },
    {
      name: "oversized event size",
      wantCode: "MALFORMED",
      mutate: (b) => {
        const c = b.slice();
        // Second event (at 0x49)'s eventSize: after pcrIndex, type, count and the sha1/256/384 digests.
        const off = EVENT1 + 4 + 4 + 4 + 22 + 34 + 50;
        new DataView(c.buffer).setUint32(off, 0x7fffffff, true);
        return c;
      },
    },
    {
      name: "unknown digest algorithm in an event",
      wantCode: "MALFORMED",
      mutate: (b) => {
        const c = b.slice();
        new DataView(c.buffer).setUint16(EVENT1 + 12, 0x0099, true);
        return c;
      },
    },
    {
      name: "zero padding without allowPadding",
      wantCode: "TRAILING_DATA",
      mutate: (b) => {
        const c = new Uint8Array(b.length + 64);
        c.set(b);
        return c;
      },
    },
  ];
  test.each(cases)("$name → $wantCode", async ({ mutate, wantCode }) => {
    let err: unknown;
    try {
      parseEventLog(mutate(await base()));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EventLogError);
    expect((err as EventLogError).code).toBe(wantCode);
  });

  test("zero padding is accepted with allowPadding", async () => {
    const b = await base();
    const c = new Uint8Array(b.length + 64);
    c.set(b);
    expect(parseEventLog(c, { allowPadding: true }).events.length).toBe(parseEventLog(b).events.length);
  });

  test("a tampered digest makes the log fail to replay (REPLAY_MISMATCH)", async () => {
    const b = (await base()).slice();
    const name = "cos-85-amd-sev.bin";
    // First byte of the second event's SHA-1 digest.
    b[EVENT1 + 12 + 2] = (b[EVENT1 + 12 + 2] ?? 0) ^ 1;
    const log = parseEventLog(b);
    expect(log.events[1]?.eventType).toBe(EV.S_CRTM_VERSION);
    expect(() => matchEventLog(log, banksOf(expected[name]?.expected_pcrs ?? {}))).toThrow(EventLogError);
  });

  test("replaying a bank the log lacks is BANK_MISSING", async () => {
    const log = parseEventLog(await readTestdata(...DIR, "debian-10.bin"));
    expect(() => replayEventLog(log, { banks: [TPM_ALG.SHA256] })).toThrow(
      expect.objectContaining({ code: "BANK_MISSING" }),
    );
  });
});
