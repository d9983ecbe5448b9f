import * as v from "valibot";
import { KubeError } from "./errors.ts";

/** PEM material for the API server connection; passed to Bun's `fetch` as `tls`. */
export interface KubeTls {
  /** CA bundle that signs the API server certificate. */
  readonly ca?: string;
  /** Client certificate and key (mutual TLS), e.g. the bootstrapper's admin credentials. */
  readonly cert?: string;
  readonly key?: string;
}

/** `fetch` as the client uses it: Bun's, which honours `tls`. Injected so tests can wrap it. */
export type KubeFetch = (url: string, init: RequestInit & { tls?: KubeTls }) => Promise<Response>;

/** Where and how to reach the API server. */
export interface KubeClientOptions {
  /** `https://host:port` (or `http://127.0.0.1:port` for the test server); no trailing path. */
  readonly server: string;
  readonly tls?: KubeTls;
  /** Bearer token (a ServiceAccount token in-cluster). Never logged. */
  readonly token?: string;
  readonly fetch?: KubeFetch;
  /** Per-request timeout; bounded so a hung API server cannot stall init forever. */
  readonly timeoutMs?: number;
}

/** One request to the API server. */
export interface KubeRequest {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly contentType?: string;
}

/** A narrow REST client; `request` resolves for 2xx and throws {@link KubeError} otherwise. */
export interface KubeClient {
  request(req: KubeRequest): Promise<unknown>;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The `Status` object the API server returns on failure (only the fields we report). */
const StatusSchema = v.looseObject({
  kind: v.literal("Status"),
  reason: v.optional(v.string()),
  message: v.optional(v.string()),
});

function statusCode(status: number): "NOT_FOUND" | "CONFLICT" | "API_ERROR" {
  if (status === 404) return "NOT_FOUND";
  if (status === 409) return "CONFLICT";
  return "API_ERROR";
}

/**
 * A Kubernetes REST client on Bun's `fetch`. It exists because @kubernetes/client-node ignores its CA and
 * client-certificate settings under Bun (reference/toolchain.md §2); Bun's own `fetch` sends the client
 * certificate and checks the server against `tls.ca`.
 *
 * @example
 * const kube = createKubeClient({ server: "https://10.0.0.1:6443", tls: { ca, cert, key } });
 * await kube.request({ method: "GET", path: "/api/v1/namespaces/kube-system/configmaps/kubeadm-config" });
 */
export function createKubeClient(options: KubeClientOptions): KubeClient {
  const doFetch: KubeFetch = options.fetch ?? ((url, init) => fetch(url, init));
  const base = options.server.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    async request(req: KubeRequest): Promise<unknown> {
      const url = new URL(base + req.path);
      for (const [k, val] of Object.entries(req.query ?? {})) url.searchParams.set(k, val);
      const headers: Record<string, string> = { accept: "application/json" };
      if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`;
      if (req.body !== undefined) headers["content-type"] = req.contentType ?? "application/json";
      const action = `${req.method} ${req.path}`;
      let res: Response;
      try {
        res = await doFetch(url.toString(), {
          method: req.method,
          headers,
          body: req.body === undefined ? undefined : JSON.stringify(req.body),
          signal: AbortSignal.timeout(timeoutMs),
          redirect: "error",
          ...(options.tls === undefined ? {} : { tls: options.tls }),
        });
      } catch (cause) {
        throw new KubeError("TRANSPORT", `Cannot reach the Kubernetes API server for ${action}`, { cause });
      }
      const text = await res.text();
      let json: unknown;
      try {
        json = text === "" ? undefined : JSON.parse(text);
      } catch (cause) {
        if (res.ok)
          throw new KubeError("INVALID_RESPONSE", action, { expected: "JSON", cause, status: res.status });
      }
      if (res.ok) return json;
      const status = v.safeParse(StatusSchema, json);
      const detail = status.success
        ? `${res.status} ${status.output.reason ?? ""}: ${status.output.message ?? ""}`
        : `${res.status}`;
      throw new KubeError(statusCode(res.status), action, {
        expected: "2xx",
        actual: detail,
        status: res.status,
      });
    },
  };
}
