import { describe, expect, test } from "bun:test";
import { isAsterismError } from "@asterism/errors";
import { clusterIdMeasurement, createMeasurements, withClusterId } from "./index.ts";

// VECTORS.md V8 (computed by the Constellation study).
const CLUSTER_ID = Buffer.from("149bd7d54799f0142479d9fae7f9252ea9d96a6614b17baacb96e141a579191c", "hex");
const PCR15 = "df94b6715bbf6b33948ee485dff339195fba4b902e3ac4ee97283209bc2fb29f";
const RTMR2 =
  "93fd5cd53eddc256d208af2cba961dc7bc1cac4a76ad49d42a243844aab0000011fd776546152505512041f6aa3d6bf3";

describe("clusterIdMeasurement()", () => {
  test("SHA-256 form = V8 expected PCR15", () => {
    expect(clusterIdMeasurement(CLUSTER_ID)).toBe(PCR15);
  });
  test("SHA-384 form = V8 expected TDX index 3", () => {
    expect(clusterIdMeasurement(CLUSTER_ID, 48)).toBe(RTMR2);
  });
  test("a cluster ID of the wrong length is rejected", () => {
    try {
      clusterIdMeasurement(CLUSTER_ID.subarray(0, 31));
      throw new Error("no error");
    } catch (e) {
      expect(isAsterismError(e, "measurements", "UNSUPPORTED_SIZE")).toBe(true);
    }
  });
});

describe("withClusterId()", () => {
  test("sets PCR 15 enforced on a 32-byte policy", () => {
    const p = withClusterId(
      createMeasurements([[15, { expected: "00".repeat(32), warnOnly: true }]]),
      CLUSTER_ID,
    );
    expect(p.get(15)).toEqual({ expected: PCR15, warnOnly: false });
  });
  test("sets index 3 on a 48-byte policy", () => {
    const p = withClusterId(createMeasurements([[0, { expected: "00".repeat(48) }]]), CLUSTER_ID);
    expect(p.get(3)?.expected).toBe(RTMR2);
  });
});
