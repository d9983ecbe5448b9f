import { apiVersionOf, RESOURCES, type ResourceInfo } from "@asterism/kube-apply";
import { parse as parseYaml } from "yaml";
import { ObjectStore, StatusFailure } from "./store.ts";

/** TLS for the test server; with `requireClientCert` the handshake fails without a certificate from `ca`. */
export interface TestApiServerTls {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
  readonly requireClientCert?: boolean;
}

export interface TestApiServerOptions {
  readonly tls?: TestApiServerTls;
  /** When set, every request must carry `Authorization: Bearer <token>` (401 otherwise). */
  readonly token?: string;
  /**
   * Bearer token → user name (e.g. `system:serviceaccount:<ns>:<name>`), read on every request, so a test
   * can rotate a token by changing the map. When set, a request without a known token is 401.
   */
  readonly users?: ReadonlyMap<string, string>;
  /**
   * Authorization of every resource request after authentication (the user is `anonymous` without
   * `users`); false is 403 `Forbidden`, as from the real RBAC authorizer.
   */
  readonly authorize?: (request: RequestAttributes) => boolean;
  /** Namespaces that exist from the start (default: default, kube-system, kube-public). */
  readonly namespaces?: readonly string[];
}

/**
 * What the API server's authorizer sees of a resource request (Kubernetes "request attributes"): the
 * verb is derived from the method as the real server does (GET of a collection is `list`, or `watch`
 * with `?watch=true`; DELETE of a collection is `deletecollection`).
 */
export interface RequestAttributes {
  readonly user: string;
  readonly verb: string;
  readonly apiGroup: string;
  readonly resource: string;
  /** Absent for cluster-scoped resources and for cluster-wide lists. */
  readonly namespace?: string;
  /** Absent for `create`, `list`, `watch` and `deletecollection`. */
  readonly name?: string;
}

/** One request as the server saw it, for assertions. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly contentType: string | null;
  /** Set (by the server, once routed) for resource requests that passed authentication. */
  attributes?: RequestAttributes;
  /** The HTTP status of the answer. */
  status?: number;
}

export interface TestApiServer {
  /** `http(s)://127.0.0.1:<port>`. */
  readonly url: string;
  readonly store: ObjectStore;
  readonly requests: RecordedRequest[];
  stop(): Promise<void>;
}

/** Largest request body accepted; rendered manifests are a few KiB each. */
const MAX_BODY_BYTES = 1 << 20;

const VERBS_NAMESPACED = ["create", "delete", "get", "list", "patch", "update"];

function status(
  code: number,
  reason: string,
  message: string,
  causes: { field: string; message: string }[] = [],
) {
  return Response.json(
    {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      code,
      ...(causes.length > 0 ? { details: { causes } } : {}),
    },
    { status: code },
  );
}

function groupVersions(): Map<string, ResourceInfo[]> {
  const m = new Map<string, ResourceInfo[]>();
  for (const r of RESOURCES) {
    const gv = apiVersionOf(r);
    m.set(gv, [...(m.get(gv) ?? []), r]);
  }
  return m;
}

function resourceList(gv: string, resources: ResourceInfo[]) {
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: gv,
    resources: resources.map((r) => ({
      name: r.plural,
      singularName: r.kind.toLowerCase(),
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: VERBS_NAMESPACED,
    })),
  };
}

function discovery(path: string): Response | undefined {
  const gvs = groupVersions();
  if (path === "/version")
    return Response.json({
      major: "1",
      minor: "33",
      gitVersion: "v1.33.0-asterism-test",
      platform: "linux/amd64",
    });
  if (path === "/api")
    return Response.json({ kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] });
  if (path === "/apis") {
    const groups = [...new Set(RESOURCES.filter((r) => r.group !== "").map((r) => r.group))].map((name) => {
      const versions = [...new Set(RESOURCES.filter((r) => r.group === name).map((r) => r.version))].map(
        (version) => ({
          groupVersion: `${name}/${version}`,
          version,
        }),
      );
      return { name, versions, preferredVersion: versions[0] };
    });
    return Response.json({ kind: "APIGroupList", apiVersion: "v1", groups });
  }
  if (path === "/api/v1") return Response.json(resourceList("v1", gvs.get("v1") ?? []));
  const m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
  if (m !== null) {
    const gv = `${m[1]}/${m[2]}`;
    const list = gvs.get(gv);
    return list === undefined ? undefined : Response.json(resourceList(gv, list));
  }
  return undefined;
}

