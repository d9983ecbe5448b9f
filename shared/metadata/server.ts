import { constantTimeEqual, utf8 } from "@asterism/bytes";
import * as v from "valibot";
import {
  ClusterSchema,
  type Instance,
  NODE_HEADER,
  NodeNameSchema,
  PutInstanceSchema,
  type Self,
} from "./schema.ts";

/** Options of {@link serveMetadata}. */
export interface MetadataServerOptions {
  /** Bearer token of the launcher (the only writer). At least 16 characters. */
  readonly launcherToken: string;
  /** bcrypt hash of the init secret, as the CLI registered it ("" until set). */
  readonly initSecretHash?: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** Instances known from the start. */
  readonly instances?: readonly Instance[];
}

/** A running metadata service. */
export interface MetadataServer {
  readonly url: string;
  readonly port: number;
  /** The current instance list (for the launcher's own use). */
  instances(): Instance[];
  close(): Promise<void>;
}

/** Bodies are tiny JSON objects. */
const MAX_BODY_BYTES = 16 * 1024;
/** A cloud IMDS has a bounded instance count too; this keeps a runaway launcher from eating memory. */
const MAX_INSTANCES = 1024;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function error(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message } });
}

async function readJson(req: Request): Promise<unknown> {
  const len = Number(req.headers.get("content-length") ?? "0");
  if (len > MAX_BODY_BYTES) return undefined;
  const text = await req.text();
  if (text.length > MAX_BODY_BYTES) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The local cluster's instance metadata service (docs/lifecycle.md §2), the stand-in for a cloud's IMDS:
 * nodes read who they are (`GET /v1/self`, named by the `X-Asterism-Node` header the launcher sets) and
 * which instances exist; only the launcher (bearer token) registers instances and the init-secret hash.
 *
 * In the local cluster the header is self-asserted, as every process on the host is trusted by
 * construction; what a node claims here only becomes its identity through the PCR 16 event it measures,
 * and the JoinService cross-checks that event against this list.
 *
 * @example
 * const md = await serveMetadata({ launcherToken, initSecretHash: await Bun.password.hash(secret, "bcrypt") });
 * await createMetadataClient({ url: md.url }).putInstance(launcherToken, "cp-0", { role: "control-plane", ips: ["127.0.0.1"] });
 */
export async function serveMetadata(opts: MetadataServerOptions): Promise<MetadataServer> {
  if (opts.launcherToken.length < 16)
    throw new Error("serveMetadata: launcherToken must have at least 16 characters");
  const token = utf8(`Bearer ${opts.launcherToken}`);
  let initSecretHash = opts.initSecretHash ?? "";
  if (initSecretHash !== "") v.parse(ClusterSchema, { initSecretHash });
  const instances = new Map<string, Instance>((opts.instances ?? []).map((i) => [i.name, i]));

  const authorized = (req: Request) => constantTimeEqual(utf8(req.headers.get("authorization") ?? ""), token);
  const list = () => [...instances.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const server = Bun.serve({
    hostname: opts.host ?? "127.0.0.1",
    port: opts.port ?? 0,
    async fetch(req) {
      const url = new URL(req.url);
      const path = url.pathname;
      if (req.method === "GET" && path === "/healthz") return json(200, { status: "ok" });
      if (req.method === "GET" && path === "/v1/instances") return json(200, list());
      if (req.method === "GET" && path === "/v1/self") {
        const name = req.headers.get(NODE_HEADER) ?? "";
        const inst = instances.get(name);
        if (!inst) return error(404, "NOT_FOUND", "no instance with this name");
        const self: Self = { name: inst.name, role: inst.role, ips: inst.ips, initSecretHash };
        return json(200, self);
      }
      const m = /^\/v1\/instances\/([^/]+)$/.exec(path);
      if (m && (req.method === "PUT" || req.method === "DELETE")) {
        if (!authorized(req)) return error(401, "UNAUTHORIZED", "launcher token required");
        const name = v.safeParse(NodeNameSchema, decodeURIComponent(m[1] as string));
        if (!name.success) return error(400, "INVALID_REQUEST", "invalid instance name");
        if (req.method === "DELETE") {
          instances.delete(name.output);
          return new Response(null, { status: 204 });
        }
        const body = v.safeParse(PutInstanceSchema, await readJson(req));
        if (!body.success) return error(400, "INVALID_REQUEST", "body must be {role, ips, endpoints?}");
        if (!instances.has(name.output) && instances.size >= MAX_INSTANCES)
          return error(400, "INVALID_REQUEST", "too many instances");
        const inst: Instance = { name: name.output, ...body.output };
        instances.set(inst.name, inst);
        return json(200, inst);
      }
      if (req.method === "PUT" && path === "/v1/cluster") {
        if (!authorized(req)) return error(401, "UNAUTHORIZED", "launcher token required");
        const body = v.safeParse(ClusterSchema, await readJson(req));
        if (!body.success) return error(400, "INVALID_REQUEST", "body must be {initSecretHash: <bcrypt>}");
        initSecretHash = body.output.initSecretHash;
        return json(200, { initSecretHash });
      }
      return error(404, "NOT_FOUND", "no such route");
    },
  });
  const port = server.port as number;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}`,
    port,
    instances: list,
    close: async () => {
      await server.stop(true);
    },
  };
}
