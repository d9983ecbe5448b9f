import { AsterismError } from "@asterism/errors";

/** Codes of workspace problems (files in the directory the CLI works in). */
export type WorkspaceErrorCode =
  /** A master secret exists; it is never overwritten (it is the only key to the cluster's disks). */
  | "MASTER_SECRET_EXISTS"
  /** The master secret file is missing, malformed, or readable by others. */
  | "MASTER_SECRET_INVALID"
  /** A file the command would create exists already. */
  | "FILE_EXISTS"
  /** The state file is missing or malformed. */
  | "STATE_INVALID"
  /** A declared boot component cannot be read. */
  | "BOOT_COMPONENT_UNREADABLE";

/** A problem with a workspace file. Messages name the file, never its secret contents. */
export class WorkspaceError extends AsterismError<WorkspaceErrorCode> {
  override readonly domain = "workspace";
}
