/**
 * Measurements policy, Constellation-compatible: index → `{expected, warnOnly}` in JSON or YAML, signed
 * published measurement files (ECDSA P-256 over the exact bytes), merging, the cluster-ID measurement,
 * and verdicts that list every mismatch.
 *
 * Stages are kept apart: `parse*` (MeasurementsParseError), `verify*` (MeasurementsSignatureError),
 * `validate*` / `select*` (MeasurementsPolicyError).
 *
 * @example
 * import { parseMeasurementsJson, validateMeasurements, withClusterId } from "@asterism/measurements";
 * const policy = withClusterId(parseMeasurementsJson(bytes), clusterId);
 * const verdict = validateMeasurements(policy, quotedPcrs); // throws MEASUREMENT_MISMATCH with every mismatch
 * for (const w of verdict.warnings) log.warn(w);
 *
 * @module
 */
export { CLUSTER_ID_BYTES, CLUSTER_ID_INDEX, clusterIdMeasurement, withClusterId } from "./cluster.ts";
export {
  MeasurementsParseError,
  type MeasurementsParseErrorCode,
  MeasurementsPolicyError,
  type MeasurementsPolicyErrorCode,
  MeasurementsSignatureError,
  type MeasurementsSignatureErrorCode,
} from "./errors.ts";
export {
  createMeasurements,
  MAX_MEASUREMENT_ENTRIES,
  MAX_MEASUREMENTS_FILE_BYTES,
  type Measurement,
  MeasurementEntrySchema,
  type MeasurementSize,
  type Measurements,
  MeasurementsMapSchema,
  measurementBytes,
  measurementHex,
  measurementSize,
  measurementsFromJsonValue,
  measurementsToJson,
  mergeMeasurements,
  parseMeasurementsJson,
  parseMeasurementsYaml,
  serializeMeasurementsJson,
  serializeMeasurementsYaml,
} from "./policy.ts";
export {
  type ImageMeasurements,
  type ImageMeasurementsEntry,
  ImageMeasurementsSchema,
  type ImageSelector,
  loadSignedMeasurements,
  parseImageMeasurements,
  parseMeasurementsPublicKey,
  type SignedMeasurementsInput,
  selectImageMeasurements,
  verifyMeasurementsSignature,
} from "./signed.ts";
export {
  compareMeasurements,
  describeFindings,
  type MeasuredValues,
  type MeasurementFinding,
  MeasurementMismatchError,
  type MeasurementsVerdict,
  validateMeasurements,
} from "./verdict.ts";
