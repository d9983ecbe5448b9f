import { AsterismError } from "@asterism/errors";

/**
 * Codes raised by the Kubernetes client and the apply helper.
 * - `INVALID_OBJECT`: an object is not a well-formed Kubernetes object or fails its `kubernetes-models` schema.
 * - `UNKNOWN_KIND`: the apiVersion/kind is not in {@link RESOURCES}; we never guess a plural.
 * - `TRANSPORT`: the request did not reach the API server or TLS failed (no HTTP status).
 * - `API_ERROR`: the API server answered with an unexpected non-2xx status.
 * - `NOT_FOUND`: 404.
 * - `CONFLICT`: 409 (already exists, resourceVersion mismatch, field-manager conflict).
 * - `INVALID_RESPONSE`: a 2xx body that is not the JSON we expect.
 */
export type KubeErrorCode =
  | "INVALID_OBJECT"
  | "UNKNOWN_KIND"
  | "TRANSPORT"
  | "API_ERROR"
  | "NOT_FOUND"
  | "CONFLICT"
  | "INVALID_RESPONSE";

/** Error of the `kube` domain; `status` is the HTTP status when the API server answered. */
export class KubeError extends AsterismError<KubeErrorCode> {
  override readonly domain = "kube";
  readonly status: number | undefined;

  constructor(
    code: KubeErrorCode,
    action: string,
    detail: { expected?: string; actual?: string; cause?: unknown; status?: number } = {},
  ) {
    super(code, action, detail);
    this.status = detail.status;
  }
}
