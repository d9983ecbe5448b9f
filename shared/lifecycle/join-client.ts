import {
  API_PATHS,
  type JoinTicket,
  JoinTicketSchema,
  type RejoinTicket,
  RejoinTicketSchema,
} from "@asterism/api";
import { attestedFetch } from "@asterism/atls";
import type { Issuer } from "@asterism/attestation";
import { toBase64 } from "@asterism/bytes";
import { readAnswer, wrapAtlsFailure } from "./http.ts";

/** Options shared by {@link requestJoinTicket} and {@link requestRejoinTicket}. */
export interface TicketRequestOptions {
  /** `https://<host>:<port>` of a JoinService. */
  readonly endpoint: string;
  /** The node's issuer: the JoinService verifies this node (client-attested aTLS). */
  readonly issuer: Issuer;
  /** Per-call bound (Constellation: 30 s). */
  readonly timeoutMs?: number;
  readonly now?: () => Date;
}

async function post<T>(
  opts: TicketRequestOptions,
  path: string,
  body: unknown,
  schema: Parameters<typeof readAnswer<T>>[1],
  action: string,
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const call = (async () => {
    const res = await attestedFetch(
      new URL(path, opts.endpoint),
      { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
      {
        mode: "client-attested",
        issuer: opts.issuer,
        attestationTimeoutMs: timeoutMs,
        handshakeTimeoutMs: Math.min(timeoutMs, 10_000),
        responseTimeoutMs: timeoutMs,
        ...(opts.now ? { now: opts.now } : {}),
      },
    );
    return readAnswer(res, schema, action);
  })();
  try {
    return await call;
  } catch (err) {
    throw wrapAtlsFailure(err, action);
  }
}

/**
 * Ask a JoinService for a join ticket (docs/lifecycle.md §3). The node proves itself with its evidence
 * (client-attested aTLS); its name, role and IPs come from that evidence, so the request only carries the
 * disk UUID, the kubelet CSR and whether it wants control-plane files. One attempt; the caller retries.
 *
 * Note: the JoinService does not attest itself to the node (the node holds no secret yet; a rogue
 * service could only hand it a rogue cluster, reference §11 item 8).
 */
export function requestJoinTicket(
  opts: TicketRequestOptions & { diskUuid: string; csr: Uint8Array; controlPlane: boolean },
): Promise<JoinTicket> {
  return post(
    opts,
    API_PATHS.join,
    { diskUuid: opts.diskUuid, csr: toBase64(opts.csr), controlPlane: opts.controlPlane },
    JoinTicketSchema,
    `Cannot get a join ticket from ${opts.endpoint}`,
  );
}

/** Ask for the key of this node's own disk after a reboot (only the disk's recorded owner gets it). */
export function requestRejoinTicket(
  opts: TicketRequestOptions & { diskUuid: string },
): Promise<RejoinTicket> {
  return post(
    opts,
    API_PATHS.rejoin,
    { diskUuid: opts.diskUuid },
    RejoinTicketSchema,
    `Cannot get a rejoin ticket from ${opts.endpoint}`,
  );
}
