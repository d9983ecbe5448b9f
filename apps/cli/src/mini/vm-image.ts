/**
 * The node image of a VM local cluster (`mini up --vm`): where it is, building it when it is missing,
 * and the PCRs a node booted from it must show (`precomputeImageMeasurements`: 4, 5, 8, 9, 11, 12, 13;
 * firmware PCRs are not predicted, image/README.md says why). The configuration's measurements are the
 * policy `verify` enforces later, so they must be exactly the image's.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MeasuredBootError, precomputeImageMeasurements } from "@asterism/measured-boot";
import { CLUSTER_ID_INDEX, type Measurements, measurementsFromJsonValue } from "@asterism/measurements";
import { configuredMeasurements } from "../cluster/policy.ts";
import type { Config } from "../config/schema.ts";
import { repoRoot } from "./binaries.ts";
import { MiniError } from "./errors.ts";

/** The image `bun image/build.ts` writes, relative to the binary directory (`<repo>/dist`). */
export function defaultImagePath(binDir: string): string {
  return join(binDir, "image", "asterism-node.raw");
}

/** The binaries the image carries (scripts/build.ts names; image/build.ts copies them into /usr/lib/asterism). */
const IMAGE_BINARIES = ["bootstrapper", "join-service", "kms", "verification-service"] as const;

/** Runs a build step; injected in tests. */
export type BuildRunner = (argv: readonly string[], cwd: string) => Promise<{ code: number; tail: string }>;

const runBuild: BuildRunner = async (argv, cwd) => {
  const proc = Bun.spawn([...argv], { cwd, stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  return { code, tail: `${out}\n${err}`.trim().split("\n").slice(-3).join(" ") };
};

/**
 * The image to boot: `image` if it exists; the default one is built from the checkout when missing
 * (`bun scripts/build.ts …` then `bun image/build.ts`, minutes: `onBuild` says so first). Anything
 * else missing is IMAGE_MISSING naming the commands.
 */
export async function ensureImage(
  image: string,
  binDir: string,
  onBuild: (step: string) => void,
  deps: { readonly run?: BuildRunner; readonly root?: string } = {},
): Promise<string> {
  const path = resolve(image);
  if (existsSync(path)) return path;
  const root = "root" in deps ? deps.root : repoRoot();
  const run = deps.run ?? runBuild;
  const buildable =
    root !== undefined && resolve(binDir) === join(root, "dist") && path === defaultImagePath(binDir);
  if (!buildable || root === undefined)
    throw new MiniError("IMAGE_MISSING", `No node image ${path}`, {
      expected: "an image built by `bun scripts/build.ts && sudo bun image/build.ts` (or --image FILE)",
    });
  for (const argv of [
    ["bun", "scripts/build.ts", ...IMAGE_BINARIES],
    ["bun", "image/build.ts"],
  ]) {
    onBuild(argv.join(" "));
    const r = await run(argv, root);
    if (r.code !== 0)
      throw new MiniError("IMAGE_MISSING", `Cannot build the node image (${argv.join(" ")})`, {
        actual: r.tail || `exit ${r.code}`,
      });
  }
  if (!existsSync(path))
    throw new MiniError("IMAGE_MISSING", "The image build wrote no image", { expected: path });
  return path;
}

/** The expected PCRs of a node booted from `image` (the image alone decides them). */
export function measureImage(image: string): Measurements {
  let result: ReturnType<typeof precomputeImageMeasurements>;
  try {
    result = precomputeImageMeasurements(readFileSync(image));
  } catch (err) {
    if (!(err instanceof MeasuredBootError)) throw err;
    throw new MiniError("IMAGE_INVALID", `Cannot predict the boot of ${image}`, {
      actual: err.message,
      cause: err,
    });
  }
  return measurementsFromJsonValue(result.measurements);
}

/** PCR 15 is the cluster ID's (zero before init): `nodePolicy` sets it, so neither side is compared on it. */
const CLUSTER_PCR = CLUSTER_ID_INDEX[32];

/**
 * The configuration's measurements must be the image's, index for index (same value, same warn-only
 * flag; PCR 15 aside): they are the policy `init`, every join and every `verify` enforce, so a config
 * written for another image or for the process cluster would refuse every node, or worse, accept a boot
 * nobody predicted. CONFIG_UNSUPPORTED names each differing PCR and how to fix the config.
 */
export function checkConfigMatchesImage(config: Config, image: Measurements, imagePath: string): void {
  const configured = configuredMeasurements(config).measurements;
  const indices = [...new Set([...configured.keys(), ...image.keys()])]
    .filter((i) => i !== CLUSTER_PCR)
    .sort((a, b) => a - b);
  const differ = indices.flatMap((i) => {
    const c = configured.get(i);
    const m = image.get(i);
    if (c && m && c.expected === m.expected && c.warnOnly === m.warnOnly) return [];
    const show = (x: typeof c) =>
      x ? `${x.expected.slice(0, 16)}…${x.warnOnly ? " (warn only)" : ""}` : "absent";
    return [`PCR ${i}: config ${show(c)}, image ${show(m)}`];
  });
  if (differ.length)
    throw new MiniError("CONFIG_UNSUPPORTED", "The configuration's measurements are not the node image's", {
      expected: `the measurements of ${imagePath} (\`asterism measurements precompute --image ${imagePath} --update-config\`, or a workspace of its own)`,
      actual: differ.join("; "),
    });
}
