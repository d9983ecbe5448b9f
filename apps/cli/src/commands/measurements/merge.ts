import {
  mergeMeasurements,
  serializeMeasurementsJson,
  serializeMeasurementsYaml,
} from "@asterism/measurements";
import { defineCommand, ExitCode } from "../../command.ts";
import { UsageError } from "../../usage-error.ts";
import { readMeasurementsFile } from "./read.ts";

export const mergeCommand = defineCommand({
  name: "merge",
  summary: "Merge measurement maps; later files override earlier ones per index",
  args: "<file> <file>…",
  options: [{ name: "yaml", type: "boolean", description: "Print YAML instead of JSON" }],
  examples: [
    "asterism measurements merge defaults.json overrides.yaml",
    "asterism measurements merge a.json b.json --yaml",
  ],
  async run({ io, values, positionals }) {
    if (positionals.length === 0) {
      throw new UsageError("MISSING_OPTION", "Nothing to merge", {
        expected: "at least one measurements file",
      });
    }
    const merged = mergeMeasurements(...positionals.map(readMeasurementsFile));
    io.stdout(
      values["yaml"] === true ? serializeMeasurementsYaml(merged) : serializeMeasurementsJson(merged),
    );
    return ExitCode.OK;
  },
});
