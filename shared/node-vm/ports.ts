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
