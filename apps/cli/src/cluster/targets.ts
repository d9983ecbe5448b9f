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

/** Every node's VerificationService known to the state file (local cluster nodes first, by name). */
export function verifyTargets(state: State | undefined): NodeTarget[] {
  const out: NodeTarget[] = [];
  const seen = new Set<string>();
  for (const n of state?.mini?.nodes ?? []) {
    const ep = n.endpoints["verify"];
    if (ep && !seen.has(ep)) {
      seen.add(ep);
      out.push({ name: n.name, url: toUrl(ep) });
    }
  }
  for (const ep of state?.infrastructure.verifyEndpoints ?? []) {
    if (!seen.has(ep)) {
      seen.add(ep);
      out.push({ url: toUrl(ep) });
    }
  }
  return out;
}
