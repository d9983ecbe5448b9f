import { defineGroup } from "../command.ts";
import { attestationGroup } from "./attestation/index.ts";
import { configGroup } from "./config/index.ts";
import { measurementsGroup } from "./measurements/index.ts";
import { miniGroup } from "./mini/index.ts";
import { verifyClusterCommand } from "./verify.ts";
import { versionCommand } from "./version.ts";

/** The whole command tree of `asterism`. */
export const rootCommand = defineGroup(
  "asterism",
  "Asterism: always-encrypted Kubernetes on confidential VMs",
  [configGroup, miniGroup, verifyClusterCommand, attestationGroup, measurementsGroup, versionCommand],
);
