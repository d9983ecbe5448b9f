import { AsterismError } from "@asterism/errors";

/**
 * Codes the KMS API itself raises (request shape and access control). Domain errors from
 * `@asterism/keys` pass through unchanged and are mapped to statuses in `app.onError`.
 * - `INVALID_JSON`: the body is not JSON.
 * - `INVALID_REQUEST`: the JSON does not have the request's shape.
 * - `UNSUPPORTED_MEDIA_TYPE`: the body is not `application/json`.
 * - `BODY_TOO_LARGE`: the body exceeds the limit.
 * - `UNAUTHENTICATED`: no verified client certificate.
 * - `FORBIDDEN`: a verified caller that may not use this endpoint or key.
 * - `NOT_FOUND`: no such route.
 * - `INTERNAL`: anything unexpected (details only in the log).
 */
export type KmsErrorCode =
  | "INVALID_JSON"
  | "INVALID_REQUEST"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "BODY_TOO_LARGE"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "INTERNAL";

/** An API-level failure of the KMS app. */
export class KmsError extends AsterismError<KmsErrorCode> {
  override readonly domain = "kms";
}
