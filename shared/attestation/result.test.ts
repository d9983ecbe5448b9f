import { describe, expect, test } from "bun:test";
import { MeasurementMismatchError } from "@asterism/measurements";
import { AttestationVerifyError, EAR_PROFILE, earFromError, toEar, type VerifiedClaims } from "./index.ts";

const now = new Date("2026-01-01T00:00:00Z");
const claims: VerifiedClaims = {
  variant: "qemu-vtpm",
  userData: new Uint8Array(32).fill(7),
  measurements: { 15: "00".repeat(32), 4: "11".repeat(32) },
  warnings: [],
  details: { instance: { name: "n1" } },
};
const facts = { identityTrusted: false, hardwareVerified: false, configurationChecked: false };

describe("EAR-shaped results", () => {
  test("affirming result carries profile, iat, nonce and verified claims", () => {
    const ear = toEar(claims, facts, { now, build: "asterism test", nonce: new Uint8Array(32) });
    expect(ear.eat_profile).toBe(EAR_PROFILE);
    expect(ear.iat).toBe(1767225600);
    expect(ear.eat_nonce).toBe("A".repeat(43));
    const s = ear.submods["qemu-vtpm"];
    expect(s?.["ear.status"]).toBe("affirming");
    expect(s?.["ear.trustworthiness-vector"]["instance-identity"]).toBe(0);
    expect(Object.keys(s?.["asterism.measurements"] ?? {})).toEqual(["4", "15"]);
    expect(s?.["asterism.instance"]).toEqual({ name: "n1" });
    expect(JSON.parse(JSON.stringify(ear))).toEqual(ear);
  });

  test("warn-only mismatches give status warning", () => {
    const ear = toEar({ ...claims, warnings: ["measurement 14 …"] }, facts, { now, build: "t" });
    expect(ear.submods["qemu-vtpm"]?.["ear.status"]).toBe("warning");
    expect(ear.submods["qemu-vtpm"]?.["asterism.warnings"]).toHaveLength(1);
  });

  test("rejections are contraindicated and attributed by code", () => {
    const m = earFromError(
      "qemu-vtpm",
      new MeasurementMismatchError({ ok: false, mismatches: [], warnings: [], matched: [] }),
      { now, build: "t" },
    );
    const s = m.submods["qemu-vtpm"];
    expect(s?.["ear.status"]).toBe("contraindicated");
    expect(s?.["ear.trustworthiness-vector"].executables).toBe(96);
    expect(s?.["asterism.error"]?.code).toBe("MEASUREMENT_MISMATCH");
    const q = earFromError("qemu-vtpm", new AttestationVerifyError("QUOTE_SIGNATURE_INVALID", "x"), {
      now,
      build: "t",
    });
    expect(q.submods["qemu-vtpm"]?.["ear.trustworthiness-vector"]["instance-identity"]).toBe(96);
  });
});
