import { isIP } from "node:net";
import { JoinPolicyError } from "./errors.ts";

/** A node's role in the cluster. */
export type NodeRole = "control-plane" | "worker";

/**
 * Who a joining node is, as established by ATTESTATION — never by anything the node wrote in its request.
 *
 * The JoinService derives these fields from the verified claims of the node's evidence (e.g. the instance
 * identity and role bound into the attested measurements or the cloud metadata the attestation binds), and
 * passes them here. Fields a node merely asks for (the CSR's subject and SANs, an `isControlPlane` flag)
 * are checked AGAINST this identity and never substituted for it. Constellation took both the node name
 * and the control-plane role from the request (reference/constellation.md §11 item 6); this type exists so
 * that cannot happen by accident.
 */
export interface AttestedNodeIdentity {
  /** Kubernetes node name: a lower-case RFC 1123 DNS subdomain (what kubelet registers as). */
  readonly nodeName: string;
  /** The node's IP addresses (IPv4 dotted decimal or IPv6), at most {@link MAX_NODE_IPS}. */
  readonly ips: readonly string[];
  /** Role bound to the node's attested identity. */
  readonly role: NodeRole;
}

/** An identity whose fields passed {@link checkAttestedIdentity}; IPs are in canonical text form. */
export interface CheckedIdentity extends AttestedNodeIdentity {
  readonly canonicalIps: ReadonlySet<string>;
}

/** Upper bound on a node's addresses; a node has a handful, never dozens. */
export const MAX_NODE_IPS = 16;
/** Kubernetes object names (and so node names) are at most 253 characters (RFC 1123 subdomain). */
const MAX_NODE_NAME = 253;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Canonical text form of an IP address for comparison, or `undefined` if `s` is not a plain IP literal.
 * IPv4 must be strict dotted decimal; IPv6 is compressed and lower-cased; zone ids are refused. An IPv4-mapped
 * IPv6 address stays distinct from its IPv4 form (no implicit equivalence in a security check).
 */
export function canonicalIp(s: string): string | undefined {
  const v = isIP(s);
  if (v === 4) return s;
  if (v !== 6) return undefined;
  try {
    return new URL(`http://[${s}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** True when `name` is a valid Kubernetes node name (lower-case RFC 1123 subdomain, ≤ 253 chars). */
export function isValidNodeName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NODE_NAME && DNS_SUBDOMAIN.test(name);
}

/**
 * A value for an error message without calling anything on it: `String(x)` runs a hostile `toString` (or
 * throws a TypeError for `{toString: null}` and symbols — the fuzz campaign's finding 2, docs/fuzzing.md).
 */
function describeValue(x: unknown, max: number): string {
  if (typeof x === "string") return JSON.stringify(x.slice(0, max));
  if (x === null) return "null";
  return typeof x;
}

/**
 * Checks the shape of an attested identity (a caller bug or a malicious metadata value must not become a
 * certificate subject). Throws {@link JoinPolicyError} `IDENTITY_INVALID`.
 */
export function checkAttestedIdentity(id: AttestedNodeIdentity): CheckedIdentity {
  if (typeof id.nodeName !== "string" || !isValidNodeName(id.nodeName)) {
    throw new JoinPolicyError("IDENTITY_INVALID", "Cannot use attested identity", {
      expected: "a lower-case RFC 1123 DNS subdomain node name",
      actual: describeValue(id.nodeName, 64),
    });
  }
  if (id.role !== "control-plane" && id.role !== "worker") {
    throw new JoinPolicyError("IDENTITY_INVALID", "Cannot use attested identity", {
      expected: 'role "control-plane" or "worker"',
      actual: describeValue(id.role, 32),
    });
  }
  if (!Array.isArray(id.ips) || id.ips.length > MAX_NODE_IPS) {
    throw new JoinPolicyError("IDENTITY_INVALID", "Cannot use attested identity", {
      expected: `at most ${MAX_NODE_IPS} IP addresses`,
      actual: Array.isArray(id.ips) ? `${id.ips.length}` : typeof id.ips,
    });
  }
  const canonicalIps = new Set<string>();
  for (const ip of id.ips) {
    const c = typeof ip === "string" ? canonicalIp(ip) : undefined;
    if (c === undefined) {
      throw new JoinPolicyError("IDENTITY_INVALID", "Cannot use attested identity", {
        expected: "IPv4 or IPv6 literals",
        actual: describeValue(ip, 64),
      });
    }
    canonicalIps.add(c);
  }
  return { nodeName: id.nodeName, ips: [...canonicalIps], role: id.role, canonicalIps };
}
