/**
 * A small, honest kustomize subset for Asterism's `k8s/` tree, so rendering needs no kustomize binary
 * (Debian ships none recent enough). The subset is documented in k8s/README.md; anything outside it fails.
 * Also the policy checks of rendered objects and a small RBAC authorizer to evaluate their Roles.
 *
 * @module
 */
export { RenderError, type RenderErrorCode } from "./errors.ts";
export { listOverlays, parseManifestFile, renderKustomization } from "./kustomize.ts";
export {
  checkPolicy,
  POD_SECURITY_EXCEPTION_ANNOTATION,
  type PolicyCode,
  type PolicyViolation,
  PRIVILEGED_REASON_ANNOTATION,
} from "./policy.ts";
export { type AccessRequest, createRbacAuthorizer, serviceAccountUser } from "./rbac.ts";
export { strategicMerge } from "./strategic-merge.ts";
