/**
 * TEST-ONLY: a fleet of simulated nodes for load and fault tests of the JoinService. Each node has its own
 * software attester (its own signing key, standing in for its TPM) whose documents claim the node's
 * identity in PCR 16 exactly as a real node measures it (SHA-256 of the canonical identity JSON, one
 * extend from zero). The fleet validator checks a document with the key of the node it claims to be and
 * attaches what the real validators attach: the identity (as `createIdentityValidator` does) and a
 * per-node `akSpki` (as the vTPM validators do), so disk ownership and identity binding run unchanged.
 * It proves nothing about any machine; production uses qemu-vtpm/SNP/TDX validators.
 */
import { createHash } from "node:crypto";
import type { Issuer, Validator } from "@asterism/attestation";
import { toHex } from "@asterism/bytes";
import { encodeNodeIdentity, NODE_IDENTITY_DETAIL, type NodeIdentity } from "@asterism/lifecycle";
import {
  createSoftwareAttester,
  DEFAULT_SOFTWARE_MEASUREMENTS,
  type SoftwareAttester,
} from "@asterism/testing";

export interface FleetNode {
  readonly identity: NodeIdentity;
  readonly issuer: Issuer;
  /** Hex DER standing in for this node's AK SPKI (unique per node, stable across its rejoins). */
  readonly akSpki: string;
  readonly attester: SoftwareAttester;
}

export interface SoftwareFleet {
  readonly nodes: readonly FleetNode[];
  readonly validator: Validator;
}

/** PCR 16 after the identity event: SHA-256(0³² ‖ SHA-256(identity JSON)). */
export function identityPcr(id: NodeIdentity): string {
  const event = createHash("sha256").update(encodeNodeIdentity(id)).digest();
  return createHash("sha256").update(Buffer.alloc(32)).update(event).digest("hex");
}

export async function createSoftwareFleet(ids: readonly NodeIdentity[]): Promise<SoftwareFleet> {
  const byPcr = new Map<string, FleetNode>();
  const nodes: FleetNode[] = [];
  for (const identity of ids) {
    const pcr16 = identityPcr(identity);
    const attester = await createSoftwareAttester({
      measurements: { ...DEFAULT_SOFTWARE_MEASUREMENTS, 16: pcr16 },
    });
    const node: FleetNode = {
      identity,
      issuer: attester.issuer,
      akSpki: toHex(createHash("sha256").update(`ak:${identity.name}`).digest()),
      attester,
    };
    byPcr.set(pcr16, node);
    nodes.push(node);
  }
  const validators = new Map(nodes.map((n) => [n, n.attester.validator()]));
  return {
    nodes,
    validator: {
      variant: "qemu-vtpm",
      async validate(document, nonce) {
        // Which node does the document claim to be? Its own key must then have signed it.
        let claimed: string | undefined;
        try {
          const json = JSON.parse(new TextDecoder().decode(document)) as {
            measurements?: Record<string, string>;
          };
          claimed = json.measurements?.["16"];
        } catch {
          claimed = undefined;
        }
        const node = claimed === undefined ? undefined : byPcr.get(claimed);
        // Unknown claims go to any node's validator, which refuses them with a coded error.
        const v = validators.get(node ?? (nodes[0] as FleetNode)) as Validator;
        const claims = await v.validate(document, nonce);
        if (!node) throw new Error("unreachable: a document for no node verified");
        return {
          ...claims,
          details: { ...claims.details, [NODE_IDENTITY_DETAIL]: node.identity, akSpki: node.akSpki },
        };
      },
    },
  };
}
