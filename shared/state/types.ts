import { StateError } from "./errors.ts";

/** Secrets hold key material and tokens; configs hold policy and public data. */
export type ObjectKind = "secret" | "config";

/** One stored object: a flat map of byte values, versioned for compare-and-swap. */
export interface StoredObject {
  readonly kind: ObjectKind;
  readonly name: string;
  readonly data: Readonly<Record<string, Uint8Array>>;
  readonly labels: Readonly<Record<string, string>>;
  /** Opaque; changes on every write. Pass it back to `update` to detect lost updates. */
  readonly version: string;
}

/**
 * The cluster state every service uses (house style §13: narrow, consumer-declared). Backends: the
 * Kubernetes API (Secrets and ConfigMaps) and an embedded SQLite file for the local cluster; both pass
 * the same conformance suite.
 */
export interface ClusterState {
  get(kind: ObjectKind, name: string): Promise<StoredObject | undefined>;
  /** Fails with `ALREADY_EXISTS` when the name is taken: creation is how first-writer-wins is decided. */
  create(
    kind: ObjectKind,
    name: string,
    data: Record<string, Uint8Array>,
    labels?: Record<string, string>,
  ): Promise<StoredObject>;
  /** Compare-and-swap: fails with `CONFLICT` unless the stored version is still `expectedVersion`. */
  update(
    kind: ObjectKind,
    name: string,
    data: Record<string, Uint8Array>,
    expectedVersion: string,
  ): Promise<StoredObject>;
  delete(kind: ObjectKind, name: string): Promise<void>;
  /** Objects of a kind whose labels include every pair of `selector`, sorted by name. */
  list(kind: ObjectKind, selector?: Record<string, string>): Promise<StoredObject[]>;
}

/** Kubernetes' own limits, enforced on every backend. */
export const LIMITS = {
  /** DNS-1123 subdomain (Secrets and ConfigMaps). */
  nameMaxLength: 253,
  /** etcd's default request limit is 1.5 MiB; Kubernetes caps Secrets and ConfigMaps at 1 MiB of data. */
  objectMaxBytes: 1024 * 1024,
} as const;

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Check a name, data and labels against Kubernetes' rules (the same on every backend). */
export function checkObject(
  name: string,
  data?: Record<string, Uint8Array>,
  labels?: Record<string, string>,
): void {
  if (name.length > LIMITS.nameMaxLength || !NAME.test(name)) {
    throw new StateError("INVALID_NAME", "Invalid object name", {
      expected: "a DNS-1123 subdomain (lower case, digits, '-', '.')",
      actual: JSON.stringify(name.slice(0, 64)),
    });
  }
  if (data) {
    let total = 0;
    for (const [k, v] of Object.entries(data)) {
      if (!DATA_KEY.test(k) || k.length > 253)
        throw new StateError("INVALID_DATA", `Invalid data key in ${name}`, {
          expected: "[-._a-zA-Z0-9]+",
          actual: JSON.stringify(k.slice(0, 64)),
        });
      if (!(v instanceof Uint8Array))
        throw new StateError("INVALID_DATA", `Invalid value for ${name}/${k}`, {
          expected: "bytes",
          actual: typeof v,
        });
      total += v.length;
    }
    if (total > LIMITS.objectMaxBytes)
      throw new StateError("INVALID_DATA", `Object ${name} too large`, {
        expected: `at most ${LIMITS.objectMaxBytes} bytes`,
        actual: `${total} bytes`,
      });
  }
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (
      !/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(k) ||
      !LABEL_VALUE.test(v) ||
      v.length > 63
    ) {
      throw new StateError("INVALID_DATA", `Invalid label on ${name}`, {
        expected: "a Kubernetes label",
        actual: JSON.stringify(`${k}=${v}`.slice(0, 80)),
      });
    }
  }
}

/** True when `labels` includes every pair of `selector`. */
export function matches(
  labels: Readonly<Record<string, string>>,
  selector: Record<string, string> | undefined,
): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}
