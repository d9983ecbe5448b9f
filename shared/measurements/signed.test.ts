import { beforeAll, describe, expect, test } from "bun:test";
import { codeOf, readTestdata } from "@asterism/testing";
import {
  type ImageSelector,
  loadSignedMeasurements,
  parseImageMeasurements,
  parseMeasurementsPublicKey,
  selectImageMeasurements,
  verifyMeasurementsSignature,
} from "./index.ts";

const dir = ["constellation", "extracted"] as const;
let file: Uint8Array;
let sig: Uint8Array;
let pem: string;
beforeAll(async () => {
  file = await readTestdata(...dir, "measurements-signed-v1.0.0-test.json");
  sig = await readTestdata(...dir, "measurements-signed-v1.0.0-test.json.sig");
  pem = new TextDecoder().decode(await readTestdata(...dir, "measurements-signing-key.pub.pem"));
});

const WANT: ImageSelector = {
  version: "v1.0.0-test",
  ref: "-",
  stream: "stable",
  csp: "Unknown",
  variant: "dummy",
};
const utf8 = (s: string) => new TextEncoder().encode(s);

describe("signed measurements (VECTORS.md V9)", () => {
  test("file SHA-256 is the stated one", () => {
    expect(new Bun.CryptoHasher("sha256").update(file).digest("hex")).toBe(
      "7269a1e8c6a379b86af605f993352df1d4a289bbf79fe655fd78338bd7549d52",
    );
  });

  test("verifies and yields PCR 0 = 32 zero bytes, enforced", () => {
    const m = loadSignedMeasurements({ file, signature: sig, publicKey: pem, expect: WANT });
    expect([...m]).toEqual([[0, { expected: "00".repeat(32), warnOnly: false }]]);
  });

  test("a trailing newline on the .sig is tolerated", () => {
    expect(() => verifyMeasurementsSignature(file, `${new TextDecoder().decode(sig)}\n`, pem)).not.toThrow();
  });

  const negatives: { name: string; run: () => unknown; code: string }[] = [
    {
      name: "CSP GCP requested",
      run: () =>
        loadSignedMeasurements({ file, signature: sig, publicKey: pem, expect: { ...WANT, csp: "GCP" } }),
      code: "NO_MATCHING_ENTRY",
    },
    {
      name: "other variant requested",
      run: () =>
        loadSignedMeasurements({
          file,
          signature: sig,
          publicKey: pem,
          expect: { ...WANT, variant: "qemu-vtpm" },
        }),
      code: "NO_MATCHING_ENTRY",
    },
    {
      name: "image v1.0.0-another-image requested",
      run: () =>
        loadSignedMeasurements({
          file,
          signature: sig,
          publicKey: pem,
          expect: { ...WANT, version: "v1.0.0-another-image" },
        }),
      code: "IMAGE_MISMATCH",
    },
    {
      name: "other ref",
      run: () =>
        loadSignedMeasurements({ file, signature: sig, publicKey: pem, expect: { ...WANT, ref: "main" } }),
      code: "IMAGE_MISMATCH",
    },
    {
      name: "other stream",
      run: () =>
        loadSignedMeasurements({
          file,
          signature: sig,
          publicKey: pem,
          expect: { ...WANT, stream: "nightly" },
        }),
      code: "IMAGE_MISMATCH",
    },
    {
      name: "upstream bad signature AAAAAAA1RR91…",
      run: () =>
        loadSignedMeasurements({
          file,
          signature:
            "AAAAAAA1RR91pWPw1BMWXTSmTBHg/JtfKerbZNQ9PJTWDdW0sgIhANQbETJGb67qzQmMVmcq007VUFbHRMtYWKZeeyRf0gVa",
          publicKey: pem,
          expect: WANT,
        }),
      code: "SIGNATURE_INVALID",
    },
    {
      name: "file with one byte changed",
      run: () => {
        const f = file.slice();
        f[f.length - 3] = (f[f.length - 3] as number) ^ 1;
        return loadSignedMeasurements({ file: f, signature: sig, publicKey: pem, expect: WANT });
      },
      code: "SIGNATURE_INVALID",
    },
    {
      name: "file with trailing newline (exact bytes are signed)",
      run: () =>
        loadSignedMeasurements({
          file: new Uint8Array([...file, 0x0a]),
          signature: sig,
          publicKey: pem,
          expect: WANT,
        }),
      code: "SIGNATURE_INVALID",
    },
    {
      name: "valid signature over non-JSON content",
      run: () =>
        loadSignedMeasurements({
          file: utf8("This is some content to be signed!\n"),
          signature:
            "MEUCIQCGA/lSu5qCJgNNvgMaTKJ9rj6vQMecUDaQo3ukaiAfUgIgWoxXRoDKLY9naN7YgxokM7r2fwnyYk3M2WKJJO1g6yo=",
          publicKey: pem,
          expect: WANT,
        }),
      code: "INVALID_SYNTAX",
    },
    {
      name: "signature not base64",
      run: () => verifyMeasurementsSignature(file, "not base64!", pem),
      code: "SIGNATURE_ENCODING",
    },
    {
      name: "public key not PEM",
      run: () => verifyMeasurementsSignature(file, sig, "garbage"),
      code: "PUBLIC_KEY_INVALID",
    },
  ];
  test.each(negatives)("$name → $code", ({ run, code }) => {
    expect(codeOf(run)).toBe(code);
  });

  test("a P-384 key is rejected as PUBLIC_KEY_INVALID", async () => {
    const kp = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, [
      "sign",
      "verify",
    ]);
    const spki = Buffer.from(await crypto.subtle.exportKey("spki", kp.publicKey)).toString("base64");
    const p384 = `-----BEGIN PUBLIC KEY-----\n${spki}\n-----END PUBLIC KEY-----\n`;
    expect(codeOf(() => parseMeasurementsPublicKey(p384))).toBe("PUBLIC_KEY_INVALID");
  });

  test("second cosign vector (internal/sigstore/verify_test.go)", () => {
    const key = `-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElWUhon39eAqzEC+/GP03oY4/MQg+gCDlEzkuOCybCHf+q766bve799L7Y5y5oRsHY1MrUCUwYF/tL7Sg7EYMsA==\n-----END PUBLIC KEY-----\n`;
    const s =
      "MEUCIQDzMN3yaiO9sxLGAaSA9YD8rLwzvOaZKWa/bzkcjImUFAIgXLLGzClYUd1dGbuEiY3O/g/eiwQYlyxqLQalxjFmz+8=";
    expect(() =>
      verifyMeasurementsSignature(utf8("This is some content to be signed!\n"), s, key),
    ).not.toThrow();
    expect(
      codeOf(() => verifyMeasurementsSignature(utf8("This is some completely different content!\n"), s, key)),
    ).toBe("SIGNATURE_INVALID");
  });
});

