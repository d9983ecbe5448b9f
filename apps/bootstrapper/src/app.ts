import {
  API_PATHS,
  errorBody,
  InitRequestSchema,
  MAX_RECOVER_REQUEST_BYTES,
  MAX_REQUEST_BYTES,
  RecoverRequestSchema,
} from "@asterism/api";
import { AsterismError, describeError } from "@asterism/errors";
import { type Logger, type MetricsRegistry, readBodyText } from "@asterism/service";
import { type Context, Hono } from "hono";
import * as v from "valibot";
import { BootstrapperError } from "./errors.ts";
import type { Node } from "./node.ts";
import type { Status } from "./node-files.ts";
import { approvalRefusalCode } from "./recovery-approval.ts";

/** Which listener an app instance serves: each gets only its own routes. */
export type Listener = "init" | "recovery" | "status";

/**
 * Recovery requests handled at once (body read, parse, the recovery itself). A recovery body may be up to
 * `MAX_RECOVER_REQUEST_BYTES` (8 MiB: it carries the owners' audit log), so this bounds what the listener
 * holds to 2 × 8 MiB plus their parsed form, and bounds the key derivations and LUKS key tests that
 * recovery attempts run; requests beyond it are answered 503 `BUSY` before a byte of their body is read.
 */
export const MAX_CONCURRENT_RECOVERIES = 2;
/** How long a recovery body may take to arrive once it holds a slot (below the aTLS 60 s request deadline). */
export const RECOVERY_BODY_TIMEOUT_MS = 20_000;
/** `Retry-After` of a `BUSY` recovery answer, in seconds. */
export const RECOVERY_RETRY_AFTER_SECONDS = 2;

/** Everything the bootstrapper's apps need. */
export interface BootstrapperAppDeps {
  readonly node: Pick<Node, "init" | "recover" | "recoveryChallenge">;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly status: () => Status;
  /** Bounds of the recovery listener (tests shrink them); defaults above. */
  readonly recoveryLimits?: { readonly maxConcurrent?: number; readonly bodyTimeoutMs?: number };
}

/** Status and message per refusal; messages are fixed text, never secrets or logs. */
const REFUSALS: Readonly<Record<string, readonly [number, string]>> = {
  INIT_SECRET_INVALID: [401, "init secret rejected"],
  NODE_ALREADY_ACTIVATED: [409, "the node is already being activated"],
  MASTER_SECRET_WRONG: [403, "the master secret does not open this node's disk"],
  OWNER_APPROVAL_REQUIRED: [403, "this node recorded cluster owners: recovery needs their approval"],
  OWNER_APPROVAL_INVALID: [403, "the owners' approval of this recovery does not verify"],
  INIT_FAILED: [500, "init failed after the node was locked; reboot the node"],
  RECOVERY_FAILED: [500, "recovery failed after the node was locked; reboot the node"],
  COMPONENT_HASH_MISSING: [400, "every Kubernetes component must be SHA-256 pinned"],
  COMPONENT_LIST_INVALID: [400, "the Kubernetes component list is invalid"],
  CONFIG_INVALID: [400, "the Kubernetes settings are invalid"],
  INVALID_REQUEST: [400, "the request does not match the API"],
  BODY_TIMEOUT: [408, "the request body did not arrive in time"],
  JOIN_POLICY_INVALID: [400, "the join policy is missing or unusable for this node"],
};

async function body<T>(
  c: Context,
  schema: v.GenericSchema<unknown, T>,
  maxBytes = MAX_REQUEST_BYTES,
  signal?: AbortSignal,
): Promise<T> {
  // Capped read: an oversized body is refused without being buffered (tests/load/abuse.test.ts).
  const read = await readBodyText(c.req.raw, maxBytes, signal ? { signal } : {});
  if (!read.ok)
    throw read.reason === "timeout"
      ? new BootstrapperError("BODY_TIMEOUT", "Request body did not arrive in time")
      : new BootstrapperError("INVALID_REQUEST", "Request body too large");
  const text = read.text;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BootstrapperError("INVALID_REQUEST", "Request body is not JSON");
  }
  const r = v.safeParse(schema, json);
  // Never echo the body: it holds the init secret and the master secret.
  if (!r.success)
    throw new BootstrapperError("INVALID_REQUEST", "Request body does not match the API", {
      actual: r.issues
        .map((i) => v.getDotPath(i) ?? "(root)")
        .join(", ")
        .slice(0, 200),
    });
  return r.output;
}

/**
 * The bootstrapper's HTTP surface, one instance per listener:
 * - `init` (server-attested aTLS): `POST /v1/init`;
 * - `recovery` (server-attested aTLS, control planes with an initialized disk): `POST /v1/recover`, at
 *   most {@link MAX_CONCURRENT_RECOVERIES} at once (the rest: 503 `BUSY` with `Retry-After`, body unread),
 *   each body within {@link RECOVERY_BODY_TIMEOUT_MS} (else 408 `BODY_TIMEOUT`);
 * - `status` (plain HTTP): `/healthz`, `/readyz`, `/metrics`, `/v1/status`.
 * A failed init-secret check answers 401 `INIT_SECRET_INVALID` and nothing else (Constellation streamed
 * the node's journal, reference §11 item 9); refusals are mapped here, in one place.
 */
