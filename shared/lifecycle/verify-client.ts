import { VERIFY_USER_DATA, VerifyResponseSchema } from "@asterism/api";
import {
  type AttestationPolicy,
  createValidator,
  type ValidatorOptions,
  type Variant,
  type VerifiedClaims,
} from "@asterism/attestation";
import { constantTimeEqual, fromBase64, toBase64Url } from "@asterism/bytes";
import { withClusterId } from "@asterism/measurements";
import { LifecycleError } from "./errors.ts";
import { readAnswer } from "./http.ts";

/** Options of {@link verifyNode}. */
export interface VerifyNodeOptions {
  /** Base URL of a node's VerificationService, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** The image policy (the node's expected measurements); PCR 15 is replaced by the cluster ID's value. */
  readonly policy: AttestationPolicy;
  /** The cluster ID: PCR 15 must be SHA-256(0³² ‖ SHA-256(clusterId)). */
  readonly clusterId: Uint8Array;
  readonly variant?: Variant;
  /** Extra validator options (AK pins, clock). */
  readonly validatorOptions?: Omit<ValidatorOptions, "policy">;
  readonly fetch?: (url: string, init?: RequestInit) => Promise<Response>;
  readonly randomBytes?: (n: number) => Uint8Array;
  readonly timeoutMs?: number;
}

/** A verified node. */
export interface VerifiedNode {
  readonly claims: VerifiedClaims;
  /** The raw attestation document (for `-o raw` style output). */
  readonly document: Uint8Array;
}

/**
 * Verify a node from outside (DESIGN.md trust flow 5): send a fresh 32-byte nonce to its
 * VerificationService (`GET /?nonce=<base64url>`, Constellation's HTTP API), validate the returned document
 * against the image policy with PCR 15 set to the cluster ID's value, and require the service's fixed
 * userData. Throws the validator's coded errors, or `LifecycleError` (`UNAVAILABLE`, `REFUSED`,
 * `INVALID_RESPONSE`, `NOT_TRUSTED` for a wrong userData).
 */
export async function verifyNode(opts: VerifyNodeOptions): Promise<VerifiedNode> {
  const nonce = (opts.randomBytes ?? ((n) => crypto.getRandomValues(new Uint8Array(n))))(32);
  const validator = createValidator(opts.variant ?? "qemu-vtpm", {
    ...opts.validatorOptions,
    policy: { ...opts.policy, measurements: withClusterId(opts.policy.measurements, opts.clusterId) },
  });
  const action = `Cannot verify the node at ${opts.url}`;
  const url = new URL("/", opts.url);
  url.searchParams.set("nonce", toBase64Url(nonce));
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url.toString(), {
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
  } catch (cause) {
    throw new LifecycleError("UNAVAILABLE", action, { cause });
  }
  const { data } = await readAnswer(res, VerifyResponseSchema, action);
  let document: Uint8Array;
  try {
    document = fromBase64(data);
  } catch (cause) {
    throw new LifecycleError("INVALID_RESPONSE", action, { expected: "base64 data", cause });
  }
  const claims = await validator.validate(document, nonce);
  if (!constantTimeEqual(claims.userData, VERIFY_USER_DATA))
    throw new LifecycleError("NOT_TRUSTED", action, {
      expected: 'userData = SHA-256("VerifyService")',
      actual: "another userData (a document made for another purpose)",
    });
  return { claims, document };
}
