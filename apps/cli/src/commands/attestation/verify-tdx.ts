import { TCB_STATUSES, type TcbStatus, verifyTdxEvidence } from "@asterism/tdx";
import { defineCommand } from "../../command.ts";
import { hexOption, readInputFile, readInputText, stringOption, timeOption } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";
import { printVerdict } from "../../verdict.ts";

function statuses(value: unknown): TcbStatus[] | undefined {
  const s = stringOption(value, "accept-tcb");
  if (s === undefined) return undefined;
  const list = s.split(",").map((x) => x.trim());
  for (const x of list)
    if (!(TCB_STATUSES as readonly string[]).includes(x) || x === "Revoked")
      throw new UsageError("BAD_VALUE", "Invalid --accept-tcb", {
        expected: `a comma-separated list of ${TCB_STATUSES.filter((t) => t !== "Revoked").join(", ")}`,
        actual: JSON.stringify(x),
      });
  return list as TcbStatus[];
}

/** `asterism attestation verify-tdx`: an Intel TDX quote with its Intel PCS collateral, offline. */
export const verifyTdxCommand = defineCommand({
  name: "verify-tdx",
  summary: "Verify an Intel TDX quote (v4/v5) with its PCS collateral",
  description:
    "Checks the PCK chain to the Intel SGX Root CA, the QE report and quote signatures, the CRLs, the TCB info " +
    "and QE identity, and the platform's TCB level. The collateral file is a JSON object with tcb_info, " +
    "tcb_info_signature, tcb_info_issuer_chain, qe_identity, qe_identity_signature, qe_identity_issuer_chain, " +
    "pck_crl, pck_crl_issuer_chain and root_ca_crl.",
  options: [
    { name: "quote", type: "string", value: "FILE", description: "Raw quote (binary)", required: true },
    { name: "collateral", type: "string", value: "FILE", description: "Collateral JSON", required: true },
    {
      name: "root",
      type: "string",
      value: "CERT",
      description: "Trusted root PEM (default: built-in Intel SGX Root CA)",
    },
    {
      name: "report-data",
      type: "string",
      value: "HEX",
      description: "Expected REPORTDATA (exactly 64 bytes)",
    },
    { name: "now", type: "string", value: "TIME", description: "Verification time, RFC 3339 (default: now)" },
    {
      name: "accept-tcb",
      type: "string",
      value: "LIST",
      description: "Accepted TCB statuses, comma-separated (default UpToDate)",
    },
    {
      name: "allow-expired-collateral-signer",
      type: "boolean",
      description: "Accept an expired TCB/QE-identity signing certificate whose key still verifies",
    },
  ],
  examples: [
    "asterism attestation verify-tdx --quote quote.dat --collateral collateral.json",
    "asterism attestation verify-tdx --quote quote.dat --collateral c.json --now 2023-07-01T01:00:00Z --json",
  ],
  async run(ctx) {
    const v = ctx.values;
    const quote = readInputFile(String(v["quote"]), "quote");
    const collateralJson = readInputText(String(v["collateral"]), "collateral");
    const rootPath = stringOption(v["root"], "root");
    const rootPem = rootPath === undefined ? undefined : readInputText(rootPath, "root certificate");
    const reportData = hexOption(v["report-data"], "report-data");
    if (reportData !== undefined && reportData.length !== 64)
      throw new UsageError("BAD_VALUE", "Invalid --report-data", {
        expected: "exactly 64 bytes (128 hex digits)",
        actual: `${reportData.length} bytes`,
      });
    const now = timeOption(v["now"]) ?? new Date();
    const accepted = statuses(v["accept-tcb"]);
    try {
      const result = await verifyTdxEvidence({
        quote,
        collateralJson,
        now,
        allowExpiredCollateralSigner: v["allow-expired-collateral-signer"] === true,
        ...(rootPem === undefined ? {} : { rootPem }),
        ...(reportData === undefined ? {} : { reportData }),
        ...(accepted === undefined ? {} : { acceptedTcbStatuses: accepted }),
      });
      return printVerdict(ctx, {
        valid: true,
        result,
        summary: `TDX quote v${result.version}, FMSPC ${result.fmspc}, TCB ${result.tcbStatus}, QE TCB ${result.qeTcbStatus}, MRTD ${result.mrTd}`,
      });
    } catch (error) {
      return printVerdict(ctx, { valid: false, error });
    }
  },
});
