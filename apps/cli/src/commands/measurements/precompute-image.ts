import { resolve } from "node:path";
import { toHex } from "@asterism/bytes";
import { MeasuredBootError, precomputeImageMeasurements } from "@asterism/measured-boot";
import { createMeasurements } from "@asterism/measurements";
import type { CommandContext } from "../../command.ts";
import { readInputFile, stringOption } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";
import type { PrecomputeSource } from "./precompute-sources.ts";

const EVENT_NAMES: Record<number, string> = {
  4: "EV_SEPARATOR",
  6: "EV_EVENT_TAG",
  13: "EV_IPL",
  2147483651: "EV_EFI_BOOT_SERVICES_APPLICATION",
  2147483654: "EV_EFI_GPT_EVENT",
  2147483655: "EV_EFI_ACTION",
};

/** Disk images are hundreds of MiB; 2 GiB is the largest single buffer we read at once. */
const MAX_IMAGE_BYTES = 2 ** 31 - 1;

/**
 * `precompute --image FILE`: the expected PCRs of a built node image (`bun image/build.ts`), from the
 * image alone: PCR 4 (UKI and kernel Authenticode), 5 (GPT, ExitBootServices), 9 (command line and
 * initrd by the kernel), 11 (UKI sections by systemd-stub), and 8/12/13/15 (zero). `--events` lists
 * every predicted event on stderr.
 */
export const imageSource: PrecomputeSource = {
  name: "image",
  options: [
    {
      name: "image",
      type: "string",
      value: "FILE",
      description: "A node image (asterism-node.raw) or its UKI",
    },
    { name: "events", type: "boolean", description: "With --image: list every predicted event on stderr" },
  ],
  applies: (ctx: CommandContext) => ctx.values["image"] !== undefined,
  async compute(ctx: CommandContext) {
    const file = stringOption(ctx.values["image"], "image") as string;
    const image = readInputFile(resolve(ctx.io.cwd, file), "image", MAX_IMAGE_BYTES);
    let result: ReturnType<typeof precomputeImageMeasurements>;
    try {
      result = precomputeImageMeasurements(image);
    } catch (error) {
      if (!(error instanceof MeasuredBootError)) throw error;
      throw new UsageError("UNREADABLE_INPUT", `Cannot measure ${file}`, {
        actual: error.message,
        cause: error,
      });
    }
    if (ctx.values["events"] === true) {
      for (const e of result.detail.events) {
        const type = EVENT_NAMES[e.type] ?? `0x${e.type.toString(16)}`;
        ctx.io.stderr(
          `pcr ${String(e.pcr).padStart(2)}  ${type.padEnd(33)} ${toHex(e.digest)}  ${e.description}\n`,
        );
      }
    }
    const measurements = createMeasurements(
      Object.entries(result.measurements).map(([index, entry]) => [Number(index), entry] as const),
    );
    return { measurements, from: file };
  },
};
