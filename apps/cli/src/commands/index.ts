import { defineGroup } from "../command.ts";
import { attestationGroup } from "./attestation/index.ts";
import { auditGroup } from "./audit/index.ts";
import { consoleCommand } from "./console.ts";
import { measurementsGroup } from "./measurements/index.ts";
import { ownerGroup } from "./owner/index.ts";
import { versionCommand } from "./version.ts";

/** The whole command tree of `asterism`. */
export const rootCommand = defineGroup(
  "asterism",
  "Asterism: always-encrypted Kubernetes on confidential VMs",
  [attestationGroup, auditGroup, consoleCommand, measurementsGroup, ownerGroup, versionCommand],
);
