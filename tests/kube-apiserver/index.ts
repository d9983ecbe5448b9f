/**
 * A small Kubernetes API server for tests (never shipped): in-memory objects, every stored object
 * validated with kubernetes-models, resourceVersion compare-and-swap, simplified server-side apply,
 * discovery. See README.md for what it models and what it does not.
 *
 * @module
 */
export { createTestPki, type TestPki } from "./certs.ts";
export { KUBEADM_CSR_BINDINGS, seedKubeadmCsrBindings } from "./kubeadm-defaults.ts";
export {
  type RecordedRequest,
  type RequestAttributes,
  startTestApiServer,
  type TestApiServer,
  type TestApiServerOptions,
  type TestApiServerTls,
} from "./server.ts";
export { ObjectStore, StatusFailure } from "./store.ts";
