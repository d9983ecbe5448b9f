import { loadSignedMeasurements, measurementsToJson } from "@asterism/measurements";
import { defineCommand } from "../../command.ts";
import { readInputFile, readInputText } from "../../input.ts";
import { printVerdict } from "../../verdict.ts";

/**
 * `asterism measurements verify`: check a published, signed measurements file (ImageMeasurementsV2) and
 * print the entry for the given image, CSP and variant.
 */
export const verifyCommand = defineCommand({
  name: "verify",
  summary: "Verify a signed measurements.json and select the entry for an image, CSP and variant",
  options: [
    {
      name: "file",
      type: "string",
      value: "FILE",
      description: "measurements.json (exact bytes)",
      required: true,
    },
    {
      name: "sig",
      type: "string",
      value: "FILE",
      description: "measurements.json.sig (base64)",
      required: true,
    },
    {
      name: "key",
      type: "string",
      value: "PEM",
      description: "Publisher public key (P-256, PEM)",
      required: true,
    },
    {
      name: "version",
      type: "string",
      value: "V",
      description: "Image version, e.g. v2.25.0",
      required: true,
    },
    {
      name: "ref",
      type: "string",
      value: "REF",
      description: 'Image ref ("-" for releases)',
      required: true,
    },
    {
      name: "stream",
      type: "string",
      value: "S",
      description: 'Image stream ("stable" for releases)',
      required: true,
    },
    {
      name: "csp",
      type: "string",
      value: "CSP",
      description: "AWS, Azure, GCP, OpenStack or QEMU",
      required: true,
    },
    { name: "variant", type: "string", value: "NAME", description: "Attestation variant", required: true },
  ],
  examples: [
    "asterism measurements verify --file measurements.json --sig measurements.json.sig --key release.pem --version v2.25.0 --ref - --stream stable --csp QEMU --variant qemu-vtpm",
  ],
  async run(ctx) {
    const v = ctx.values;
    const file = readInputFile(String(v["file"]), "measurements file");
    const signature = readInputFile(String(v["sig"]), "signature");
    const publicKey = readInputText(String(v["key"]), "public key");
    try {
      const m = loadSignedMeasurements({
        file,
        signature,
        publicKey,
        expect: {
          version: String(v["version"]),
          ref: String(v["ref"]),
          stream: String(v["stream"]),
          csp: String(v["csp"]),
          variant: String(v["variant"]),
        },
      });
      return printVerdict(ctx, {
        valid: true,
        result: { measurements: measurementsToJson(m) },
        summary: `signature OK, ${m.size} measurement(s) for ${String(v["csp"])}/${String(v["variant"])}`,
      });
    } catch (error) {
      return printVerdict(ctx, { valid: false, error });
    }
  },
});
