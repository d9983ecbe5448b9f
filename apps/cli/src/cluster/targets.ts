import type { State } from "../workspace/state.ts";

/** A node to talk to: its name when known, and a base URL. */
export interface NodeTarget {
  readonly name?: string;
  readonly url: string;
}

/** `host:port` → `http://host:port`; URLs pass unchanged. */
export function toUrl(addr: string, scheme: "http" | "https" = "http"): string {
  return /^[a-z]+:\/\//i.test(addr) ? addr.replace(/\/+$/, "") : `${scheme}://${addr}`;
}

/**
 * Every node's VerificationService known to the state file: the local cluster's nodes (by name) when
 * there is one, else `infrastructure.verifyEndpoints`.
 */
export function verifyTargets(state: State | undefined): NodeTarget[] {
  const mini = state?.mini?.nodes ?? [];
  if (mini.length) {
    return mini.flatMap((n) => {
      const ep = n.endpoints["verify"];
      return ep ? [{ name: n.name, url: toUrl(ep) }] : [];
    });
  }
  return [...new Set(state?.infrastructure.verifyEndpoints ?? [])].map((ep) => ({ url: toUrl(ep) }));
}
