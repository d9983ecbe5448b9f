import { readFileSync } from "node:fs";
import { fromBase64, toBase64 } from "@asterism/bytes";
import {
  ApiException,
  CoreV1Api,
  createConfiguration,
  type RequestContext,
  ResponseContext,
  ServerConfiguration,
  type V1ConfigMap,
  type V1Secret,
  wrapHttpLibrary,
} from "@kubernetes/client-node";
import { StateError } from "./errors.ts";
import { type ClusterState, checkObject, type ObjectKind, type StoredObject } from "./types.ts";

/** How to reach the API server. Material is PEM text; a token is the ServiceAccount bearer token. */
export interface KubeConnection {
  readonly server: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly token?: string;
  /**
   * A file holding the bearer token, re-read for every request (instead of `token`). A pod's projected
   * ServiceAccount token expires and is rotated in place by the kubelet, so a token read once at start
   * would stop working; client-go re-reads it for the same reason.
   */
  readonly tokenFile?: string;
  readonly namespace: string;
  /** Injected for tests; Bun's fetch by default. */
  readonly fetch?: typeof fetch;
}

/**
 * An HTTP layer for @kubernetes/client-node on Bun's own `fetch`. Under Bun the client's default layer
 * silently ignores its TLS settings (CA, client certificate): Bun stubs the `undici` Agent it relies on
 * (reference/toolchain.md §2). Bun's `fetch(url, { tls })` honours them, so every request goes here.
 */
export function bunFetchHttpLibrary(conn: KubeConnection) {
  const doFetch = conn.fetch ?? fetch;
  const tls =
    conn.ca || conn.cert
      ? {
          ...(conn.ca ? { ca: conn.ca } : {}),
          ...(conn.cert ? { cert: conn.cert } : {}),
          ...(conn.key ? { key: conn.key } : {}),
        }
      : undefined;
  return wrapHttpLibrary({
    async send(req: RequestContext): Promise<ResponseContext> {
      const headers: Record<string, string> = { ...req.getHeaders() };
      const token = conn.tokenFile === undefined ? conn.token : readToken(conn.tokenFile);
      if (token) headers["Authorization"] = `Bearer ${token}`;
      const body = req.getBody();
      const signal = req.getSignal();
      const res = await doFetch(req.getUrl(), {
        method: req.getHttpMethod(),
        headers,
        ...(body === undefined ? {} : { body: body as BodyInit }),
        ...(signal ? { signal } : {}),
        ...(tls ? { tls } : {}),
      } as RequestInit);
      const buf = Buffer.from(await res.arrayBuffer());
      const out: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        out[k] = v;
      });
      return new ResponseContext(res.status, out, {
        text: async () => buf.toString("utf8"),
        binary: async () => buf,
        stream: () => null,
      });
    },
  });
}

/** The bearer token in `path` (trailing newline dropped); unreadable is `BACKEND_UNAVAILABLE`, naming the path only. */
function readToken(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (cause) {
    throw new StateError("BACKEND_UNAVAILABLE", "Cannot read the API token", {
      expected: `a readable token file ${path}`,
      actual: (cause as NodeJS.ErrnoException).code ?? "unreadable",
      cause,
    });
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });
function asText(b: Uint8Array): string | undefined {
  try {
    return decoder.decode(b);
  } catch {
    return undefined;
  }
}

function unavailable(action: string, err: unknown): StateError {
  const status =
    err instanceof ApiException
      ? `HTTP ${err.code}`
      : err instanceof Error
        ? err.message.slice(0, 200)
        : String(err);
  return new StateError("BACKEND_UNAVAILABLE", action, { actual: status, cause: err });
}

/**
 * Cluster state in Kubernetes: `secret` objects are Secrets (type Opaque), `config` objects are
 * ConfigMaps (`data` for UTF-8 values, `binaryData` otherwise), all in one namespace. Versions are
 * resourceVersions, so compare-and-swap is the API server's own optimistic concurrency (409 Conflict).
 */