export function createApp(deps: BootstrapperAppDeps, listener: Listener): Hono {
  const requests = deps.metrics.counter(
    "asterism_bootstrapper_requests_total",
    "Init and recovery requests by result",
  );
  const log = deps.logger;
  const app = new Hono();

  if (listener === "init") {
    app.post(API_PATHS.init, async (c) => {
      const req = await body(c, InitRequestSchema);
      const out = await deps.node.init(req);
      requests.inc({ route: "init", result: "ok" });
      log.log("info", "init.succeeded", { clusterId: out.clusterId });
      return c.json(out, 200, { "cache-control": "no-store" });
    });
  }
  if (listener === "recovery") {
    const maxConcurrent = deps.recoveryLimits?.maxConcurrent ?? MAX_CONCURRENT_RECOVERIES;
    const bodyTimeoutMs = deps.recoveryLimits?.bodyTimeoutMs ?? RECOVERY_BODY_TIMEOUT_MS;
    let inFlight = 0;
    app.post(API_PATHS.recoverChallenge, (c) =>
      c.json(deps.node.recoveryChallenge(), 200, { "cache-control": "no-store" }),
    );
    app.post(API_PATHS.recover, async (c) => {
      // Taken before any await, so the check and the increment cannot interleave with another request.
      if (inFlight >= maxConcurrent) {
        requests.inc({ route: "recovery", result: "BUSY" });
        log.log("warn", "recovery.busy", { inFlight, maxConcurrent });
        // Answered before a byte of the body is read; the aTLS adapter then closes the connection
        // instead of reading the rest (@asterism/atls serveAttested).
        return c.json(errorBody("BUSY", "other recovery requests are being handled; retry"), 503, {
          "retry-after": String(RECOVERY_RETRY_AFTER_SECONDS),
        });
      }
      inFlight++;
      try {
        // Larger cap: the request may carry the owners' audit log (docs/owner.md "Recovery").
        const req = await body(
          c,
          RecoverRequestSchema,
          MAX_RECOVER_REQUEST_BYTES,
          AbortSignal.timeout(bodyTimeoutMs),
        );
        const out = await deps.node.recover(req.masterSecret, req.ownerApproval);
        requests.inc({ route: "recover", result: "ok" });
        log.log("info", "recovery.succeeded", { clusterId: out.clusterId });
        return c.json(out);
      } finally {
        inFlight--;
      }
    });
  }
  if (listener === "status") {
    const ready = () => ["waiting", "rejoining", "done"].includes(deps.status().phase);
    app.get(API_PATHS.healthz, (c) => c.json({ status: "ok" }));
    app.get(API_PATHS.readyz, (c) =>
      ready() ? c.json({ status: "ready" }) : c.json({ status: "not ready" }, 503),
    );
    app.get(API_PATHS.metrics, (c) =>
      c.text(deps.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
    );
    app.get(API_PATHS.status, (c) => c.json(deps.status()));
  }
  app.notFound((c) => c.json(errorBody("NOT_FOUND", "no such route"), 404));
  app.onError((err, c) => {
    const route = listener;
    if (err instanceof AsterismError) {
      const refusal = REFUSALS[err.code];
      if (refusal !== undefined) {
        requests.inc({ route, result: err.code });
        // The init-secret failure is logged as a fact only: no secret, no detail, no stream of logs.
        log.log(refusal[0] >= 500 ? "error" : "warn", `${route}.refused`, {
          code: err.code,
          ...(err.code === "INIT_SECRET_INVALID" || err.domain === "keys"
            ? {}
            : { reason: err.message.slice(0, 300) }),
        });
        // An invalid owner approval names its reason: a closed code from @asterism/owner, never input.
        const reason =
          err.code === "OWNER_APPROVAL_INVALID" ? approvalRefusalCode(err as BootstrapperError) : undefined;
        return c.json(
          errorBody(err.code, reason ? `${refusal[1]} (${reason})` : refusal[1]),
          refusal[0] as 400,
        );
      }
      if (err.domain === "keys") {
        // A master secret or salt of the wrong size: the key layer's message could describe the secret.
        requests.inc({ route, result: "INVALID_REQUEST" });
        return c.json(errorBody("INVALID_REQUEST", "the master secret or salt is unusable"), 400);
      }
    }
    requests.inc({ route, result: "error" });
    log.log("error", `${route}.failed`, { error: describeError(err) });
    return c.json(errorBody("INTERNAL", "internal error"), 500);
  });
  return app;
}
