import { defineGroup } from "../../command.ts";
import { replayEventLogCommand } from "./replay-eventlog.ts";
import { verifyDocCommand } from "./verify-doc.ts";
import { verifyQuoteCommand } from "./verify-quote.ts";
import { verifySnpCommand } from "./verify-snp.ts";
import { verifyTdxCommand } from "./verify-tdx.ts";

/**
 * `asterism attestation …`: offline evidence checks. Each subcommand lives in its own file in this folder
 * and is listed here.
 */
export const attestationGroup = defineGroup(
  "attestation",
  "Verify attestation evidence offline (SNP, TDX, TPM quotes, event logs)",
  [verifySnpCommand, verifyTdxCommand, verifyQuoteCommand, replayEventLogCommand, verifyDocCommand],
);
