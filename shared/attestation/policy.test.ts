import { describe, expect, test } from "bun:test";
import { codeOf } from "@asterism/testing";
import { checkPolicyForVariant, parseAttestationPolicy } from "./index.ts";

const enc = (x: unknown) => new TextEncoder().encode(typeof x === "string" ? x : JSON.stringify(x));
const H = "00".repeat(32);

describe("parseAttestationPolicy()", () => {
  test("policy object", () => {
    const p = parseAttestationPolicy(enc({ variants: ["qemu-vtpm"], measurements: { "15": H } }));
    expect(p.variants).toEqual(["qemu-vtpm"]);
    expect(p.measurements.get(15)?.warnOnly).toBe(false);
  });
  test("bare JSON measurements map", () => {
    expect(
      parseAttestationPolicy(enc({ "4": { expected: H, warnOnly: true } })).measurements.get(4)?.warnOnly,
    ).toBe(true);
  });
  test("bare YAML measurements map", () => {
    expect(
      parseAttestationPolicy(enc(`15:\n  expected: "${H}"\n  warnOnly: false\n`)).measurements.has(15),
    ).toBe(true);
  });
  const bad = [
    { name: "unknown variant", input: { variants: ["dummy"], measurements: {} }, code: "UNKNOWN_VARIANT" },
    { name: "empty variants", input: { variants: [], measurements: {} }, code: "INVALID_SCHEMA" },
    { name: "unknown key", input: { measurements: {}, allowDebug: true }, code: "INVALID_SCHEMA" },
    { name: "bad measurement", input: { measurements: { "0": "AQID" } }, code: "INVALID_ENCODING" },
  ];
  test.each(bad)("rejects $name with $code", ({ input, code }) => {
    expect(codeOf(() => parseAttestationPolicy(enc(input)))).toBe(code);
  });
});

describe("checkPolicyForVariant()", () => {
  test("variant not in the list → VARIANT_NOT_ALLOWED", () => {
    const p = parseAttestationPolicy(enc({ variants: ["gcp-sev-snp"], measurements: {} }));
    expect(codeOf(() => checkPolicyForVariant(p, "qemu-vtpm"))).toBe("VARIANT_NOT_ALLOWED");
  });
  test("48-byte policy for a TPM variant → POLICY_INVALID", () => {
    const p = parseAttestationPolicy(enc({ measurements: { "0": "00".repeat(48) } }));
    expect(codeOf(() => checkPolicyForVariant(p, "qemu-vtpm"))).toBe("POLICY_INVALID");
    expect(codeOf(() => checkPolicyForVariant(p, "qemu-tdx"))).toBeUndefined();
  });
});
