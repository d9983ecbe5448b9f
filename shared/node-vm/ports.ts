import { NodeVmError } from "./errors.ts";

/**
 * The TCP ports an Asterism node listens on inside its VM (every listener on 0.0.0.0), one table for
 * both sides of the VM cluster (image/README.md "Units"): the host forwards them (`hostfwd`,
 * `guestfwd` for control-plane-0 at 10.0.2.100) and `image/build.ts` generates the image's
 * environment files from the same constants, so the two cannot drift.
 */
export const GUEST_PORTS = {
  /** Bootstrapper init endpoint (server-attested aTLS). */
  init: 9000,
  /** Bootstrapper recovery endpoint on control planes (server-attested aTLS). */
  recovery: 9999,
  /** Bootstrapper plain-HTTP status listener (`/v1/status`, `/healthz`). */
  bootstrapperStatus: 9080,
  /** JoinService (client-attested aTLS), control planes. */
  join: 9090,
  /** JoinService `/healthz` `/readyz` `/metrics`. */
  joinHttp: 9091,
  /** VerificationService (plain HTTP; the evidence is the authentication), every node. */
  verify: 8080,
} as const;

export type GuestPortName = keyof typeof GUEST_PORTS;

/**
 * Fixed addresses inside every node's user-mode network (10.0.2.0/24; QEMU's gateway is 10.0.2.2 and
 * its DNS 10.0.2.3, both unused with `restrict=on`). Each is a `guestfwd` to a host loopback port.
 */
export const GUEST_ADDRESSES = {
  /** Control-plane-0's guest ports, the local cluster's "load balancer" (`10.0.2.100:<GUEST_PORTS>`). */
  controlPlane: "10.0.2.100",
  /** The instance metadata endpoint (`asterism mini metadata-server` on the host). */
  metadata: "10.0.2.101",
} as const;

/** The port the metadata endpoint has inside the guests. */
export const METADATA_GUEST_PORT = 80;

/** `ASTERISM_METADATA_URL` of every node VM (the image's bootstrapper and JoinService env files). */
export const METADATA_GUEST_URL = `http://${GUEST_ADDRESSES.metadata}:${METADATA_GUEST_PORT}`;

/** First address QEMU's DHCP server hands out by default; node `i` of a cluster gets `.15 + i`. */
const FIRST_NODE_HOST = 15;
/** Node indices stay below the fixed addresses above (15 + 84 = .99). */
export const MAX_NODE_INDEX = 84;

/**
 * The guest address of node `index` (control planes first, then workers, in cluster order): QEMU's
 * `dhcpstart` gives each VM's own network its address, and the metadata endpoint lists the same one.
 */
export function nodeGuestIp(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > MAX_NODE_INDEX)
    throw new NodeVmError("INVALID_OPTIONS", "Cannot place node", {
      expected: `node index 0..${MAX_NODE_INDEX}`,
      actual: String(index),
    });
  return `10.0.2.${FIRST_NODE_HOST + index}`;
}