export function kubernetesState(conn: KubeConnection): ClusterState {
  const config = createConfiguration({
    baseServer: new ServerConfiguration(conn.server.replace(/\/$/, ""), {}),
    httpApi: bunFetchHttpLibrary(conn),
    authMethods: {},
  });
  const api = new CoreV1Api(config);
  const namespace = conn.namespace;

  const toObject = (kind: ObjectKind, o: V1Secret | V1ConfigMap): StoredObject => {
    const data: Record<string, Uint8Array> = {};
    if (kind === "secret") {
      for (const [k, v] of Object.entries((o as V1Secret).data ?? {})) data[k] = fromBase64(v);
    } else {
      const cm = o as V1ConfigMap;
      for (const [k, v] of Object.entries(cm.data ?? {})) data[k] = new TextEncoder().encode(v);
      for (const [k, v] of Object.entries(cm.binaryData ?? {})) data[k] = fromBase64(v);
    }
    return {
      kind,
      name: o.metadata?.name ?? "",
      labels: o.metadata?.labels ?? {},
      version: o.metadata?.resourceVersion ?? "",
      data,
    };
  };

  const toBody = (
    kind: ObjectKind,
    name: string,
    data: Record<string, Uint8Array>,
    labels: Record<string, string> | undefined,
    resourceVersion?: string,
  ): V1Secret | V1ConfigMap => {
    const metadata = {
      name,
      namespace,
      ...(labels ? { labels } : {}),
      ...(resourceVersion ? { resourceVersion } : {}),
    };
    if (kind === "secret") {
      return {
        apiVersion: "v1",
        kind: "Secret",
        type: "Opaque",
        metadata,
        data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, toBase64(v)])),
      };
    }
    const text: Record<string, string> = {};
    const binary: Record<string, string> = {};
    for (const [k, v] of Object.entries(data)) {
      const t = asText(v);
      if (t === undefined) binary[k] = toBase64(v);
      else text[k] = t;
    }
    return {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata,
      data: text,
      ...(Object.keys(binary).length ? { binaryData: binary } : {}),
    };
  };

  const read = async (kind: ObjectKind, name: string) => {
    try {
      return kind === "secret"
        ? await api.readNamespacedSecret({ name, namespace })
        : await api.readNamespacedConfigMap({ name, namespace });
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw unavailable(`Cannot read ${kind} ${name}`, err);
    }
  };

  return {
    async get(kind, name) {
      checkObject(name);
      const o = await read(kind, name);
      return o ? toObject(kind, o) : undefined;
    },
    async create(kind, name, data, labels = {}) {
      checkObject(name, data, labels);
      try {
        const body = toBody(kind, name, data, labels);
        const o =
          kind === "secret"
            ? await api.createNamespacedSecret({ namespace, body: body as V1Secret })
            : await api.createNamespacedConfigMap({ namespace, body: body as V1ConfigMap });
        return toObject(kind, o);
      } catch (err) {
        if (err instanceof ApiException && err.code === 409)
          throw new StateError("ALREADY_EXISTS", `Cannot create ${kind} ${name}`, {
            expected: "a free name",
            actual: "it exists",
            cause: err,
          });
        throw unavailable(`Cannot create ${kind} ${name}`, err);
      }
    },
    async update(kind, name, data, expectedVersion) {
      checkObject(name, data);
      const current = await read(kind, name);
      if (!current)
        throw new StateError("NOT_FOUND", `Cannot update ${kind} ${name}`, {
          expected: "an existing object",
          actual: "none",
        });
      try {
        const body = toBody(kind, name, data, current.metadata?.labels, expectedVersion);
        const o =
          kind === "secret"
            ? await api.replaceNamespacedSecret({ name, namespace, body: body as V1Secret })
            : await api.replaceNamespacedConfigMap({ name, namespace, body: body as V1ConfigMap });
        return toObject(kind, o);
      } catch (err) {
        if (err instanceof ApiException && err.code === 409) {
          throw new StateError("CONFLICT", `Cannot update ${kind} ${name}`, {
            expected: `version ${expectedVersion}`,
            actual: "a newer version",
            cause: err,
          });
        }
        if (err instanceof ApiException && err.code === 404)
          throw new StateError("NOT_FOUND", `Cannot update ${kind} ${name}`, {
            expected: "an existing object",
            actual: "none",
            cause: err,
          });
        throw unavailable(`Cannot update ${kind} ${name}`, err);
      }
    },
    async delete(kind, name) {
      checkObject(name);
      try {
        if (kind === "secret") await api.deleteNamespacedSecret({ name, namespace });
        else await api.deleteNamespacedConfigMap({ name, namespace });
      } catch (err) {
        if (err instanceof ApiException && err.code === 404)
          throw new StateError("NOT_FOUND", `Cannot delete ${kind} ${name}`, {
            expected: "an existing object",
            actual: "none",
            cause: err,
          });
        throw unavailable(`Cannot delete ${kind} ${name}`, err);
      }
    },
    async list(kind, selector) {
      const labelSelector = Object.entries(selector ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
      try {
        const l =
          kind === "secret"
            ? await api.listNamespacedSecret({ namespace, ...(labelSelector ? { labelSelector } : {}) })
            : await api.listNamespacedConfigMap({ namespace, ...(labelSelector ? { labelSelector } : {}) });
        return (l.items as (V1Secret | V1ConfigMap)[])
          .map((o) => toObject(kind, o))
          .sort((a, b) => a.name.localeCompare(b.name));
      } catch (err) {
        throw unavailable(`Cannot list ${kind}s`, err);
      }
    },
  };
}
