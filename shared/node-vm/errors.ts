import { AsterismError } from "@asterism/errors";

/** Codes of {@link NodeVmError}. */
export type NodeVmErrorCode =
  | "INVALID_OPTIONS"
  | "ALREADY_RUNNING"
  /** No VM of ours runs in the directory. */
  | "NOT_RUNNING"
  | "START_FAILED"
  /** The node did not print its boot report on the serial console in time. */
  | "BOOT_TIMEOUT"
  /** The boot report on the serial console is malformed. */
  | "MALFORMED_BOOT_REPORT"
  | "QMP_FAILED";

/** A node VM that could not be started, stopped or read. */
export class NodeVmError extends AsterismError<NodeVmErrorCode> {
  override readonly domain = "node-vm";
}
