import { describe, expect, test } from "bun:test";
import { TpmError } from "./errors.ts";
import { decodeRc, describeRc, isTpmRc, TPM_RC } from "./rc.ts";

describe("decodeRc (Part 2 §6.6)", () => {
  test.each([
    { raw: 0x100, name: "INITIALIZE", format: 0, warning: false },
    { raw: 0x101, name: "FAILURE", format: 0, warning: false },
    { raw: 0x128, name: "PCR_CHANGED", format: 0, warning: false },
    { raw: 0x144, name: "AUTHSIZE", format: 0, warning: false },
    { raw: 0x902, name: "OBJECT_MEMORY", format: 0, warning: true },
    { raw: 0x922, name: "RETRY", format: 0, warning: true },
    { raw: 0x98e, name: "AUTH_FAIL", format: 1, warning: false, subject: { kind: "session", index: 1 } },
    { raw: 0x9a2, name: "BAD_AUTH", format: 1, warning: false, subject: { kind: "session", index: 1 } },
    { raw: 0xaa2, name: "BAD_AUTH", format: 1, warning: false, subject: { kind: "session", index: 2 } },
    { raw: 0x18b, name: "HANDLE", format: 1, warning: false, subject: { kind: "handle", index: 1 } },
    { raw: 0x28b, name: "HANDLE", format: 1, warning: false, subject: { kind: "handle", index: 2 } },
    { raw: 0x2c4, name: "VALUE", format: 1, warning: false, subject: { kind: "parameter", index: 2 } },
    { raw: 0x1d5, name: "SIZE", format: 1, warning: false, subject: { kind: "parameter", index: 1 } },
    { raw: 0x0a2, name: "BAD_AUTH", format: 1, warning: false },
  ])("0x$raw → $name", ({ raw, name, format, warning, subject }) => {
    const rc = decodeRc(raw);
    expect(rc.name).toBe(name);
    expect(rc.format).toBe(format as 0 | 1);
    expect(rc.warning).toBe(warning);
    expect(rc.subject).toEqual(subject as typeof rc.subject);
  });

  test("format-one base codes strip the number", () => {
    expect(decodeRc(0x9a2).base).toBe(TPM_RC.BAD_AUTH);
    expect(decodeRc(0x28b).base).toBe(TPM_RC.HANDLE);
  });

  test("vendor and TPM 1.2 codes are named by value, never guessed", () => {
    expect(decodeRc(0x0500 | 0x01).vendor).toBe(true);
    expect(decodeRc(0x0001).vendor).toBe(true);
    expect(decodeRc(0x0001).name).toBe("0x001");
  });

  test("describeRc and isTpmRc", () => {
    const rc = decodeRc(0x9a2);
    expect(describeRc(rc)).toBe("TPM_RC_BAD_AUTH (0x9a2, session 1)");
    const err = new TpmError("TPM_RC", "x", { rc });
    expect(isTpmRc(err, TPM_RC.BAD_AUTH)).toBe(true);
    expect(isTpmRc(err, TPM_RC.AUTH_FAIL)).toBe(false);
    expect(isTpmRc(new Error("x"), TPM_RC.BAD_AUTH)).toBe(false);
    expect(new TpmError("TPM_RC", "x", { rc: decodeRc(0x922) }).isWarning).toBe(true);
  });

  test("every 12-bit code decodes without throwing", () => {
    for (let raw = 0; raw < 0x1000; raw++) expect(typeof decodeRc(raw).name).toBe("string");
  });
});
