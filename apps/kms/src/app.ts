import { toBase64, wipe } from "@asterism/bytes";
import { AsterismError, describeError } from "@asterism/errors";
import { isDataKeyId, KeysError, LOWER_UUID_RE, MAX_DATA_KEY_LENGTH } from "@asterism/keys";
import type { PeerAuth } from "@asterism/mtls";
import type { Logger } from "@asterism/service";
import { type Context, Hono } from "hono";
import * as v from "valibot";
import { KmsError } from "./errors.ts";
import type { KeySource } from "./key-source.ts";
import type { KmsMetrics } from "./metrics.ts";

/** Who may do what. Identities are SAN URIs such as `asterism://join-service`. */
export interface AccessPolicy {
  /** Identities allowed to fetch and create data keys (UUID ids). */
  readonly keyCallers: ReadonlySet<string>;
  /** Identities allowed to read /metrics. */
  readonly metricsCallers: ReadonlySet<string>;
  /**
   * Named (non-UUID) ids that may be served at all, each with the identities allowed to fetch it, e.g.
   * `measurementSecret` → JoinService only. Named ids not listed here are refused.
   */
  readonly namedKeys: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Everything {@link createApp} needs; nothing here is created by the app itself. */
export interface KmsAppDeps {
  readonly keys: KeySource;
  /** Structured logger (shared service logger); the KMS never passes key bytes to it. */
  readonly logger: Logger;
  /** Resolve the TLS peer of a request from the adapter's env (`c.env.incoming.socket`). */
  readonly authenticate: (env: unknown) => Promise<PeerAuth>;
  readonly policy: AccessPolicy;
  readonly metrics: KmsMetrics;
  readonly now: () => Date;
  /** Largest accepted request body in bytes (default 4 KiB; a request is ~100 bytes). */
  readonly maxBodyBytes?: number;
}

/**
 * `POST /v1/data-keys` body. `version` selects the data-key scheme (1: Constellation's derivation in
 * cluster mode, random HSM-wrapped keys in user mode). Shape only; id and length semantics are checked
 * by the key layer so that the error codes are specific.
 */
export const DataKeyRequestSchema = v.strictObject({
  id: v.pipe(v.string(), v.maxLength(128)),
  length: v.pipe(v.number(), v.integer()),
  version: v.optional(v.pipe(v.number(), v.integer())),
});
export type DataKeyRequest = v.InferOutput<typeof DataKeyRequestSchema>;

/** Response of both data-key routes. `key` is standard base64. */
export interface DataKeyResponse {
  readonly id: string;
  readonly length: number;
  readonly version: number;
  readonly key: string;
}

const DEFAULT_MAX_BODY = 4096;
const CURRENT_SCHEME = 1;
const LENGTH_QUERY_RE = /^[1-9][0-9]{0,3}$/;

type Env = { Bindings: Record<string, unknown>; Variables: { route: string } };

/** Statuses for every known domain error code; anything else is a 500 with no detail. */
const STATUS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  kms: {
    INVALID_JSON: 400,
    INVALID_REQUEST: 400,
    UNSUPPORTED_MEDIA_TYPE: 415,
    BODY_TOO_LARGE: 413,
    UNAUTHENTICATED: 401,
    FORBIDDEN: 403,
    NOT_FOUND: 404,
    INTERNAL: 500,
  },
  keys: {
    INVALID_KEY_ID: 400,
    INVALID_LENGTH: 400,
    UNKNOWN_KEY_VERSION: 400,
    UNKNOWN_PURPOSE: 400,
    LENGTH_MISMATCH: 409,
    INVALID_SECRET: 500,
    INVALID_MASTER_SECRET: 500,
  },
  keystore: { KEY_NOT_FOUND: 404, INVALID_STORE_KEY: 400, CORRUPT_RECORD: 500, IO_FAILED: 503 },
  kek: {
    HSM_UNAVAILABLE: 503,
    HSM_LOGIN_FAILED: 503,
    KEK_NOT_FOUND: 503,
    UNKNOWN_KEK_VERSION: 503,
    WRAP_FAILED: 503,
    UNWRAP_FAILED: 500,
    BINDING_MISMATCH: 500,
  },
};

