import { defineGroup } from "../../command.ts";
import { generateCommand } from "./generate.ts";
import { validateCommand } from "./validate.ts";

/** `asterism config …`: the cluster configuration file. */
export const configGroup = defineGroup("config", "Generate and check the cluster configuration", [
  generateCommand,
  validateCommand,
]);
