import { AsterismError } from "@asterism/errors";

/**
 * - `UNAVAILABLE`: the metadata service did not answer (connection, timeout, 5xx).
 * - `NOT_FOUND`: this node (or instance) is not registered.
 * - `UNAUTHORIZED`: the launcher token was refused.
 * - `INVALID_RESPONSE`: the answer did not have the documented shape.
 * - `INVALID_REQUEST`: the caller passed something the service refuses (400).
 */
export type MetadataErrorCode =
  | "UNAVAILABLE"
  | "NOT_FOUND"
  | "UNAUTHORIZED"
  | "INVALID_RESPONSE"
  | "INVALID_REQUEST";

export class MetadataError extends AsterismError<MetadataErrorCode> {
  override readonly domain = "metadata";
}
