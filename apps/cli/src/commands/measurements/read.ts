import { type Measurements, parseMeasurementsJson, parseMeasurementsYaml } from "@asterism/measurements";
import { readInputFile } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";

/** Read a measurements map: YAML for `.yaml`/`.yml`, JSON otherwise. A malformed file is exit 2. */
export function readMeasurementsFile(path: string): Measurements {
  const bytes = readInputFile(path, "measurements");
  try {
    return /\.ya?ml$/i.test(path) ? parseMeasurementsYaml(bytes) : parseMeasurementsJson(bytes);
  } catch (err) {
    throw new UsageError("UNREADABLE_INPUT", `Cannot read measurements ${path}`, {
      actual: err instanceof Error ? err.message : String(err),
      cause: err,
    });
  }
}
