import {
  API_PATHS,
  errorBody,
  JoinRequestSchema,
  MAX_REQUEST_BYTES,
  RejoinRequestSchema,
} from "@asterism/api";
import { peerClaims } from "@asterism/atls";
import { AsterismError, describeError } from "@asterism/errors";
import { type MetricsRegistry, readBodyText } from "@asterism/service";
import { type Context, Hono } from "hono";
import * as v from "valibot";
import { JoinServiceError } from "./errors.ts";
import { issueJoinTicket, issueRejoinTicket, type TicketDeps } from "./tickets.ts";

/** Everything the JoinService app needs. */
export interface JoinAppDeps extends TicketDeps {
  readonly metrics: MetricsRegistry;
  readonly ready: () => boolean;
}

/** Refusals a node causes itself: 403 with the code and the (secret-free) message. */
const FORBIDDEN = new Set([
  "IDENTITY_MISSING",
  "IDENTITY_MISMATCH",
  "IDENTITY_INVALID",
  "OWNER_KEY_MISSING",
  "DISK_OWNED_BY_OTHER_NODE",
  "DISK_UNKNOWN",
  "NODE_REVOKED",
  "ROLE_NOT_CONTROL_PLANE",
  "CSR_SUBJECT_INVALID",
  "CSR_NAME_MISMATCH",
  "CSR_IP_MISMATCH",
  "CSR_SAN_FORBIDDEN",
  "CSR_EXTENSION_FORBIDDEN",
  "CSR_KEY_TOO_WEAK",
  "USAGES_INVALID",
]);
const UNAVAILABLE = new Set(["POLICY_NOT_LOADED", "PKI_NOT_LOADED", "KMS_UNAVAILABLE"]);

async function body<T>(c: Context, schema: v.GenericSchema<unknown, T>): Promise<T> {
  // Capped read: an oversized body is refused without being buffered (tests/load/abuse.test.ts).
  const read = await readBodyText(c.req.raw, MAX_REQUEST_BYTES);
  if (!read.ok)
    throw new JoinServiceError("INVALID_REQUEST", "Request body too large", {
      expected: `≤ ${MAX_REQUEST_BYTES} bytes`,
    });
  const text = read.text;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new JoinServiceError("INVALID_REQUEST", "Request body is not JSON");
  }
  const r = v.safeParse(schema, json);
  if (!r.success)
    throw new JoinServiceError("INVALID_REQUEST", "Request body does not match the API", {
      actual: r.issues
        .map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.message}`)
        .join("; ")
        .slice(0, 300),
    });
  return r.output;
}

/**
 * The JoinService (docs/lifecycle.md §3): `POST /v1/join` and `POST /v1/rejoin` for nodes whose
 * evidence the aTLS layer verified (client-attested), plus `/healthz`, `/readyz`, `/metrics`. Errors are
 * mapped here, in one place: refusals 403 with their code, outages 503, malformed requests 400, anything
 * else 500 with no detail.
 */
export function createApp(deps: JoinAppDeps): Hono {
  const tickets = deps.metrics.counter(
    "asterism_join_tickets_total",
    "Join and rejoin tickets by kind and result",
  );
  const seconds = deps.metrics.histogram(
    "asterism_join_ticket_seconds",
    "Time to issue a ticket (after aTLS)",
  );
  const log = deps.logger;
  const app = new Hono();

  const timed = async <T>(kind: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      const out = await f();
      tickets.inc({ kind, result: "issued" });
      seconds.observe((performance.now() - t0) / 1000, { kind });
      return out;
    } catch (err) {
      tickets.inc({ kind, result: err instanceof AsterismError ? err.code : "error" });
      throw err;
    }
  };

  app.get(API_PATHS.healthz, (c) => c.json({ status: "ok" }));
  app.get(API_PATHS.readyz, (c) =>
    deps.ready() ? c.json({ status: "ready" }) : c.json({ status: "not ready" }, 503),
  );
  app.get(API_PATHS.metrics, (c) =>
    c.text(deps.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
  app.post(API_PATHS.join, async (c) => {
    const req = await body(c, JoinRequestSchema);
    const ticket = await timed("join", () => issueJoinTicket(deps, peerClaims(c), req));
    return c.json(ticket, 200, { "cache-control": "no-store" });
  });
  app.post(API_PATHS.rejoin, async (c) => {
    const req = await body(c, RejoinRequestSchema);
    const ticket = await timed("rejoin", () => issueRejoinTicket(deps, peerClaims(c), req.diskUuid));
    return c.json(ticket, 200, { "cache-control": "no-store" });
  });
  app.notFound((c) => c.json(errorBody("NOT_FOUND", "no such route"), 404));
  app.onError((err, c) => {
    const node = (() => {
      const id = peerClaims(c)?.claims.details["nodeIdentity"] as { name?: string } | undefined;
      return typeof id?.name === "string" ? id.name : undefined;
    })();
    if (err instanceof AsterismError) {
      // A CSR that does not even parse or verify (kube-csr) is a malformed request.
      if (err.code === "INVALID_REQUEST" || err.domain === "kube-csr") {
        log.log("warn", "join.bad_request", { node, code: err.code });
        return c.json(errorBody(err.code, err.message), 400);
      }
      if (FORBIDDEN.has(err.code)) {
        log.log("warn", "join.refused", { node, code: err.code, reason: err.message });
        return c.json(errorBody(err.code, err.message), 403);
      }
      if (UNAVAILABLE.has(err.code)) {
        log.log("error", "join.unavailable", { node, code: err.code, error: describeError(err) });
        return c.json(errorBody(err.code, "the join service cannot issue tickets right now"), 503);
      }
    }
    log.log("error", "join.failed", { node, error: describeError(err) });
    return c.json(errorBody("INTERNAL", "internal error"), 500);
  });
  return app;
}
