import { describe, expect, test } from "bun:test";
import { codeOf, readTestdata } from "@asterism/testing";
import { EventLogWriter, parseEventLog, TPM_ALG } from "@asterism/tpm";
import { checkGceMachineState, GCP_SEV_ES_TECHNOLOGIES } from "../variants/gcp.ts";
import { gceMachineState } from "./gce-machine-state.ts";
import { GCE, gceFirmwareEvents } from "./gce-vectors.test-helper.ts";
import type { VerifiedVtpm } from "./verify.ts";

function logOf(events: ReturnType<typeof gceFirmwareEvents>) {
  const w = new EventLogWriter([TPM_ALG.SHA256]);
  for (const e of events) w.append(e);
  return parseEventLog(w.bytes());
}

const verifiedWith = (eventLog?: ReturnType<typeof parseEventLog>) =>
  ({ eventLog, eventLogVerified: eventLog !== undefined }) as unknown as VerifiedVtpm;

describe("GCE machine state", () => {
  test("COS 85 AMD SEV vector: firmware v1, AMD_SEV", async () => {
    const log = parseEventLog(
      await readTestdata(...GCE, "attestations", "decoded", "gce-cos-85-nonce9009", "event_log.bin"),
    );
    expect(gceMachineState(log)).toEqual({ firmwareVersion: 1, technology: "AMD_SEV" });
    expect(checkGceMachineState(verifiedWith(log), GCP_SEV_ES_TECHNOLOGIES).technology).toBe("AMD_SEV");
  });

  test.each([
    ["no confidential technology", logOf(gceFirmwareEvents(0)), "PLATFORM_POLICY"],
    ["Intel TDX on an SEV variant", logOf(gceFirmwareEvents(3)), "PLATFORM_POLICY"],
    ["firmware version 0", logOf(gceFirmwareEvents(1, 0)), "PLATFORM_POLICY"],
    ["no GCE events at all", logOf([]), "PLATFORM_POLICY"],
    ["no event log", undefined, "PLATFORM_POLICY"],
  ])("%s → %s", (_name, log, code) => {
    expect(codeOf(() => checkGceMachineState(verifiedWith(log), GCP_SEV_ES_TECHNOLOGIES))).toBe(code);
  });

  test("SEV-SNP technology is accepted for gcp-sev-es", () => {
    expect(
      checkGceMachineState(verifiedWith(logOf(gceFirmwareEvents(4))), GCP_SEV_ES_TECHNOLOGIES).technology,
    ).toBe("AMD_SEV_SNP");
  });
});
