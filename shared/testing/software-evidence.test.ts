import { describe, expect, test } from "bun:test";
import { createSoftwareAttester, SoftwareEvidenceError, softwareExtraData } from "./software-evidence.ts";

const userData = new Uint8Array(32).fill(1);
const nonce = new Uint8Array(32).fill(2);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "accepted";
  } catch (e) {
    expect(e).toBeInstanceOf(SoftwareEvidenceError);
    return (e as SoftwareEvidenceError).code;
  }
}

describe("software attester (test-only)", () => {
  test("issue → validate returns the userData and the measurements", async () => {
    const a = await createSoftwareAttester();
    const claims = await a.validator().validate(await a.issuer.issue(userData, nonce), nonce);
    expect(claims.variant).toBe("qemu-vtpm");
    expect(claims.userData).toEqual(userData);
    expect(claims.measurements).toEqual(a.measurements);
    expect(claims.details).toEqual({ software: true });
  });

  test.each([
    {
      name: "another nonce",
      wantCode: "NONCE_MISMATCH",
      run: async (a: Attester) =>
        a.validator().validate(await a.issuer.issue(userData, nonce), new Uint8Array(32)),
    },
    {
      name: "another policy",
      wantCode: "MEASUREMENT_MISMATCH",
      run: async (a: Attester) =>
        a.validator({ 4: "00".repeat(32) }).validate(await a.issuer.issue(userData, nonce), nonce),
    },
    {
      name: "another signer",
      wantCode: "SIGNATURE_INVALID",
      run: async (a: Attester) =>
        (await createSoftwareAttester()).validator().validate(await a.issuer.issue(userData, nonce), nonce),
    },
    {
      name: "another variant",
      wantCode: "VARIANT_MISMATCH",
      run: async (a: Attester) =>
        (await createSoftwareAttester({ variant: "azure-sev-snp" }))
          .validator()
          .validate(await a.issuer.issue(userData, nonce), nonce),
    },
    {
      name: "not JSON",
      wantCode: "DOCUMENT_MALFORMED",
      run: async (a: Attester) => a.validator().validate(new Uint8Array([0xff, 0x00]), nonce),
    },
    {
      name: "a tampered userData",
      wantCode: "SIGNATURE_INVALID",
      run: async (a: Attester) => {
        const doc = JSON.parse(new TextDecoder().decode(await a.issuer.issue(userData, nonce)));
        doc.userData = Buffer.from(new Uint8Array(32).fill(9)).toString("base64");
        return a.validator().validate(new TextEncoder().encode(JSON.stringify(doc)), nonce);
      },
    },
  ])("rejects $name ($wantCode)", async ({ run, wantCode }) => {
    expect(await codeOf(run(await createSoftwareAttester()))).toBe(wantCode);
  });

  test("binds like every variant: extraData = SHA-256(userData ‖ nonce)", async () => {
    const a = await createSoftwareAttester();
    const doc = JSON.parse(new TextDecoder().decode(await a.issuer.issue(userData, nonce)));
    expect(Buffer.from(doc.extraData, "base64")).toEqual(
      Buffer.from(await softwareExtraData(userData, nonce)),
    );
  });
});

type Attester = Awaited<ReturnType<typeof createSoftwareAttester>>;
