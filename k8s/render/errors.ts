import { AsterismError } from "@asterism/errors";

/**
 * Codes raised by the kustomize-subset renderer.
 * - `UNSUPPORTED`: a kustomization field or option outside the documented subset (never silently ignored).
 * - `INVALID_KUSTOMIZATION`: a kustomization.yaml that does not match its schema.
 * - `INVALID_RESOURCE`: a resource file that is not a list of Kubernetes objects.
 * - `DUPLICATE_RESOURCE`: two resources with the same group/kind/namespace/name.
 * - `PATCH_TARGET_NOT_FOUND`: a patch whose target is not among the resources.
 * - `READ_FAILED`: a referenced file or directory cannot be read.
 */
export type RenderErrorCode =
  | "UNSUPPORTED"
  | "INVALID_KUSTOMIZATION"
  | "INVALID_RESOURCE"
  | "DUPLICATE_RESOURCE"
  | "PATCH_TARGET_NOT_FOUND"
  | "READ_FAILED";

/** Error of the `kustomize` domain. */
export class RenderError extends AsterismError<RenderErrorCode> {
  override readonly domain = "kustomize";
}
