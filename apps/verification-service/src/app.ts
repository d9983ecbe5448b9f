import { API_PATHS, AttestRequestSchema, decodeNonce, errorBody, VERIFY_USER_DATA } from "@asterism/api";
import type { Issuer } from "@asterism/attestation";
import { toBase64 } from "@asterism/bytes";
import { describeError } from "@asterism/errors";
import type { Logger, MetricsRegistry } from "@asterism/service";
import { type Context, Hono } from "hono";
import * as v from "valibot";

/** Everything the VerificationService app needs. */
export interface VerificationAppDeps {
  /** The node's issuer (its TPM, persistent AK and identity event log). */
  readonly issuer: Issuer;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  /** True once the TPM answered (the AK exists). */
  readonly ready: () => boolean;
}

/** Request bodies are `{"nonce": "<44 chars>"}`. */
const MAX_BODY_BYTES = 1024;
/**
 * Quotes in flight at once. Anyone may ask, and every answer costs a TPM quote (serialized on the TPM);
 * beyond this the service answers 503 instead of queueing without bound.
 */
export const MAX_CONCURRENT_ISSUES = 16;

/**
 * The VerificationService (docs/lifecycle.md §3 "Verify"): anyone may ask any node for fresh evidence.
 * `GET /?nonce=<base64url>` (any path, as Constellation's) and `POST /v1/attest` answer
 * `{"data": "<std base64 attestation document>"}` with userData fixed to SHA-256("VerifyService"), so a
 * document obtained here can never pass as an aTLS or join document (those bind a key hash).
 * The evidence itself is the authentication: plain HTTP is enough, and nothing secret is served.
 */
export function createApp(deps: VerificationAppDeps): Hono {
  const requests = deps.metrics.counter("asterism_verify_requests_total", "Attestation requests by result");
  const duration = deps.metrics.histogram("asterism_verify_issue_seconds", "Time to issue a document");
  const log = deps.logger.child({ component: "verification-service" });
  const app = new Hono();

  let inFlight = 0;
  const attest = async (c: Context, nonce: Uint8Array | undefined): Promise<Response> => {
    if (nonce === undefined) {
      requests.inc({ result: "bad_nonce" });
      return c.json(errorBody("NONCE_INVALID", "nonce must be 32 bytes of base64url"), 400);
    }
    if (inFlight >= MAX_CONCURRENT_ISSUES) {
      requests.inc({ result: "busy" });
      return c.json(errorBody("BUSY", "too many attestation requests in flight; retry"), 503, {
        "retry-after": "1",
      });
    }
    inFlight++;
    const t0 = performance.now();
    try {
      const document = await deps.issuer.issue(VERIFY_USER_DATA, nonce);
      duration.observe((performance.now() - t0) / 1000);
      requests.inc({ result: "ok" });
      return c.json({ data: toBase64(document) }, 200, { "cache-control": "no-store" });
    } catch (err) {
      requests.inc({ result: "error" });
      log.log("error", "verify.issue_failed", { error: describeError(err) });
      return c.json(errorBody("ATTESTATION_FAILED", "could not produce an attestation document"), 500);
    } finally {
      inFlight--;
    }
  };

  app.get(API_PATHS.healthz, (c) => c.json({ status: "ok" }));
  app.get(API_PATHS.readyz, (c) =>
    deps.ready() ? c.json({ status: "ready" }) : c.json({ status: "not ready" }, 503),
  );
  app.get(API_PATHS.metrics, (c) =>
    c.text(deps.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
  app.post(API_PATHS.attest, async (c): Promise<Response> => {
    const text = await c.req.text();
    if (text.length > MAX_BODY_BYTES) return c.json(errorBody("NONCE_INVALID", "body too large"), 400);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return c.json(errorBody("INVALID_REQUEST", "body must be JSON"), 400);
    }
    const body = v.safeParse(AttestRequestSchema, json);
    if (!body.success) return c.json(errorBody("INVALID_REQUEST", 'body must be {"nonce": "<base64>"}'), 400);
    return attest(c, decodeNonce(body.output.nonce));
  });
  // Constellation's HTTP API answers any path; the nonce must be there exactly once.
  app.get("*", async (c): Promise<Response> => {
    const nonces = c.req.queries("nonce") ?? [];
    if (nonces.length !== 1) {
      requests.inc({ result: "bad_nonce" });
      return c.json(errorBody("NONCE_MISSING", "exactly one nonce query parameter is required"), 400);
    }
    return attest(c, decodeNonce(nonces[0] as string));
  });
  app.notFound((c) => c.json(errorBody("NOT_FOUND", "no such route"), 404));
  app.onError((err, c) => {
    log.log("error", "verify.unhandled", { error: describeError(err) });
    return c.json(errorBody("INTERNAL", "internal error"), 500);
  });
  return app;
}
