import { readFileSync, writeFileSync } from "node:fs";
import {
  type Measurements,
  measurementsToJson,
  serializeMeasurementsJson,
  serializeMeasurementsYaml,
} from "@asterism/measurements";
import { parseDocument, Scalar } from "yaml";
import { PCR_MEANINGS } from "../../boot/events.ts";
import { defineCommand, ExitCode } from "../../command.ts";
import { parseConfig } from "../../config/load.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../../workspace/options.ts";
import { PRECOMPUTE_SOURCES } from "./precompute-sources.ts";

/** Replace `attestation.measurements` in the config file, keeping every other line and comment. */
function updateConfig(file: string, m: Measurements): void {
  const doc = parseDocument(readFileSync(file, "utf8"));
  const map = doc.createNode(
    new Map([...m].map(([i, e]) => [i, { expected: e.expected, warnOnly: e.warnOnly }])),
  ) as ReturnType<typeof doc.createNode>;
  const existing = doc.getIn(["attestation", "measurements"], true) as { commentBefore?: string } | undefined;
  doc.setIn(["attestation", "measurements"], map);
  const replaced = doc.getIn(["attestation", "measurements"], true) as {
    items?: { key: Scalar; value: { items?: { key: Scalar; value: Scalar }[] } }[];
    commentBefore?: string;
  };
  if (existing?.commentBefore) replaced.commentBefore = existing.commentBefore;
  for (const item of replaced.items ?? []) {
    const meaning = PCR_MEANINGS[Number(item.key.value)];
    if (meaning) item.key.comment = ` ${meaning}`;
    for (const f of item.value.items ?? [])
      if (f.key.value === "expected") f.value.type = Scalar.QUOTE_DOUBLE;
  }
  const text = doc.toString({ lineWidth: 0 });
  parseConfig(text, file); // never write a file the next command would reject
  writeFileSync(file, text);
}

/**
 * `asterism measurements precompute`: the expected measurements of an image, computed offline. Without
 * other options: from the local cluster's declared boot components (replaying the exact event log the
 * simulated firmware writes).
 */
export const precomputeCommand = defineCommand({
  name: "precompute",
  summary: "Compute the expected measurements (PCRs) of the declared boot components or an image",
  description:
    "Replays the boot's TCG events in software (the same events the local cluster's simulated firmware writes) and prints the PCR values a node booting these components shows. --update-config writes them into the configuration.",
  options: [
    WORKSPACE_OPTION,
    CONFIG_OPTION,
    ...PRECOMPUTE_SOURCES.flatMap((s) => s.options),
    { name: "yaml", type: "boolean", description: "Print YAML instead of JSON" },
    { name: "update-config", type: "boolean", description: "Write the result into attestation.measurements" },
  ],
  examples: [
    "asterism measurements precompute",
    "asterism measurements precompute --update-config",
    "asterism measurements precompute --firmware fw.bin --kernel vmlinuz --initrd initrd.img --cmdline cmdline.txt --yaml",
  ],
  async run(ctx) {
    const source = PRECOMPUTE_SOURCES.find((s) => s.applies(ctx)) as (typeof PRECOMPUTE_SOURCES)[number];
    const { measurements, from } = await source.compute(ctx);
    if (ctx.values["update-config"] === true) {
      const file = configPathFrom(ctx, workspaceFrom(ctx));
      updateConfig(file, measurements);
      if (ctx.json)
        ctx.io.stdout(
          `${JSON.stringify({ updated: file, measurements: measurementsToJson(measurements) })}\n`,
        );
      else
        ctx.io.stdout(
          `Updated attestation.measurements in ${file} (${measurements.size} PCRs from ${from}).\n`,
        );
      return ExitCode.OK;
    }
    ctx.io.stdout(
      ctx.values["yaml"] === true
        ? serializeMeasurementsYaml(measurements)
        : serializeMeasurementsJson(measurements),
    );
    return ExitCode.OK;
  },
});
