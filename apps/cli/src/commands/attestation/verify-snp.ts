import { resolve } from "node:path";
import { toHex } from "@asterism/bytes";
import {
  type AttestationReport,
  PRODUCTS,
  type Product,
  parseReport,
  parseSnpPolicy,
  REPORT_SIZE,
  SnpParseError,
  type SnpPolicy,
  snpClaims,
  validateSnpReport,
  verifySnpReport,
} from "@asterism/sev-snp";
import { type CommandContext, defineCommand, ExitCode } from "../../command.ts";
import { hexOption, readInputFile, readInputText, stringOption, timeOption } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";
import { jsonReplacer, printVerdict } from "../../verdict.ts";

function exactHex(ctx: CommandContext, option: string, size: number): string | undefined {
  const bytes = hexOption(ctx.values[option], option);
  if (bytes === undefined) return undefined;
  if (bytes.length !== size)
    throw new UsageError("BAD_VALUE", `Invalid --${option}`, {
      expected: `exactly ${size} bytes (${2 * size} hex digits)`,
      actual: `${bytes.length} bytes`,
    });
  return toHex(bytes);
}

function productOption(value: unknown): Product | undefined {
  const s = stringOption(value, "product");
  if (s === undefined) return undefined;
  const p = PRODUCTS.find((x) => x === s);
  if (p === undefined)
    throw new UsageError("BAD_VALUE", "Invalid --product", {
      expected: PRODUCTS.join("|"),
      actual: JSON.stringify(s),
    });
  return p;
}

/** Build the policy: the file (if any), with --product/--report-data/--measurement layered on top. */
function policyFrom(ctx: CommandContext, product: Product | undefined): SnpPolicy {
  const file = stringOption(ctx.values["policy"], "policy");
  let doc: Record<string, unknown> = {};
  if (file !== undefined) {
    const text = readInputText(resolve(ctx.io.cwd, file), "policy");
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("not an object");
      doc = parsed as Record<string, unknown>;
    } catch (err) {
      throw new UsageError("UNREADABLE_INPUT", `Cannot read policy ${file}`, {
        expected: "a JSON object",
        cause: err,
      });
    }
  }
  const reportData = exactHex(ctx, "report-data", 64);
  const measurement = exactHex(ctx, "measurement", 48);
  const merged = {
    ...doc,
    ...(product === undefined ? {} : { product }),
    ...(reportData === undefined ? {} : { reportData }),
    ...(measurement === undefined ? {} : { measurement }),
  };
  try {
    return parseSnpPolicy(merged);
  } catch (err) {
    // A policy the operator wrote is a usage problem, not invalid evidence.
    throw new UsageError("BAD_VALUE", "Invalid SNP policy", {
      actual: err instanceof Error ? err.message : String(err),
      cause: err,
    });
  }
}

/**
 * `asterism attestation verify-snp`: verify an SEV-SNP report (signature, VCEK/VLEK chain to the built-in
 * AMD roots, TCB consistency) and validate it against a policy. Exit 0 valid, 1 invalid, 2 usage.
 */
export const verifySnpCommand = defineCommand({
  name: "verify-snp",
  summary: "Verify an AMD SEV-SNP attestation report offline",
  description:
    "Checks the report's ECDSA P-384 signature, the VCEK/VLEK chain to AMD's ARK (built in per product; a\n" +
    "supplied ARK is only compared with it), the AMD certificate extensions and TCB, then the policy:\n" +
    "debug forbidden, VMPL 0, provisional firmware rejected, plus --report-data/--measurement/--policy.",
  options: [
    {
      name: "report",
      type: "string",
      value: "FILE",
      description: "Attestation report (0x4A0 bytes)",
      required: true,
    },
    {
      name: "vcek",
      type: "string",
      value: "CERT",
      description: "VCEK or VLEK certificate, DER or PEM",
      required: true,
    },
    {
      name: "chain",
      type: "string",
      value: "PEM",
      description: "ASK or ASVK, then ARK (default: built-in roots)",
    },
    { name: "product", type: "string", value: "milan|genoa|turin", description: "Expected product" },
    { name: "report-data", type: "string", value: "HEX", description: "Expected REPORT_DATA (64 bytes)" },
    {
      name: "measurement",
      type: "string",
      value: "HEX",
      description: "Expected launch MEASUREMENT (48 bytes)",
    },
    {
      name: "policy",
      type: "string",
      value: "FILE",
      description: "SNP policy JSON (fields of SnpPolicySchema)",
    },
    {
      name: "allow-trailing",
      type: "boolean",
      description: "Accept a report file longer than 0x4A0 bytes, ignoring the rest (Azure attestation.bin)",
    },
    { name: "now", type: "string", value: "RFC3339", description: "Verification time (default: now)" },
  ],
  examples: [
    "asterism attestation verify-snp --report attestation.bin --vcek vcek.der --product milan --now 2022-09-24T01:00:00Z",
    "asterism attestation verify-snp --report report.bin --vcek vlek.pem --chain certchain.pem --report-data <hex> --json",
  ],
  async run(ctx) {
    const path = (name: string) => resolve(ctx.io.cwd, String(stringOption(ctx.values[name], name)));
    const reportBytes = readInputFile(path("report"), "report");
    const vcek = readInputFile(path("vcek"), "certificate");
    const chain = ctx.values["chain"] === undefined ? undefined : readInputFile(path("chain"), "chain");
    const product = productOption(ctx.values["product"]);
    const now = timeOption(ctx.values["now"]) ?? new Date();
    const policy = policyFrom(ctx, product);
    const allowTrailing = ctx.values["allow-trailing"] === true;

    let report: AttestationReport;
    try {
      report = parseReport(reportBytes, { allowTrailing });
    } catch (error) {
      if (error instanceof SnpParseError && error.code === "REPORT_SIZE" && reportBytes.length > REPORT_SIZE)
        return printVerdict(ctx, {
          valid: false,
          error: new SnpParseError("REPORT_SIZE", `${error.message} (use --allow-trailing for Azure's file)`),
        });
      return printVerdict(ctx, { valid: false, error });
    }
    let verified: Awaited<ReturnType<typeof verifySnpReport>>;
    try {
      verified = await verifySnpReport(
        { report, endorsementKey: vcek, ...(chain === undefined ? {} : { chain }) },
        { now, ...(product === undefined ? {} : { product }) },
      );
    } catch (error) {
      return printVerdict(ctx, { valid: false, error });
    }
    const result = validateSnpReport(verified, policy);
    const claims = snpClaims(verified, result);
    if (!result.valid) {
      const [first] = result.failures;
      const body = {
        valid: false,
        ...first?.toJSON(),
        failures: result.failures.map((f) => f.toJSON()),
        warnings: result.warnings,
      };
      if (ctx.json) ctx.io.stdout(`${JSON.stringify(body)}\n`);
      else for (const f of result.failures) ctx.io.stdout(`invalid: ${f.code}: ${f.message}\n`);
      return ExitCode.INVALID;
    }
    return printVerdict(ctx, {
      valid: true,
      result: JSON.parse(JSON.stringify({ claims, warnings: result.warnings }, jsonReplacer)),
      summary: `${claims.product} ${claims.signer.toUpperCase()} report v${claims.reportVersion}, measurement ${claims.measurement}${
        result.warnings.length ? `, ${result.warnings.length} warning(s): ${result.warnings.join("; ")}` : ""
      }`,
    });
  },
});
