/**
 * Cluster state behind one narrow interface with two backends: Kubernetes Secrets/ConfigMaps through
 * @kubernetes/client-node on a Bun-fetch HTTP layer (so CA and client certificates are honoured), and
 * an embedded SQLite file for the local cluster. Both enforce Kubernetes' naming and size rules and
 * offer compare-and-swap.
 *
 * @module
 */
export { StateError, type StateErrorCode } from "./errors.ts";
export { bunFetchHttpLibrary, type KubeConnection, kubernetesState } from "./kubernetes.ts";
export { openSqliteState } from "./sqlite.ts";
export { type ClusterState, checkObject, LIMITS, type ObjectKind, type StoredObject } from "./types.ts";
export { watchObject } from "./watch.ts";
