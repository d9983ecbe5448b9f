import { describe, expect, test } from "bun:test";
import { ValiError } from "valibot";
import { TPM_ALG } from "./constants.ts";
import { pcrBanksFromJson, pcrBanksToJson } from "./pcr-json.ts";

describe("PCR JSON", () => {
  test("round trip", () => {
    const json = { sha1: { "0": "00".repeat(20) }, sha256: { "7": "ab".repeat(32), "16": "01".repeat(32) } };
    const banks = pcrBanksFromJson(json);
    expect(banks.get(TPM_ALG.SHA256)?.size).toBe(2);
    expect(pcrBanksToJson(banks)).toEqual(json);
  });

  test.each([
    ["unknown bank", { md5: { "0": "00".repeat(16) } }],
    ["PCR index 24", { sha256: { "24": "00".repeat(32) } }],
    ["non-hex", { sha256: { "0": "zz".repeat(32) } }],
    ["value of another bank's length", { sha256: { "0": "00".repeat(20) } }],
    ["not an object", [1, 2]],
  ])("%s is rejected", (_, json) => {
    expect(() => pcrBanksFromJson(json)).toThrow(ValiError);
  });
});
