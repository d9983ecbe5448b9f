import type { JoinRequest, JoinTicketJson, RejoinTicketJson } from "@asterism/api";
import type { PeerAttestation } from "@asterism/atls";
import { toBase64, utf8, wipe } from "@asterism/bytes";
import { type ClusterPki, issueKubernetesJoinMaterial, type PkiDeps } from "@asterism/kubeadm";
import { identityOfClaims, type NodeIdentity, type NodeRecord } from "@asterism/lifecycle";
import type { Logger } from "@asterism/service";
import { JoinServiceError } from "./errors.ts";
import type { TicketKeys } from "./keys.ts";
import { type createDiskOwnership, type DiskOwner, ownerKeyOf } from "./ownership.ts";
import type { JoinConfigHolder } from "./policy.ts";
import type { TokenPublisher } from "./tokens.ts";

/** What issuing a ticket needs. */
export interface TicketDeps {
  readonly config: Pick<JoinConfigHolder, "require">;
  /** The cluster's Kubernetes PKI (CA for kubelet certificates, control-plane files), once loaded. */
  readonly pki: () => ClusterPki | undefined;
  readonly keys: TicketKeys;
  readonly ownership: ReturnType<typeof createDiskOwnership>;
  readonly tokens: TokenPublisher;
  /** Optional cross-check of the attested identity with the instance metadata. */
  readonly crossCheck?: (id: NodeIdentity) => Promise<void>;
  /** `host:port` of the API server for tickets. */
  readonly apiServerEndpoint: string;
  readonly pkiDeps?: Partial<PkiDeps>;
  readonly logger: Logger;
  /** Optional: keep a per-node record of the last attestation (for the console; never used to decide). */
  readonly nodeRecords?: (record: NodeRecord) => Promise<void>;
  readonly now?: () => Date;
}

/** Record what a node just proved (best effort: a state hiccup must not fail a ticket already issued). */
async function recordNode(deps: TicketDeps, identity: NodeIdentity, peer: PeerAttestation): Promise<void> {
  if (!deps.nodeRecords) return;
  const warnings = peer.claims.warnings.slice(0, 32).map((w) => w.slice(0, 200));
  try {
    await deps.nodeRecords({
      name: identity.name,
      role: identity.role === "control-plane" ? "control-plane" : "worker",
      variant: peer.variant,
      lastAttestation: {
        at: (deps.now ?? (() => new Date()))().toISOString(),
        status: warnings.length > 0 ? "warning" : "affirming",
        ...(warnings.length > 0 ? { warnings } : {}),
      },
    });
  } catch (err) {
    deps.logger.log("warn", "join.node_record_failed", {
      node: identity.name,
      error: String(err).slice(0, 200),
    });
  }
}

async function attestedNode(deps: TicketDeps, peer: PeerAttestation | undefined) {
  const identity = peer === undefined ? undefined : identityOfClaims(peer.claims);
  if (peer === undefined || identity === undefined)
    throw new JoinServiceError("IDENTITY_MISSING", "Refusing a node without an attested identity", {
      expected: "a client-attested connection with a PCR 16 identity event",
    });
  await deps.crossCheck?.(identity);
  const owner: DiskOwner = {
    nodeName: identity.name,
    akSpkiSha256: await ownerKeyOf(peer.claims.details),
    role: identity.role,
  };
  return { identity, owner, attested: peer };
}

/** A node the owners revoked (docs/owner.md) gets no ticket, neither to join nor to rejoin. */
function refuseRevoked(config: { revokedNodes: ReadonlySet<string> }, node: string): void {
  if (config.revokedNodes.has(node))
    throw new JoinServiceError("NODE_REVOKED", "Refusing a node the cluster owners revoked", {
      actual: node,
    });
}

/**
 * Issue a join ticket (docs/lifecycle.md §3). Every check that can refuse runs before anything is
 * written: identity (attested only), role vs. control-plane wish, CSR vs. attested name/IPs. Then the disk
 * is claimed (create-if-absent; the same owner again is idempotent, so a JoinService that dies mid-join
 * loses nothing), the keys are fetched, the bootstrap token is published, and the ticket returned.
 */
export async function issueJoinTicket(
  deps: TicketDeps,
  peer: PeerAttestation | undefined,
  request: JoinRequest,
): Promise<JoinTicketJson> {
  const { identity, owner, attested } = await attestedNode(deps, peer);
  const config = deps.config.require();
  refuseRevoked(config, identity.name);
  const pki = deps.pki();
  if (pki === undefined) throw new JoinServiceError("PKI_NOT_LOADED", "The Kubernetes PKI is not loaded yet");
  const material = await issueKubernetesJoinMaterial(
    {
      identity: { nodeName: identity.name, ips: identity.ips, role: identity.role },
      request: { csr: request.csr, controlPlane: request.controlPlane },
      pki,
    },
    deps.pkiDeps,
  );
  const claimed = await deps.ownership.claim(request.diskUuid, owner);
  const measurementSecret = await deps.keys.measurementSecret();
  const diskKey = await deps.keys.diskKey(request.diskUuid);
  await deps.tokens.publish(material.tokenSecret);
  try {
    const ticket: JoinTicketJson = {
      diskKey: toBase64(diskKey),
      measurementSecret: toBase64(measurementSecret),
      measurementSalt: toBase64(config.measurementSalt),
      kubeletCert: material.kubeletCertPem,
      caCert: material.caCertPem,
      apiServerEndpoint: deps.apiServerEndpoint,
      token: material.token,
      caCertHashes: [...material.caCertHashes],
      controlPlaneFiles: material.controlPlaneFiles.map((f) => ({
        name: f.name,
        data: toBase64(utf8(f.data)),
      })),
      kubernetesVersion: config.kubernetesVersion,
      kubernetesComponents: [...config.components],
      // The node records the owners for its recovery approvals (docs/owner.md "Recovery").
      ...(config.owner ? { owner: { anchor: config.owner.anchor, head: { ...config.owner.head } } } : {}),
    };
    await recordNode(deps, identity, attested);
    deps.logger.log("info", "join.ticket_issued", {
      node: identity.name,
      role: identity.role,
      disk: request.diskUuid,
      ownership: claimed,
      controlPlaneFiles: material.controlPlaneFiles.length,
    });
    return ticket;
  } finally {
    wipe(diskKey);
    wipe(measurementSecret);
  }
}

/** Issue a rejoin ticket: only to the disk's recorded owner; only its disk key and the measurement secret. */
export async function issueRejoinTicket(
  deps: TicketDeps,
  peer: PeerAttestation | undefined,
  diskUuid: string,
): Promise<RejoinTicketJson> {
  const { identity, owner, attested } = await attestedNode(deps, peer);
  refuseRevoked(deps.config.require(), identity.name);
  await deps.ownership.check(diskUuid, owner);
  const measurementSecret = await deps.keys.measurementSecret();
  const diskKey = await deps.keys.diskKey(diskUuid);
  try {
    await recordNode(deps, identity, attested);
    deps.logger.log("info", "join.rejoin_ticket_issued", { node: identity.name, disk: diskUuid });
    return { diskKey: toBase64(diskKey), measurementSecret: toBase64(measurementSecret) };
  } finally {
    wipe(diskKey);
    wipe(measurementSecret);
  }
}
