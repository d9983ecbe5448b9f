/**
 * Where `measurements precompute` can compute expected measurements from. Each source brings its own
 * options and claims the invocation when one of them is given; the first source whose `applies` is true
 * runs, the last one is the default. To add a source, write it in a file of its own and list it here,
 * before the default. The image source (branch `image`) fits as
 * `{ name: "image", options: [--image FILE, --events], applies: (ctx) => ctx.values["image"] !== undefined,
 *    compute: (ctx) => precomputeImageMeasurements(read --image) }` (@asterism/measured-boot), so
 * `precompute --image X` measures a built image and plain `precompute` the local cluster's components.
 */
import { dirname } from "node:path";
import type { Measurements } from "@asterism/measurements";
import { readBootComponents } from "../../boot/components.ts";
import { precomputeBootMeasurements } from "../../boot/precompute.ts";
import type { CommandContext, OptionSpec } from "../../command.ts";
import { loadConfig } from "../../config/load.ts";
import type { BootComponents } from "../../config/schema.ts";
import { stringOption } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";
import { configPathFrom, workspaceFrom } from "../../workspace/options.ts";
import { imageSource } from "./precompute-image.ts";

/** One way to precompute measurements. */
export interface PrecomputeSource {
  readonly name: string;
  readonly options: readonly OptionSpec[];
  /** True when this source's options were given. */
  applies(ctx: CommandContext): boolean;
  compute(ctx: CommandContext): Promise<{ measurements: Measurements; from: string }>;
}

const COMPONENT_OPTIONS = ["firmware", "kernel", "initrd", "cmdline"] as const;

/**
 * The local cluster's declared boot components: from `--firmware/--kernel/--initrd/--cmdline` (all four),
 * or else from the configuration's `provider.qemu.bootComponents`.
 */
export const bootComponentsSource: PrecomputeSource = {
  name: "boot components",
  options: COMPONENT_OPTIONS.map((name) => ({
    name,
    type: "string",
    value: "FILE",
    description: `Boot component ${name} (all four, or none to use the config's)`,
  })),
  applies: () => true,
  async compute(ctx) {
    const given = COMPONENT_OPTIONS.filter((o) => ctx.values[o] !== undefined);
    if (given.length > 0 && given.length < COMPONENT_OPTIONS.length) {
      throw new UsageError("MISSING_OPTION", "Incomplete boot components", {
        expected: "all of --firmware --kernel --initrd --cmdline, or none",
        actual: given.map((g) => `--${g}`).join(" "),
      });
    }
    if (given.length === COMPONENT_OPTIONS.length) {
      const decl = Object.fromEntries(
        COMPONENT_OPTIONS.map((o) => [o, stringOption(ctx.values[o], o) as string]),
      ) as BootComponents;
      return {
        measurements: precomputeBootMeasurements(readBootComponents(ctx.io.cwd, decl)),
        from: "files",
      };
    }
    const file = configPathFrom(ctx, workspaceFrom(ctx));
    const decl = loadConfig(file).provider.qemu?.bootComponents;
    if (!decl) {
      throw new UsageError("BAD_VALUE", `No boot components in ${file}`, {
        expected:
          "a qemu configuration with provider.qemu.bootComponents, or --firmware/--kernel/--initrd/--cmdline",
      });
    }
    return { measurements: precomputeBootMeasurements(readBootComponents(dirname(file), decl)), from: file };
  },
};

/** Every source, most specific first; the last is the default. */
export const PRECOMPUTE_SOURCES: readonly PrecomputeSource[] = [imageSource, bootComponentsSource];
