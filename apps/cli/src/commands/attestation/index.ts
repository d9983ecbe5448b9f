import { defineGroup } from "../../command.ts";
import { verifyDocCommand } from "./verify-doc.ts";
import { verifySnpCommand } from "./verify-snp.ts";
import { verifyTdxCommand } from "./verify-tdx.ts";

/**
 * `asterism attestation …`: offline evidence checks. Each subcommand lives in its own file in this folder
 * and is listed here.
 */
export const attestationGroup = defineGroup(
  "attestation",
  "Verify attestation evidence offline (SNP, TDX, TPM quotes, event logs)",
  [verifySnpCommand, verifyTdxCommand, verifyDocCommand],
);
