import { describe, expect, test } from "bun:test";
import { fromHex, toHex } from "@asterism/bytes";
import { TPM2_PCR_Extend, TPM2_PCR_Read } from "./commands/pcr.ts";
import { TPM2_GetRandom } from "./commands/random.ts";
import { TPM_ALG } from "./constants.ts";
import { TpmError, type TpmErrorCode } from "./errors.ts";
import { createTpm, marshalCommand, unmarshalResponse } from "./execute.ts";

describe("marshalCommand (Part 1 §18.7)", () => {
  test("TPM2_GetRandom without sessions", () => {
    expect(toHex(marshalCommand(TPM2_GetRandom, { params: { bytesRequested: 16 } }))).toBe(
      "80010000000c0000017b0010",
    );
  });

  test("TPM2_PCR_Extend with an empty password session", () => {
    const cmd = marshalCommand(TPM2_PCR_Extend, {
      handles: [16],
      params: { digests: [{ hashAlg: TPM_ALG.SHA1, digest: new Uint8Array(20).fill(0xaa) }] },
    });
    expect(toHex(cmd)).toBe(
      `80020000003500000182` +
        `00000010` +
        `00000009` +
        `4000000900000000 00`.replace(/ /g, "") +
        `00000001` +
        `0004` +
        "aa".repeat(20),
    );
  });

  test.each([
    {
      name: "wrong handle count",
      inv: { handles: [], params: { digests: [] } },
      wantCode: "INVALID_ARGUMENT",
    },
    {
      name: "wrong session count",
      inv: { handles: [16], sessions: [], params: { digests: [] } },
      wantCode: "INVALID_ARGUMENT",
    },
    {
      name: "digest of the wrong size",
      inv: { handles: [16], params: { digests: [{ hashAlg: TPM_ALG.SHA256, digest: new Uint8Array(3) }] } },
      wantCode: "INVALID_ARGUMENT",
    },
  ] as {
    name: string;
    inv: Parameters<typeof marshalCommand<{ digests: never[] }>>[1];
    wantCode: TpmErrorCode;
  }[])("$name → $wantCode", ({ inv, wantCode }) => {
    expect(() => marshalCommand(TPM2_PCR_Extend, inv)).toThrow(expect.objectContaining({ code: wantCode }));
  });
});

describe("unmarshalResponse (Part 1 §18.8)", () => {
  test("GetRandom success", () => {
    const r = unmarshalResponse(TPM2_GetRandom, 0, fromHex("80010000000e000000000002abcd"));
    expect(toHex(r.response.randomBytes)).toBe("abcd");
  });

  test("an error code becomes TPM_RC with the decoded code", () => {
    let err: unknown;
    try {
      unmarshalResponse(TPM2_GetRandom, 0, fromHex("80010000000a000001d5"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TpmError);
    expect((err as TpmError).code).toBe("TPM_RC");
    expect((err as TpmError).rc?.name).toBe("SIZE");
  });

  test.each([
    { name: "size field disagrees", hex: "80010000000f000000000002abcd" },
    { name: "wrong tag", hex: "80020000000e000000000002abcd" },
    { name: "trailing bytes", hex: "80010000000f000000000002abcdef" },
    { name: "truncated parameters", hex: "80010000000d000000000002ab" },
    { name: "header only", hex: "800100000006" },
    { name: "oversized TPM2B", hex: "80010000000e0000000000ffabcd" },
  ])("$name → RESPONSE_MALFORMED", ({ hex }) => {
    expect(() => unmarshalResponse(TPM2_GetRandom, 0, fromHex(hex))).toThrow(
      expect.objectContaining({ code: "RESPONSE_MALFORMED" }),
    );
  });

  test("a session response must carry exactly one auth area per session", () => {
    const ok = fromHex("80020000001300000000" + "00000000" + "0000" + "01" + "0000");
    expect(unmarshalResponse(TPM2_PCR_Extend, 1, ok).response).toEqual({});
    const extra = fromHex("80020000001400000000" + "00000000" + "0000" + "01" + "0000" + "00");
    expect(() => unmarshalResponse(TPM2_PCR_Extend, 1, extra)).toThrow(
      expect.objectContaining({ code: "RESPONSE_MALFORMED" }),
    );
  });
});

describe("createTpm", () => {
  test("serializes concurrent commands through a fake transport", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const tpm = createTpm({
      async send(cmd) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await Bun.sleep(1);
        inFlight--;
        expect(toHex(cmd.subarray(6, 10))).toBe("0000017e");
        // PCR_Read response: header, pcrUpdateCounter 1, empty selection, empty digest list.
        return fromHex("80010000001600000000" + "00000001" + "00000000" + "00000000");
      },
    });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => tpm.run(TPM2_PCR_Read, { params: { pcrSelectionIn: [] } })),
    );
    expect(maxInFlight).toBe(1);
    expect(results.map((r) => r.response.pcrUpdateCounter)).toEqual([1, 1, 1, 1, 1]);
  });
});
