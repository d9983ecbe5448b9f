import { AsterismError } from "@asterism/errors";

/** Codes of local-cluster failures. */
export type MiniErrorCode =
  /** The local cluster is already running in this workspace. */
  | "ALREADY_RUNNING"
  /** No local cluster in this workspace. */
  | "NOT_RUNNING"
  /** A process could not be started or died while starting. */
  | "START_FAILED"
  /** Something did not become ready in time. */
  | "TIMEOUT"
  /** A compiled binary is missing and could not be built. */
  | "BINARY_MISSING"
  /** The node image (`mini up --vm`) is missing and could not be built. */
  | "IMAGE_MISSING"
  /** The node image is not one whose boot can be predicted (no UKI on an ESP, malformed PE …). */
  | "IMAGE_INVALID"
  /** The host lacks something the local cluster needs (swtpm, cryptsetup). */
  | "HOST_UNSUPPORTED"
  /** The configuration is not a local (qemu-vtpm) one. */
  | "CONFIG_UNSUPPORTED";

/** A local-cluster failure. Messages point at the log file to read. */
export class MiniError extends AsterismError<MiniErrorCode> {
  override readonly domain = "mini";
}