describe("parseImageMeasurements()", () => {
  const base = { version: "v1", ref: "-", stream: "stable" };
  const bad = [
    { name: "missing list", value: base, code: "INVALID_SCHEMA" },
    { name: "empty version", value: { ...base, version: "", list: [] }, code: "INVALID_SCHEMA" },
    {
      name: "bad measurements inside an entry",
      value: {
        ...base,
        list: [{ csp: "QEMU", attestationVariant: "qemu-vtpm", measurements: { "0": "AQID" } }],
      },
      code: "INVALID_ENCODING",
    },
  ];
  test.each(bad)("rejects $name with $code", ({ value, code }) => {
    expect(codeOf(() => parseImageMeasurements(utf8(JSON.stringify(value))))).toBe(code);
  });

  test("two entries for the same CSP/variant are ambiguous → NO_MATCHING_ENTRY", () => {
    const e = { csp: "QEMU", attestationVariant: "qemu-vtpm", measurements: { "0": "00".repeat(32) } };
    const text = utf8(JSON.stringify({ ...base, list: [e, e] }));
    const img = parseImageMeasurements(text);
    expect(img.list).toHaveLength(2);
    expect(codeOf(() => selectImageMeasurements(img, { ...base, csp: "QEMU", variant: "qemu-vtpm" }))).toBe(
      "NO_MATCHING_ENTRY",
    );
  });
});