interface Target {
  readonly resource: ResourceInfo;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

/** Maps `/api/v1/...` and `/apis/<g>/<v>/...` to a resource, namespace and name. */
function route(path: string): Target | undefined {
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.+)$/.exec(path);
  if (m === null) return undefined;
  const group = m[2] ?? "";
  const version = m[1] ?? m[3] ?? "";
  const segs = (m[4] ?? "").split("/").map(decodeURIComponent);
  let namespace: string | undefined;
  let rest = segs;
  if (segs[0] === "namespaces" && segs.length >= 3) {
    namespace = segs[1];
    rest = segs.slice(2);
  }
  if (rest.length < 1 || rest.length > 2) return undefined;
  const resource = RESOURCES.find((r) => r.group === group && r.version === version && r.plural === rest[0]);
  if (resource === undefined) return undefined;
  if (namespace !== undefined && !resource.namespaced) return undefined;
  return { resource, namespace, name: rest[1] };
}

/** `a=b,c!=d,e,!f` equality-based label selectors; anything else is a 400. */
function parseSelector(text: string | null): (labels: Record<string, string>) => boolean {
  if (text === null || text === "") return () => true;
  const terms = text.split(",").map((t) => t.trim());
  const tests = terms.map((t) => {
    let m = /^([^!=]+)!=(.*)$/.exec(t);
    if (m !== null) return (l: Record<string, string>) => l[m![1]!] !== m![2];
    m = /^([^!=]+)==?(.*)$/.exec(t);
    if (m !== null) return (l: Record<string, string>) => l[m![1]!] === m![2];
    if (/^![^!=]+$/.test(t)) return (l: Record<string, string>) => !(t.slice(1) in l);
    if (/^[^!=]+$/.test(t)) return (l: Record<string, string>) => t in l;
    throw new StatusFailure(400, "BadRequest", `unable to parse requirement: ${t}`);
  });
  return (labels) => tests.every((f) => f(labels));
}

async function readBody(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.length > MAX_BODY_BYTES)
    throw new StatusFailure(413, "RequestEntityTooLarge", "request body too large");
  if (text === "") return undefined;
  const type = req.headers.get("content-type") ?? "";
  try {
    return type.startsWith("application/apply-patch+yaml")
      ? parseYaml(text, { version: "1.1" })
      : JSON.parse(text);
  } catch {
    throw new StatusFailure(400, "BadRequest", "the request body could not be decoded");
  }
}

/** Like the real decoder, POST/PUT bodies without apiVersion/kind default to the endpoint's type. */
function withTypeMeta(body: unknown, r: ResourceInfo): unknown {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return body;
  return { apiVersion: apiVersionOf(r), kind: r.kind, ...body };
}

/** The authorizer's view of a routed request (see {@link RequestAttributes}). */
function attributesOf(user: string, method: string, url: URL, t: Target): RequestAttributes {
  const watch = ["true", "1"].includes(url.searchParams.get("watch") ?? "");
  const verb =
    method === "GET"
      ? t.name !== undefined
        ? "get"
        : watch
          ? "watch"
          : "list"
      : method === "POST"
        ? "create"
        : method === "PUT"
          ? "update"
          : method === "PATCH"
            ? "patch"
            : method === "DELETE"
              ? t.name !== undefined
                ? "delete"
                : "deletecollection"
              : method.toLowerCase();
  return {
    user,
    verb,
    apiGroup: t.resource.group,
    resource: t.resource.plural,
    ...(t.namespace === undefined ? {} : { namespace: t.namespace }),
    ...(t.name === undefined || verb === "create" ? {} : { name: t.name }),
  };
}

