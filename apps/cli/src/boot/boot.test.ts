/**
 * The simulated firmware on a real swtpm: the PCRs it leaves equal the software precomputation, and the
 * event log it writes replays to the quoted PCRs.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import {
  type ClosableTpm,
  EV,
  matchEventLog,
  openSwtpm,
  parseEventLog,
  readPcrs,
  TPM_ALG,
} from "@asterism/tpm";
import { defaultBootComponentBytes } from "./components.ts";
import { BOOT_PCRS, bootEvents, normaliseCmdline } from "./events.ts";
import { runSimulatedFirmware } from "./firmware.ts";
import { bootEventLog, precomputeBootPcrs } from "./precompute.ts";

let sw: SwtpmInstance;
let tpm: ClosableTpm;
beforeAll(async () => {
  sw = await startSwtpm();
  tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
}, 20_000);
afterAll(async () => {
  await tpm?.close();
  await sw?.stop();
});

const components = defaultBootComponentBytes("qemu-vtpm");
const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("hex");

describe("simulated firmware", () => {
  test("PCRs on swtpm equal the precomputed values; the log replays to them", async () => {
    const log = await runSimulatedFirmware(tpm, components);
    expect(log).toEqual(bootEventLog(components));
    const pcrs = (await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [...BOOT_PCRS] }])).get(
      TPM_ALG.SHA256,
    );
    const expected = precomputeBootPcrs(components);
    for (const i of BOOT_PCRS) expect({ i, v: hex(pcrs?.get(i)) }).toEqual({ i, v: hex(expected.get(i)) });
    const parsed = parseEventLog(log);
    expect(() =>
      matchEventLog(parsed, new Map([[TPM_ALG.SHA256, pcrs as Map<number, Uint8Array>]])),
    ).not.toThrow();
  });
});

describe("boot events", () => {
  test("each component moves exactly its PCR", () => {
    const base = precomputeBootPcrs(components);
    const changed = (over: Partial<typeof components>) => {
      const after = precomputeBootPcrs({ ...components, ...over });
      return BOOT_PCRS.filter((i) => hex(after.get(i)) !== hex(base.get(i)));
    };
    const flip = (b: Uint8Array) => {
      const c = b.slice();
      c[c.length - 1] = (c[c.length - 1] ?? 0) ^ 1;
      return c;
    };
    expect(changed({ firmware: flip(components.firmware) })).toEqual([0]);
    expect(changed({ kernel: flip(components.kernel) })).toEqual([4]);
    expect(changed({ initrd: flip(components.initrd) })).toEqual([9]);
    expect(changed({ cmdline: new TextEncoder().encode("console=ttyS0 debug\n") })).toEqual([12]);
  });

  test("separator-only PCRs have Constellation's fixed value; unused PCRs are zero", () => {
    const p = precomputeBootPcrs(components);
    for (const i of [1, 2, 3, 5, 6, 7])
      expect(hex(p.get(i))).toBe("3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969");
    for (const i of [8, 10, 11, 13, 14]) expect(hex(p.get(i))).toBe("00".repeat(32));
  });

  test("cmdline: trailing newlines are not measured", () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(normaliseCmdline(enc("a b\r\n\n"))).toEqual(enc("a b"));
    const ev = bootEvents(components).find((e) => e.pcrIndex === 12);
    expect(ev?.eventType).toBe(EV.IPL);
  });
});
