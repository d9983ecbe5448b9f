import type { NodeIdentity } from "@asterism/lifecycle";
import type { Instance, MetadataClient } from "@asterism/metadata";
import { JoinServiceError } from "./errors.ts";

/**
 * Cross-check an attested identity with the instance metadata (the lead's contract: "taken ONLY from the
 * event log, and cross-checked with the metadata service's instance list where available"): an instance with
 * the same name must exist with the same role and the same IP set. The list is cached for `ttlMs` so a
 * burst of joins costs one metadata call.
 */
export function createMetadataCrossCheck(client: MetadataClient, ttlMs = 2000, now: () => number = Date.now) {
  let cache: { at: number; list: Promise<Instance[]> } | undefined;
  const list = (fresh = false) => {
    if (fresh || cache === undefined || now() - cache.at > ttlMs) {
      const p = client.instances();
      cache = { at: now(), list: p };
      p.catch(() => {
        cache = undefined;
      });
    }
    return cache.list;
  };
  const sameIps = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && [...a].sort().join(",") === [...b].sort().join(",");
  const matches = (l: Instance[], id: NodeIdentity) => {
    const inst = l.find((i) => i.name === id.name);
    return { inst, ok: inst !== undefined && inst.role === id.role && sameIps(inst.ips, id.ips) };
  };
  return async (id: NodeIdentity): Promise<void> => {
    let { inst, ok } = matches(await list(), id);
    // A node registered after the cache was filled: look once more before refusing.
    if (!ok) ({ inst, ok } = matches(await list(true), id));
    if (!ok)
      throw new JoinServiceError("IDENTITY_MISMATCH", "The attested identity is not a registered instance", {
        expected: "an instance with the attested name, role and IPs",
        actual: inst === undefined ? `no instance ${id.name}` : `instance ${id.name} differs`,
      });
  };
}
