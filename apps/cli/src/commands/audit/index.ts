import { defineGroup } from "../../command.ts";
import { exportCommand } from "./export.ts";
import { verifyCommand } from "./verify.ts";

/** `asterism audit …`: the owners' hash-chained audit log. */
export const auditGroup = defineGroup("audit", "Verify and export the owners' audit log", [
  verifyCommand,
  exportCommand,
]);
