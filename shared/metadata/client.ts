import * as v from "valibot";
import { MetadataError } from "./errors.ts";
import {
  type Instance,
  InstanceSchema,
  NODE_HEADER,
  type PutInstance,
  type Self,
  SelfSchema,
} from "./schema.ts";

/** Options of {@link createMetadataClient}. */
export interface MetadataClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:41000`. */
  readonly url: string;
  /** This node's name, sent as `X-Asterism-Node` (local cluster). */
  readonly nodeName?: string;
  readonly fetch?: (url: string, init?: RequestInit) => Promise<Response>;
  /** Per-request timeout (default 5 s). */
  readonly timeoutMs?: number;
}

/** The metadata client every node service and the launcher use. */
export interface MetadataClient {
  /** Who this node is (needs `nodeName` in the local cluster). */
  self(): Promise<Self>;
  instances(): Promise<Instance[]>;
  /** Launcher only: register or update an instance. */
  putInstance(token: string, name: string, body: PutInstance): Promise<Instance>;
  /** Launcher only: set the bcrypt hash of the init secret. */
  setInitSecretHash(token: string, hash: string): Promise<void>;
  deleteInstance(token: string, name: string): Promise<void>;
}

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** A client for `@asterism/metadata`'s service (docs/lifecycle.md §2). Every failure is a coded MetadataError. */
export function createMetadataClient(opts: MetadataClientOptions): MetadataClient {
  const base = opts.url.replace(/\/+$/, "");
  const doFetch = opts.fetch ?? ((u: string, i?: RequestInit) => fetch(u, i));
  const timeoutMs = opts.timeoutMs ?? 5000;

  async function call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new MetadataError("UNAVAILABLE", `Cannot reach the metadata service (${method} ${path})`, {
        cause,
      });
    }
    if (res.status === 404) throw new MetadataError("NOT_FOUND", `Metadata ${path} not found`);
    if (res.status === 401)
      throw new MetadataError("UNAUTHORIZED", "The metadata service refused the launcher token");
    if (res.status === 400)
      throw new MetadataError("INVALID_REQUEST", `The metadata service refused ${method} ${path}`);
    if (!res.ok)
      throw new MetadataError("UNAVAILABLE", `Metadata ${method} ${path} failed`, {
        actual: `HTTP ${res.status}`,
      });
    if (res.status === 204) return undefined;
    const text = await res.text();
    if (text.length > MAX_RESPONSE_BYTES)
      throw new MetadataError("INVALID_RESPONSE", "Metadata answer too large", {
        actual: `${text.length} bytes`,
      });
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new MetadataError("INVALID_RESPONSE", "Metadata answer is not JSON", { cause });
    }
  }

  function shape<T>(schema: v.GenericSchema<unknown, T>, value: unknown, what: string): T {
    const r = v.safeParse(schema, value);
    if (!r.success)
      throw new MetadataError("INVALID_RESPONSE", `Unexpected metadata ${what}`, {
        actual: r.issues
          .map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.message}`)
          .join("; ")
          .slice(0, 200),
      });
    return r.output;
  }

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  return {
    async self() {
      const headers: Record<string, string> = opts.nodeName ? { [NODE_HEADER]: opts.nodeName } : {};
      return shape(SelfSchema, await call("GET", "/v1/self", headers), "self");
    },
    async instances() {
      return shape(
        v.pipe(v.array(InstanceSchema), v.maxLength(1024)),
        await call("GET", "/v1/instances", {}),
        "instances",
      );
    },
    async putInstance(token, name, body) {
      return shape(
        InstanceSchema,
        await call("PUT", `/v1/instances/${encodeURIComponent(name)}`, bearer(token), body),
        "instance",
      );
    },
    async setInitSecretHash(token, hash) {
      await call("PUT", "/v1/cluster", bearer(token), { initSecretHash: hash });
    },
    async deleteInstance(token, name) {
      await call("DELETE", `/v1/instances/${encodeURIComponent(name)}`, bearer(token));
    },
  };
}
