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

/** Everything the bootstrapper's apps need. */
export interface BootstrapperAppDeps {
  readonly node: Pick<Node, "init" | "recover" | "recoveryChallenge">;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly status: () => Status;
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
  JOIN_POLICY_INVALID: [400, "the join policy is missing or unusable for this node"],
};

async function body<T>(
  c: Context,
  schema: v.GenericSchema<unknown, T>,
  maxBytes = MAX_REQUEST_BYTES,
): Promise<T> {
  // Capped read: an oversized body is refused without being buffered (tests/load/abuse.test.ts).
  const read = await readBodyText(c.req.raw, maxBytes);
  if (!read.ok) throw new BootstrapperError("INVALID_REQUEST", "Request body too large");
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
 * - `recovery` (server-attested aTLS, control planes with an initialized disk): `POST /v1/recover`;
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
    app.post(API_PATHS.recoverChallenge, (c) =>
      c.json(deps.node.recoveryChallenge(), 200, { "cache-control": "no-store" }),
    );
    app.post(API_PATHS.recover, async (c) => {
      // Larger cap: the request may carry the owners' audit log (docs/owner.md "Recovery").
      const req = await body(c, RecoverRequestSchema, MAX_RECOVER_REQUEST_BYTES);
      const out = await deps.node.recover(req.masterSecret, req.ownerApproval);
      requests.inc({ route: "recover", result: "ok" });
      log.log("info", "recovery.succeeded", { clusterId: out.clusterId });
      return c.json(out);
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
