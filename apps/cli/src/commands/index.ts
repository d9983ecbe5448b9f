import { defineGroup } from "../command.ts";
import { applyCommand } from "./apply.ts";
import { attestationGroup } from "./attestation/index.ts";
import { auditGroup } from "./audit/index.ts";
import { configGroup } from "./config/index.ts";
import { consoleCommand } from "./console.ts";
import { initCommand } from "./init.ts";
import { measurementsGroup } from "./measurements/index.ts";
import { miniGroup } from "./mini/index.ts";
import { ownerGroup } from "./owner/index.ts";
import { recoverCommand } from "./recover.ts";
import { verifyClusterCommand } from "./verify.ts";
import { versionCommand } from "./version.ts";

/** The whole command tree of `asterism`. */
export const rootCommand = defineGroup(
  "asterism",
  "Asterism: always-encrypted Kubernetes on confidential VMs",
  [
    configGroup,
    miniGroup,
    initCommand,
    applyCommand,
    verifyClusterCommand,
    recoverCommand,
    ownerGroup,
    auditGroup,
    consoleCommand,
    measurementsGroup,
    attestationGroup,
    versionCommand,
  ],
);