/** Read at most `max` bytes of the body; more is BODY_TOO_LARGE (checked before and while reading). */
async function readBody(req: Request, max: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && (!/^[0-9]{1,15}$/.test(declared) || Number(declared) > max)) {
    throw new KmsError("BODY_TOO_LARGE", "Request body refused", { expected: `at most ${max} bytes` });
  }
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > max) {
      await reader.cancel().catch(() => undefined);
      throw new KmsError("BODY_TOO_LARGE", "Request body refused", { expected: `at most ${max} bytes` });
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function parseRequest(c: Context<Env>, max: number): Promise<DataKeyRequest> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new KmsError("UNSUPPORTED_MEDIA_TYPE", "Request body refused", { expected: "application/json" });
  }
  const raw = await readBody(c.req.raw, max);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch {
    throw new KmsError("INVALID_JSON", "Cannot parse request body", { expected: "UTF-8 JSON" });
  }
  const r = v.safeParse(DataKeyRequestSchema, json);
  if (!r.success) {
    // Paths and issue kinds only: never echo what was sent.
    const what = r.issues
      .slice(0, 5)
      .map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.type}`)
      .join("; ");
    throw new KmsError("INVALID_REQUEST", "Cannot read data-key request", {
      expected: '{"id": string, "length": integer, "version"?: integer}',
      actual: what,
    });
  }
  return r.output;
}

/** Semantics of id and length, before any key material is touched. */
function checkKeyRequest(id: string, length: number): void {
  if (!isDataKeyId(id)) {
    throw new KeysError("INVALID_KEY_ID", "Cannot serve data key", {
      expected: "a lower-case UUID or a named id",
      actual: id.length === 0 ? "empty id" : `${id.length} characters that do not match`,
    });
  }
  if (!Number.isInteger(length) || length < 1 || length > MAX_DATA_KEY_LENGTH) {
    throw new KeysError("INVALID_LENGTH", "Cannot serve data key", {
      expected: `1–${MAX_DATA_KEY_LENGTH} bytes`,
      actual: String(length),
    });
  }
}

/**
 * The KMS HTTP API. Every key route requires a verified client certificate whose identity the policy
 * allows; all failures are mapped to statuses in the single `onError` below.
 *
 * - `GET /healthz` — liveness (no auth, no detail).
 * - `GET /readyz` — 200 when keys can be served (HSM reachable), else 503 (no auth, no detail).
 * - `GET /metrics` — Prometheus text; metrics callers only.
 * - `GET /v1/data-keys/:id?length=N[&version=V]` — an existing key (user mode: 404 if never created).
 * - `POST /v1/data-keys` `{"id","length","version"?}` — the key, created first if needed.
 */
export function createApp(deps: KmsAppDeps): Hono<Env> {
  const maxBody = deps.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const app = new Hono<Env>();

  app.use(async (c, next) => {
    const start = performance.now();
    c.set("route", "unknown");
    await next();
    const route = c.get("route");
    deps.metrics.requests.inc({ route, status: String(c.res.status) });
    deps.metrics.latency.observe((performance.now() - start) / 1000, { route });
  });

  /** Authenticate the caller and check it against `allowed`; returns the identity. */
  async function requireCaller(c: Context<Env>, allowed: ReadonlySet<string>): Promise<string> {
    const peer = await deps.authenticate(c.env);
    if (peer.status !== "verified") {
      const reason = peer.status === "none" ? "NO_CERTIFICATE" : peer.reason;
      deps.metrics.authFailures.inc({ reason });
      deps.logger.log("warn", "kms.auth_refused", {
        reason,
        route: c.get("route"),
        time: deps.now().toISOString(),
      });
      throw new KmsError("UNAUTHENTICATED", "Client certificate required");
    }
    if (!allowed.has(peer.identity)) {
      deps.metrics.authFailures.inc({ reason: "IDENTITY_NOT_ALLOWED" });
      deps.logger.log("warn", "kms.auth_refused", {
        reason: "IDENTITY_NOT_ALLOWED",
        caller: peer.identity,
        route: c.get("route"),
        time: deps.now().toISOString(),
      });
      throw new KmsError("FORBIDDEN", "Caller not allowed");
    }
    return peer.identity;
  }

  function checkNamedKey(id: string, caller: string): void {
    if (LOWER_UUID_RE.test(id)) return;
    if (deps.policy.namedKeys.get(id)?.has(caller) !== true) {
      deps.metrics.authFailures.inc({ reason: "NAMED_KEY_NOT_ALLOWED" });
      deps.logger.log("warn", "kms.auth_refused", {
        reason: "NAMED_KEY_NOT_ALLOWED",
        caller,
        id,
        time: deps.now().toISOString(),
      });
      throw new KmsError("FORBIDDEN", "Caller not allowed");
    }
  }

  async function release(
    c: Context<Env>,
    caller: string,
    req: { id: string; length: number; version: number },
    create: boolean,
  ): Promise<Response> {
    const { key, created } = create
      ? await deps.keys.getOrCreate(req.id, req.length, req.version)
      : { key: await deps.keys.get(req.id, req.length, req.version), created: false };
    try {
      // Logged before the response leaves: id, caller, time; never the key.
      deps.logger.log("info", "kms.key_released", {
        id: req.id,
        length: req.length,
        version: req.version,
        caller,
        mode: deps.keys.mode,
        created,
        time: deps.now().toISOString(),
      });
      deps.metrics.releases.inc({ mode: deps.keys.mode, caller });
      if (created) deps.metrics.created.inc({ mode: deps.keys.mode });
      const body: DataKeyResponse = {
        id: req.id,
        length: req.length,
        version: req.version,
        key: toBase64(key),
      };
      c.header("cache-control", "no-store");
      return c.json(body, 200);
    } finally {
      wipe(key);
    }
  }

  app.get("/healthz", (c) => {
    c.set("route", "healthz");
    return c.json({ status: "ok" });
  });

  app.get("/readyz", async (c) => {
    c.set("route", "readyz");
    const ok = await deps.keys.ready().catch(() => false);
    return c.json({ status: ok ? "ready" : "not ready" }, ok ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    c.set("route", "metrics");
    await requireCaller(c, deps.policy.metricsCallers);
    return c.body(deps.metrics.registry.render(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });

  app.get("/v1/data-keys/:id", async (c) => {
    c.set("route", "get_data_key");
    const caller = await requireCaller(c, deps.policy.keyCallers);
    const id = c.req.param("id");
    const lengthText = c.req.query("length") ?? "";
    const versionText = c.req.query("version") ?? String(CURRENT_SCHEME);
    const length = LENGTH_QUERY_RE.test(lengthText) ? Number(lengthText) : Number.NaN;
    const version = /^[0-9]{1,9}$/.test(versionText) ? Number(versionText) : Number.NaN;
    checkKeyRequest(id, length);
    if (!Number.isInteger(version)) {
      throw new KeysError("UNKNOWN_KEY_VERSION", "Cannot serve data key", { expected: "an integer version" });
    }
    checkNamedKey(id, caller);
    return release(c, caller, { id, length, version }, false);
  });

  app.post("/v1/data-keys", async (c) => {
    c.set("route", "create_data_key");
    const caller = await requireCaller(c, deps.policy.keyCallers);
    const body = await parseRequest(c, maxBody);
    checkKeyRequest(body.id, body.length);
    checkNamedKey(body.id, caller);
    return release(
      c,
      caller,
      { id: body.id, length: body.length, version: body.version ?? CURRENT_SCHEME },
      true,
    );
  });

  app.notFound(() => {
    throw new KmsError("NOT_FOUND", "No such route");
  });

  // The one place errors become statuses. 4xx bodies say what was wrong with the request; 401/403 and
  // 5xx bodies carry only the code (failures leak nothing), the detail goes to the log.
  app.onError((err, c) => {
    const known = err instanceof AsterismError ? STATUS[err.domain]?.[err.code] : undefined;
    const status = known ?? 500;
    const domain = known === undefined ? "kms" : (err as AsterismError<string>).domain;
    const code = known === undefined ? "INTERNAL" : (err as AsterismError<string>).code;
    deps.metrics.errors.inc({ domain, code });
    if (status >= 500) {
      deps.logger.log("error", "kms.request_failed", {
        route: c.get("route"),
        domain,
        code,
        detail: describeError(err),
        time: deps.now().toISOString(),
      });
    }
    const body =
      status === 401 || status === 403 || status >= 500
        ? { domain, code }
        : (err as AsterismError<string>).toJSON();
    return c.json(body, status as 400);
  });

  return app;
}
