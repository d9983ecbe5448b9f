import { InitSecretError } from "./errors.ts";

/**
 * bcrypt hashes as Go's `golang.org/x/crypto/bcrypt` (used by Constellation's Terraform-side tooling) and Bun
 * write them: `$2a$`/`$2b$`/`$2y$`, a two-digit cost, 53 characters of bcrypt-base64 salt and hash.
 */
const BCRYPT_PATTERN = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;
/**
 * bcrypt only uses the first 72 bytes of a password, and Bun pre-hashes longer ones (so its result would
 * differ from Go's). Longer secrets are refused rather than silently truncated or re-interpreted. The
 * secret Constellation's and our tooling generate is 32 characters.
 */
export const MAX_INIT_SECRET_BYTES = 72;

/** Checks init secrets against the bcrypt hash the node got out of band (instance metadata). */
export interface InitSecretChecker {
  /** Resolves if `secret` matches; otherwise rejects with `INIT_SECRET_INVALID` and nothing else. */
  check(secret: Uint8Array | string): Promise<void>;
}

/**
 * Builds a checker for `bcryptHash`. An empty or malformed hash is an operator error and fails here, at
 * start-up, with `INIT_SECRET_HASH_INVALID` (like Constellation, which refused to start its init server
 * without a hash).
 *
 * A wrong secret yields `INIT_SECRET_INVALID` with no detail whatsoever: no expected/actual, no cause, no
 * logs (Constellation streamed the node's entire journal to the unauthenticated caller). bcrypt's cost makes
 * guessing slow; the comparison inside `Bun.password.verify` is not early-exit.
 *
 * @example
 * const checker = createInitSecretChecker(metadata.initSecretHash);
 * await checker.check(request.initSecret); // throws InitSecretError("INIT_SECRET_INVALID") on mismatch
 */
export function createInitSecretChecker(bcryptHash: string): InitSecretChecker {
  if (typeof bcryptHash !== "string" || !BCRYPT_PATTERN.test(bcryptHash)) {
    throw new InitSecretError("INIT_SECRET_HASH_INVALID", "Cannot use the init secret hash", {
      expected: "a bcrypt hash ($2a$/$2b$/$2y$, cost 04–31)",
      actual: typeof bcryptHash === "string" ? `${bcryptHash.length} characters` : typeof bcryptHash,
    });
  }
  return {
    async check(secret) {
      const bytes = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
      let ok = false;
      if (bytes instanceof Uint8Array && bytes.length > 0 && bytes.length <= MAX_INIT_SECRET_BYTES) {
        try {
          ok = await Bun.password.verify(bytes, bcryptHash, "bcrypt");
        } catch {
          ok = false;
        }
      }
      if (!ok) throw new InitSecretError("INIT_SECRET_INVALID", "Init secret rejected");
    },
  };
}
