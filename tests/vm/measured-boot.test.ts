/**
 * The node image booted for real: OVMF measures the UKI into a swtpm vTPM, systemd-stub and the kernel
 * add theirs, and the node prints its PCRs and event log on the serial console
 * (`asterism-boot-report.service`). We check that `precomputeImageMeasurements` predicted every PCR
 * and every event, and that one changed byte of the UKI's kernel command line is caught and named by
 * the measurements validator.
 *
 * Heavy: builds the image (cached by inputs in dist/image, ~5 min cold) and boots two VMs in parallel
 * (~2–4 min under TCG). Needs /dev/kvm (the gate the CI uses for VM tests), root (mmdebstrap), and
 * the image tools (scripts/apt-packages.txt).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "@asterism/bytes";
import { precomputeImageMeasurements } from "@asterism/measured-boot";
import { createMeasurements, MeasurementMismatchError, validateMeasurements } from "@asterism/measurements";
import { type BootReport, startNodeVm, stopNodeVm, waitForBootReport } from "@asterism/node-vm";
import { parseEventLog, replayEventLog } from "@asterism/tpm";
import { buildNodeImage, canRunVmTests, NODE_IMAGE, tamperCmdline } from "../support/vm.ts";

const SHA256 = 0x000b;
const BUILD_MS = 20 * 60_000;
const BOOT_MS = 8 * 60_000;

const image = NODE_IMAGE;
let work = "";
let tampered = "";
const vmDirs: string[] = [];
let original: BootReport | undefined;
let modified: BootReport | undefined;

describe.if(canRunVmTests)("node image measured boot (VM)", () => {
  beforeAll(async () => {
    buildNodeImage();
    work = mkdtempSync(join(tmpdir(), "asterism-vm-"));
    tampered = join(work, "tampered.raw");
    tamperCmdline(image, tampered);
    const boot = async (name: string, img: string) => {
      const dir = join(work, name);
      vmDirs.push(dir);
      const vm = await startNodeVm({ name, image: img, dir, memoryMiB: 1024 });
      return await waitForBootReport(vm.reportLog, BOOT_MS);
    };
    [original, modified] = await Promise.all([boot("measured", image), boot("tampered", tampered)]);
  }, BUILD_MS + BOOT_MS);

  afterAll(async () => {
    await Promise.all(vmDirs.map((d) => stopNodeVm(d, 2000)));
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  test("quoted PCRs equal the precomputed ones (printed side by side)", () => {
    const expected = precomputeImageMeasurements(readFileSync(image)).measurements;
    const rows = Object.entries(expected).map(([i, e]) => {
      const got = original?.pcrs.get(Number(i));
      return { pcr: Number(i), precomputed: e.expected, booted: got ? toHex(got) : "missing" };
    });
    console.log(
      ["pcr  precomputed                                                       booted"]
        .concat(
          rows.map(
            (r) =>
              `${String(r.pcr).padStart(3)}  ${r.precomputed}  ${r.precomputed === r.booted ? "=" : "≠"} ${r.booted}`,
          ),
        )
        .join("\n"),
    );
    for (const r of rows)
      expect({ pcr: r.pcr, value: r.booted }).toEqual({ pcr: r.pcr, value: r.precomputed });
  });

  test("the node runs a verified read-only root, sees its state disk and dm-crypt, and offers no login", () => {
    expect(original?.facts.get("root-verity")).toBe("verified");
    expect(original?.facts.get("root-mount")).toMatch(/^\/dev\/mapper\/root,squashfs,ro/);
    expect(original?.facts.get("state-disk")).toBe("present");
    expect(original?.facts.get("dm-crypt")).toBe("loaded");
    const serial = readFileSync(join(vmDirs[0]!, "serial.log"), "utf8");
    expect(serial).not.toMatch(/login:/);
  });

  test("the firmware event log replays to the PCRs and holds exactly the predicted events", () => {
    expect(original?.eventLog).toBeDefined();
    const log = parseEventLog(original!.eventLog!);
    const replay = replayEventLog(log, { banks: [SHA256] }).get(SHA256)!;
    // PCRs 0-9 are extended only before ExitBootServices, so the firmware log explains all of them.
    for (let i = 0; i <= 9; i++) {
      expect({ pcr: i, value: toHex(replay.get(i)?.value ?? new Uint8Array(32)) }).toEqual({
        pcr: i,
        value: toHex(original!.pcrs.get(i)!),
      });
    }
    const predicted = precomputeImageMeasurements(readFileSync(image)).detail;
    for (const pcr of [4, 5, 9, 11]) {
      const fromLog = log.events
        .filter((e) => e.pcrIndex === pcr && e.eventType !== 0x3 /* EV_NO_ACTION */)
        .map((e) => ({ type: e.eventType, digest: toHex(e.digests.get(SHA256)!) }));
      const fromImage = predicted.events
        .filter((e) => e.pcr === pcr)
        .map((e) => ({ type: e.type, digest: toHex(e.digest) }));
      expect({ pcr, events: fromLog }).toEqual({ pcr, events: fromImage });
    }
  });

  test("one byte of the kernel command line: PCRs 4, 9 and 11 differ and are named", () => {
    const policy = createMeasurements(
      Object.entries(precomputeImageMeasurements(readFileSync(image)).measurements).map(
        ([i, e]) => [Number(i), e] as const,
      ),
    );
    let caught: unknown;
    try {
      validateMeasurements(policy, modified!.pcrs);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MeasurementMismatchError);
    const mismatch = caught as MeasurementMismatchError;
    expect(mismatch.code).toBe("MEASUREMENT_MISMATCH");
    expect(mismatch.verdict.mismatches.map((f) => f.index)).toEqual([4, 9, 11]);
    console.log(`tampered image refused: ${mismatch.message.slice(0, 400)}`);
    // …and the precomputation of the tampered image predicts what that node measured.
    const own = precomputeImageMeasurements(readFileSync(tampered)).measurements;
    for (const [i, e] of Object.entries(own)) {
      expect({ pcr: Number(i), value: toHex(modified!.pcrs.get(Number(i))!) }).toEqual({
        pcr: Number(i),
        value: e.expected,
      });
    }
  });
});
