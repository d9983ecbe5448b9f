import { API_PATHS, AttestRequestSchema, decodeNonce, errorBody, VERIFY_USER_DATA } from "@asterism/api";
import {
  AttestationIssueError,
  createNonceBatcher,
  type Issuer,
  type NonceBatcher,
} from "@asterism/attestation";
import { toBase64 } from "@asterism/bytes";
import { describeError } from "@asterism/errors";
import { type Logger, type MetricsRegistry, readBodyText } from "@asterism/service";
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
  /**
   * Batching for `POST /v1/attest/batch` (one quote for every verifier waiting). Default: a batcher over
   * `issuer` with its defaults (256 nonces per quote, 8192 waiting at most).
   */
  readonly batcher?: NonceBatcher;
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
 * `POST /v1/attest/batch` answers many verifiers with one quote (a Merkle tree over their nonces; each
 * answer carries the verifier's inclusion proof).
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

  const batcher =
    deps.batcher ?? createNonceBatcher({ issue: (root) => deps.issuer.issue(VERIFY_USER_DATA, root) });
  const batched = deps.metrics.counter(
    "asterism_verify_batched_total",
    "Batched attestation requests by result",
  );

  app.get(API_PATHS.healthz, (c) => c.json({ status: "ok" }));
  app.get(API_PATHS.readyz, (c) =>
    deps.ready() ? c.json({ status: "ready" }) : c.json({ status: "not ready" }, 503),
  );
  app.get(API_PATHS.metrics, (c) =>
    c.text(deps.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
  app.post(API_PATHS.attest, async (c): Promise<Response> => {
    // Capped read: an oversized body is refused without being buffered (tests/load/abuse.test.ts).
    const read = await readBodyText(c.req.raw, MAX_BODY_BYTES);
    if (!read.ok) return c.json(errorBody("NONCE_INVALID", "body too large"), 400);
    const text = read.text;
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
  // Batched evidence (nonce-tree.ts in @asterism/attestation): the document is issued for the root of a
  // Merkle tree over every nonce waiting for this node's next quote; the answer carries this verifier's
  // inclusion proof, which it checks with validateBatchedDocument. Same body as /v1/attest.
  app.post(API_PATHS.attestBatch, async (c): Promise<Response> => {
    // Capped read: an oversized body is refused without being buffered (tests/load/abuse.test.ts).
    const read = await readBodyText(c.req.raw, MAX_BODY_BYTES);
    if (!read.ok) return c.json(errorBody("NONCE_INVALID", "body too large"), 400);
    const text = read.text;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return c.json(errorBody("INVALID_REQUEST", "body must be JSON"), 400);
    }
    const body = v.safeParse(AttestRequestSchema, json);
    if (!body.success) return c.json(errorBody("INVALID_REQUEST", 'body must be {"nonce": "<base64>"}'), 400);
    const nonce = decodeNonce(body.output.nonce);
    if (nonce === undefined) {
      batched.inc({ result: "bad_nonce" });
      return c.json(errorBody("NONCE_INVALID", "nonce must be 32 bytes of base64"), 400);
    }
    try {
      const { document, proof } = await batcher.submit(nonce);
      batched.inc({ result: "ok" });
      return c.json(
        {
          data: toBase64(document),
          proof: { index: proof.index, size: proof.size, path: proof.path.map((h) => toBase64(h)) },
        },
        200,
        { "cache-control": "no-store" },
      );
    } catch (err) {
      if (err instanceof AttestationIssueError && err.code === "BATCH_QUEUE_FULL") {
        batched.inc({ result: "busy" });
        return c.json(errorBody("BUSY", "too many verifiers are waiting; retry"), 503, {
          "retry-after": "1",
        });
      }
      batched.inc({ result: "error" });
      log.log("error", "verify.batch_failed", { error: describeError(err) });
      return c.json(errorBody("ATTESTATION_FAILED", "could not produce an attestation document"), 500);
    }
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
