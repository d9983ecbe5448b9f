import { type AttestationPolicy, parseAttestationPolicy, validateDocument } from "@asterism/attestation";
import { certificatesFromPemOrDer } from "@asterism/pki";
import { defineCommand } from "../../command.ts";
import { hexOption, readInputFile, stringOption, timeOption } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";
import { printVerdict } from "../../verdict.ts";
import { VERSION } from "../../version.ts";

/**
 * `asterism attestation verify-doc`: check an Asterism attestation document against a policy, offline.
 * Exit 0 valid (result printed as an EAR-shaped object), 1 invalid ({valid:false, code, message}),
 * 2 usage error or unreadable input (including a malformed policy: that is the operator's input).
 */
export const verifyDocCommand = defineCommand({
  name: "verify-doc",
  summary: "Verify an Asterism attestation document against a measurements policy",
  description:
    "Parses the document, checks the hardware evidence (quote signatures, AK trust, nonce binding, event log) and compares the measurements with the policy. Without --nonce the document's own nonce is used: the binding is checked but freshness is not.",
  options: [
    {
      name: "doc",
      type: "string",
      value: "FILE",
      description: "Attestation document (JSON)",
      required: true,
    },
    {
      name: "policy",
      type: "string",
      value: "FILE",
      description:
        'Policy: {"variants"?: [...], "measurements": {...}} or a bare measurements map (JSON/YAML)',
      required: true,
    },
    { name: "nonce", type: "string", value: "HEX", description: "The nonce you sent (32 bytes, hex)" },
    { name: "now", type: "string", value: "T", description: "Verification time (RFC 3339); default: now" },
    {
      name: "ak-roots",
      type: "string",
      value: "PEM",
      description: "Trusted AK certificate roots (PEM or DER), for the GCP variants",
    },
    {
      name: "ak-intermediates",
      type: "string",
      value: "PEM",
      description: "Extra AK certificate intermediates (PEM or DER)",
    },
  ],
  examples: [
    "asterism attestation verify-doc --doc node.json --policy measurements.json",
    "asterism attestation verify-doc --doc node.json --policy policy.json --nonce 00…1f --json",
  ],
  async run(ctx) {
    const { values } = ctx;
    const doc = readInputFile(String(values["doc"]), "document");
    const policy = readPolicy(String(values["policy"]));
    const nonce = hexOption(values["nonce"], "nonce");
    const now = timeOption(values["now"]);
    const rootsPath = stringOption(values["ak-roots"], "ak-roots");
    const intPath = stringOption(values["ak-intermediates"], "ak-intermediates");
    const akTrust =
      rootsPath === undefined
        ? undefined
        : {
            roots: readCerts(rootsPath, "ak-roots"),
            intermediates: intPath === undefined ? [] : readCerts(intPath, "ak-intermediates"),
          };
    try {
      const r = await validateDocument(doc, {
        policy,
        ...(nonce ? { nonce } : {}),
        ...(now ? { now: () => now } : {}),
        ...(akTrust ? { akTrust } : {}),
        build: `asterism ${VERSION}`,
      });
      const warnings = r.claims.warnings.length ? ` (${r.claims.warnings.length} warning(s))` : "";
      return printVerdict(ctx, {
        valid: true,
        result: r.ear,
        summary: `${r.document.variant} document verified${warnings}`,
      });
    } catch (error) {
      return printVerdict(ctx, { valid: false, error });
    }
  },
});

function readPolicy(path: string): AttestationPolicy {
  const bytes = readInputFile(path, "policy");
  try {
    return parseAttestationPolicy(bytes);
  } catch (err) {
    throw new UsageError("UNREADABLE_INPUT", `Cannot read policy ${path}`, {
      actual: err instanceof Error ? err.message : String(err),
      cause: err,
    });
  }
}

function readCerts(path: string, option: string): Uint8Array[] {
  const bytes = readInputFile(path, option);
  try {
    return certificatesFromPemOrDer(bytes);
  } catch (err) {
    throw new UsageError("UNREADABLE_INPUT", `Cannot read --${option} ${path}`, {
      actual: err instanceof Error ? err.message : String(err),
      cause: err,
    });
  }
}
