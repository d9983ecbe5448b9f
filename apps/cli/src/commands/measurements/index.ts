import { defineGroup } from "../../command.ts";
import { mergeCommand } from "./merge.ts";
import { precomputeCommand } from "./precompute.ts";
import { verifyCommand } from "./verify.ts";

/** `asterism measurements …`: signed measurement files and policies, and expected values of node images. */
export const measurementsGroup = defineGroup(
  "measurements",
  "Verify, combine and precompute measurement policies",
  [verifyCommand, mergeCommand, precomputeCommand],
);