async function handle(
  store: ObjectStore,
  req: Request,
  url: URL,
  user: string,
  options: TestApiServerOptions,
  record: RecordedRequest,
): Promise<Response> {
  const found = discovery(url.pathname);
  if (found !== undefined && req.method === "GET") return found;
  const t = route(url.pathname);
  if (t === undefined) return status(404, "NotFound", "the server could not find the requested resource");
  const attributes = attributesOf(user, req.method, url, t);
  record.attributes = attributes;
  if (options.authorize !== undefined && !options.authorize(attributes))
    return status(
      403,
      "Forbidden",
      `${attributes.resource} is forbidden: User "${user}" cannot ${attributes.verb} resource "${attributes.resource}"`,
    );
  const { resource: r, namespace, name } = t;
  if (r.namespaced && namespace === undefined && !(req.method === "GET" && name === undefined))
    return status(404, "NotFound", "the server could not find the requested resource");
  switch (req.method) {
    case "GET": {
      if (name !== undefined) return Response.json(store.get(r, namespace, name));
      const { items, resourceVersion } = store.list(
        r,
        namespace,
        parseSelector(url.searchParams.get("labelSelector")),
      );
      // Items of a typed list carry no apiVersion/kind, as from a real API server.
      const bare = items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
      return Response.json({
        kind: `${r.kind}List`,
        apiVersion: apiVersionOf(r),
        metadata: { resourceVersion },
        items: bare,
      });
    }
    case "POST": {
      if (name !== undefined) return status(405, "MethodNotAllowed", "POST to a named object");
      return Response.json(store.create(r, namespace, withTypeMeta(await readBody(req), r)), { status: 201 });
    }
    case "PUT": {
      if (name === undefined) return status(405, "MethodNotAllowed", "PUT to a collection");
      return Response.json(store.update(r, namespace, name, withTypeMeta(await readBody(req), r)));
    }
    case "PATCH": {
      if (name === undefined) return status(405, "MethodNotAllowed", "PATCH to a collection");
      const type = (req.headers.get("content-type") ?? "").split(";")[0]?.trim();
      if (type === "application/apply-patch+yaml") {
        const manager = url.searchParams.get("fieldManager");
        if (manager === null || manager === "")
          return status(400, "BadRequest", "PATCH, fieldManager is required for apply requests");
        const force = url.searchParams.get("force") === "true";
        const out = store.apply(r, namespace, name, await readBody(req), manager, force);
        return Response.json(out.object, { status: out.created ? 201 : 200 });
      }
      if (type === "application/merge-patch+json")
        return Response.json(store.mergePatch(r, namespace, name, await readBody(req)));
      return status(415, "UnsupportedMediaType", `the body of the request was in an unknown format: ${type}`);
    }
    case "DELETE": {
      if (name === undefined) return status(405, "MethodNotAllowed", "DELETE of a collection");
      const opts = await readBody(req);
      const pre = (opts as { preconditions?: { resourceVersion?: unknown } } | undefined)?.preconditions
        ?.resourceVersion;
      const deleted = store.delete(r, namespace, name, typeof pre === "string" ? pre : undefined);
      return Response.json({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name, kind: r.plural, uid: deleted.metadata.uid },
      });
    }
    default:
      return status(405, "MethodNotAllowed", `method ${req.method} not allowed`);
  }
}

/**
 * Starts the test Kubernetes API server on 127.0.0.1 (free port). Test-only: never shipped.
 *
 * @example
 * const api = await startTestApiServer();
 * try { ... fetch(`${api.url}/api/v1/namespaces`) ... } finally { await api.stop(); }
 */
export async function startTestApiServer(options: TestApiServerOptions = {}): Promise<TestApiServer> {
  const store = new ObjectStore(options.namespaces ?? ["default", "kube-system", "kube-public"]);
  const requests: RecordedRequest[] = [];
  const tls = options.tls;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    ...(tls === undefined
      ? {}
      : {
          tls: {
            cert: tls.cert,
            key: tls.key,
            ...(tls.ca === undefined ? {} : { ca: tls.ca }),
            requestCert: tls.requireClientCert ?? false,
            rejectUnauthorized: tls.requireClientCert ?? false,
          },
        }),
    async fetch(req) {
      const url = new URL(req.url);
      const record: RecordedRequest = {
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        contentType: req.headers.get("content-type"),
      };
      requests.push(record);
      const answer = (res: Response) => {
        record.status = res.status;
        return res;
      };
      const bearer = /^Bearer (.+)$/.exec(req.headers.get("authorization") ?? "")?.[1];
      if (options.token !== undefined && bearer !== options.token)
        return answer(status(401, "Unauthorized", "Unauthorized"));
      let user = "anonymous";
      if (options.users !== undefined) {
        const known = bearer === undefined ? undefined : options.users.get(bearer);
        if (known === undefined) return answer(status(401, "Unauthorized", "Unauthorized"));
        user = known;
      }
      try {
        return answer(await handle(store, req, url, user, options, record));
      } catch (err) {
        if (err instanceof StatusFailure)
          return answer(status(err.code, err.reason, err.message, err.causes));
        return answer(status(500, "InternalError", "internal error"));
      }
    },
  });
  return {
    url: `${tls === undefined ? "http" : "https"}://127.0.0.1:${server.port}`,
    store,
    requests,
    stop: () => server.stop(true),
  };
}
