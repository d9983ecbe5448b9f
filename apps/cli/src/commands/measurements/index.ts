import { defineGroup } from "../../command.ts";
import { mergeCommand } from "./merge.ts";
import { verifyCommand } from "./verify.ts";

/** `asterism measurements …`: signed measurement files and policies. */
export const measurementsGroup = defineGroup("measurements", "Verify and combine measurement policies", [
  verifyCommand,
  mergeCommand,
]);
