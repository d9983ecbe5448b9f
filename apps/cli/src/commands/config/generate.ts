import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { isVariant, type Variant } from "@asterism/attestation";
import {
  DEFAULT_BOOT_COMPONENTS,
  readBootComponents,
  writeDefaultBootComponents,
} from "../../boot/components.ts";
import { precomputeBootMeasurements } from "../../boot/precompute.ts";
import { defineCommand, ExitCode } from "../../command.ts";
import { ConfigError } from "../../config/errors.ts";
import { generateConfig } from "../../config/generate.ts";
import { parseConfig } from "../../config/load.ts";
import { CLUSTER_NAME, PROVIDER_VARIANTS, PROVIDERS, type Provider } from "../../config/schema.ts";
import { stringOption } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../../workspace/options.ts";

function countOption(value: unknown, option: string, fallback: number): number {
  const s = stringOption(value, option);
  if (s === undefined) return fallback;
  if (!/^\d{1,2}$/.test(s))
    throw new UsageError("BAD_VALUE", `Invalid --${option}`, { expected: "0..64", actual: s });
  return Number(s);
}

/**
 * `asterism config generate <provider>`: a commented configuration. For qemu it also writes the default
 * boot components (unless present) and precomputes the measurements from them, so the file is ready for
 * `mini up`.
 */
export const generateCommand = defineCommand({
  name: "generate",
  summary: "Write a commented configuration file for a provider (qemu, aws, azure, gcp)",
  args: "<provider>",
  description: [
    "Writes <workspace>/asterism-conf.yaml with the attestation policy and measurements for the provider's",
    "default (or the given) attestation variant. For qemu, the boot components the local cluster's simulated",
    "firmware measures are written to <workspace>/boot/ (existing files are kept) and the expected PCRs are",
    "precomputed from them. Cloud configs contain empty values (image measurements, SNP launch measurement)",
    "that you fill in; `config validate` points at each one.",
  ].join("\n"),
  options: [
    WORKSPACE_OPTION,
    CONFIG_OPTION,
    {
      name: "variant",
      type: "string",
      value: "NAME",
      description: "Attestation variant (default: the provider's first)",
    },
    {
      name: "name",
      type: "string",
      value: "NAME",
      description: "Cluster name (default: mini for qemu, asterism otherwise)",
    },
    { name: "control-planes", type: "string", value: "N", description: "Control-plane nodes (default 1)" },
    { name: "workers", type: "string", value: "M", description: "Worker nodes (default 1)" },
    { name: "force", type: "boolean", description: "Overwrite an existing configuration file" },
  ],
  examples: [
    "asterism config generate qemu",
    "asterism config generate aws --variant aws-nitro-tpm -C ./prod",
    "asterism config generate gcp --name shop --control-planes 3 --workers 2",
  ],
  async run(ctx) {
    const provider = ctx.positionals[0];
    if (
      provider === undefined ||
      !(PROVIDERS as readonly string[]).includes(provider) ||
      ctx.positionals.length > 1
    ) {
      throw new UsageError("BAD_VALUE", "Invalid provider", {
        expected: `one of ${PROVIDERS.join(", ")}`,
        actual: ctx.positionals.join(" ") || "nothing",
      });
    }
    const p = provider as Provider;
    const variantArg = stringOption(ctx.values["variant"], "variant");
    const variant = variantArg ?? (PROVIDER_VARIANTS[p][0] as Variant);
    if (!isVariant(variant) || !PROVIDER_VARIANTS[p].includes(variant)) {
      throw new UsageError("BAD_VALUE", "Invalid --variant", {
        expected: `for ${p}: ${PROVIDER_VARIANTS[p].join(", ")}`,
        actual: String(variantArg),
      });
    }
    const ws = workspaceFrom(ctx);
    const file = configPathFrom(ctx, ws);
    if (existsSync(file) && ctx.values["force"] !== true) {
      throw new ConfigError("CONFIG_EXISTS", file, [], {
        action: `Refusing to overwrite ${file}`,
        expected: "no configuration file (or --force to replace it)",
      });
    }
    const name = stringOption(ctx.values["name"], "name") ?? (p === "qemu" ? "mini" : "asterism");
    if (!CLUSTER_NAME.test(name)) {
      throw new UsageError("BAD_VALUE", "Invalid --name", {
        expected: "lower-case letters, digits and '-', starting with a letter, at most 37 characters",
        actual: JSON.stringify(name.slice(0, 40)),
      });
    }
    const controlPlanes = countOption(ctx.values["control-planes"], "control-planes", 1);
    const workers = countOption(ctx.values["workers"], "workers", 1);
    const baseDir = dirname(file);
    mkdirSync(baseDir, { recursive: true });
    let text = generateConfig({ provider: p, variant, name, controlPlanes, workers });
    const written: string[] = [];
    if (p === "qemu" && variant === "qemu-vtpm") {
      written.push(...writeDefaultBootComponents(baseDir, DEFAULT_BOOT_COMPONENTS, variant));
      const measurements = precomputeBootMeasurements(readBootComponents(baseDir, DEFAULT_BOOT_COMPONENTS));
      text = generateConfig({ provider: p, variant, name, controlPlanes, workers, measurements });
      // Complete by construction; checked anyway so a generator bug never writes a file `mini up` rejects.
      parseConfig(text, file);
    }
    writeFileSync(file, text);
    const rel = (f: string) => relative(ctx.io.cwd, f) || f;
    if (ctx.json) {
      ctx.io.stdout(`${JSON.stringify({ config: file, provider: p, variant, bootComponents: written })}\n`);
    } else {
      ctx.io.stdout(`Wrote ${rel(file)} (${p}, ${variant}).\n`);
      for (const w of written) ctx.io.stdout(`Wrote boot component ${rel(w)}.\n`);
      if (p !== "qemu")
        ctx.io.stdout("Fill in the empty values, then check the file with `asterism config validate`.\n");
    }
    return ExitCode.OK;
  },
});
