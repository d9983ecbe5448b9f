import { describe, expect, test } from "bun:test";
import { fromHex, toHex } from "@asterism/bytes";
import { readTestdata } from "@asterism/testing";
import { EventLogError } from "../errors.ts";
import { findDuplicateSeparators, matchCcel, parseCcel, parseCcelTable, replayCcel } from "./ccel.ts";

// VECTORS.md §4.2, source-stated (go-eventlog ccel/extract_test.go, ccel/cceventlog_test.go).
const COS113 = {
  rtmr0: "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6",
  rtmr1: "f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1",
  rtmr2: "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1",
};
const DUPE = {
  rtmr0: "a4de2df23e9611299123ba4359c42a5e578b0f8488bf1bba8ef5606d9ea5d81c97c064b482a5eac537d166bd0f0f752d",
  rtmr1: "0ee9366c928a77092f55e9e114c7394181fd264699155f0df77d23577618d5f650568a17d379355a07bd846e552f4e20",
  rtmr2: COS113.rtmr2,
};
const rtmrs = (v: typeof COS113) => [v.rtmr0, v.rtmr1, v.rtmr2].map(fromHex);

describe("TDX CCEL (VECTORS.md §4.2)", () => {
  test("go-tdx-guest ccel_data.dat replays to the quote's RTMR0-2; RTMR3 stays zero", async () => {
    const log = parseCcel(await readTestdata("external", "go-tdx-guest", "ccel", "ccel_data.dat"));
    const r = matchCcel(log, rtmrs(COS113));
    expect(toHex(r.rtmrs[3] as Uint8Array)).toBe("00".repeat(48));
    expect(r.events[0]?.length).toBeGreaterThan(0);
  });

  const dupe = ["external", "go-eventlog", "ccel"];
  test.each([
    {
      name: "unpadded, padding allowed",
      file: "cos-113-intel-tdx-dupe-separator-unpadded.bin",
      allowPadding: true,
      ok: true,
    },
    {
      name: "unpadded, padding refused",
      file: "cos-113-intel-tdx-dupe-separator-unpadded.bin",
      allowPadding: false,
      ok: true,
    },
    {
      name: "padded, padding allowed",
      file: "cos-113-intel-tdx-dupe-separator.bin",
      allowPadding: true,
      ok: true,
    },
    {
      name: "padded, padding refused",
      file: "cos-113-intel-tdx-dupe-separator.bin",
      allowPadding: false,
      ok: false,
    },
  ])("duplicate-separator log, $name", async ({ file, allowPadding, ok }) => {
    const bytes = await readTestdata(...dupe, file);
    if (!ok) {
      expect(() => parseCcel(bytes, { allowPadding })).toThrow(
        expect.objectContaining({ code: "TRAILING_DATA" }),
      );
      return;
    }
    const log = parseCcel(bytes, { allowPadding });
    matchCcel(log, rtmrs(DUPE));
    // Replay succeeds, but the duplicated separator is reported for firmware-state extraction to refuse.
    expect(findDuplicateSeparators(log).length).toBe(1);
  });

  test("the un-duplicated log has no duplicate separators", async () => {
    const log = parseCcel(await readTestdata("external", "go-tdx-guest", "ccel", "ccel_data.dat"));
    expect(findDuplicateSeparators(log)).toEqual([]);
  });

  test("a wrong RTMR is REPLAY_MISMATCH", async () => {
    const log = parseCcel(await readTestdata("external", "go-tdx-guest", "ccel", "ccel_data.dat"));
    const bad = rtmrs(COS113);
    bad[1] = new Uint8Array(48);
    expect(() => matchCcel(log, bad)).toThrow(EventLogError);
    expect(() => matchCcel(log, bad)).toThrow(expect.objectContaining({ code: "REPLAY_MISMATCH" }));
  });

  test.each([
    ["go-tdx-guest/ccel/ccel_table.dat", 262144n],
    ["go-eventlog/ccel/CCEL.bin", 65536n],
  ] as const)("ACPI CCEL table %s parses with checksum and LAML", async (path, laml) => {
    const t = parseCcelTable(await readTestdata("external", ...path.split("/")));
    expect(t.ccType).toBe(2);
    expect(t.laml).toBe(laml);
  });

  test("a CCEL table with a bad checksum is rejected", async () => {
    const t = (await readTestdata("external", "go-eventlog", "ccel", "CCEL.bin")).slice();
    t[9] = (t[9] ?? 0) ^ 1;
    expect(() => parseCcelTable(t)).toThrow(expect.objectContaining({ code: "MALFORMED" }));
  });

  test("replayCcel exposes RTMRs for a log with no events beyond the Spec ID event", async () => {
    const bytes = await readTestdata("external", "go-tdx-guest", "ccel", "ccel_data.dat");
    // Keep only the Spec ID event (32-byte header + its data size).
    const size = new DataView(bytes.buffer, bytes.byteOffset).getUint32(28, true);
    const r = replayCcel(parseCcel(bytes.subarray(0, 32 + size)));
    expect(r.rtmrs.map((x) => toHex(x))).toEqual(Array(4).fill("00".repeat(48)));
  });
});
