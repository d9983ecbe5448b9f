/** HTTP paths of the lifecycle endpoints (docs/lifecycle.md §3). */
export const API_PATHS = {
  init: "/v1/init",
  join: "/v1/join",
  rejoin: "/v1/rejoin",
  recover: "/v1/recover",
  /** A fresh nonce for an owner approval of this node's recovery (docs/owner.md "Recovery"). */
  recoverChallenge: "/v1/recover/challenge",
  attest: "/v1/attest",
  /** Batched evidence: one quote for every verifier waiting, each answer with its own inclusion proof. */
  attestBatch: "/v1/attest/batch",
  status: "/v1/status",
  healthz: "/healthz",
  readyz: "/readyz",
  metrics: "/metrics",
} as const;

/** Largest request body any lifecycle endpoint accepts (an init request with components is a few KiB). */
export const MAX_REQUEST_BYTES = 256 * 1024;
