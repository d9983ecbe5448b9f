import http from "node:http";
import { Readable } from "node:stream";
import { type AtlsClientOptions, type AttestedConnection, connectAttested } from "./client.ts";
import { AtlsError } from "./errors.ts";
import type { PeerAttestation } from "./evidence.ts";

/** Options of {@link attestedFetch}. */
export interface AttestedFetchOptions extends AtlsClientOptions {
  /** Called with the server's verified attestation before the request is sent (server-attested, mutual). */
  readonly onAttested?: (peer: PeerAttestation | undefined) => void;
  /** Bound on the response head after the request is sent. Default 60 s. */
  readonly responseTimeoutMs?: number;
}

/** Statuses whose responses have no body (Fetch: "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * `fetch` over attested TLS: opens a fresh attested connection (every check of `options.mode` passes
 * before the first request byte is written), sends one HTTP/1.1 request on it and returns an ordinary
 * `Response`. The connection closes with the response. Only `https:` URLs.
 *
 * @example
 * const res = await attestedFetch(`https://127.0.0.1:${port}/v1/init`, { method: "POST", body },
 *   { mode: "server-attested", validators: [qemuVtpmValidator] });
 */
export async function attestedFetch(
  input: string | URL,
  init: RequestInit | undefined,
  options: AttestedFetchOptions,
): Promise<Response> {
  const request = new Request(input, init);
  const url = new URL(request.url);
  if (url.protocol !== "https:")
    throw new AtlsError("INVALID_OPTIONS", "Cannot fetch over attested TLS", {
      expected: "an https: URL",
      actual: url.protocol,
    });
  const body = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
  const conn = await connectAttested(hostOf(url), Number(url.port || 443), options);
  options.onAttested?.(conn.peer);
  return send(conn, url, request, body, options.responseTimeoutMs ?? 60_000);
}

function hostOf(url: URL): string {
  // URL keeps IPv6 literals bracketed; net.connect wants them bare.
  return url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
}

function send(
  conn: AttestedConnection,
  url: URL,
  request: Request,
  body: Uint8Array | undefined,
  timeoutMs: number,
): Promise<Response> {
  const headers: Record<string, string> = {};
  request.headers.forEach((value, key) => {
    headers[key] = value;
  });
  headers["host"] = url.host;
  headers["connection"] = "close";
  if (body !== undefined) headers["content-length"] = String(body.length);
  return new Promise<Response>((resolve, reject) => {
    const fail = (err: AtlsError) => {
      clearTimeout(timer);
      conn.socket.destroy();
      reject(err);
    };
    // No host/port here: Bun's http.request ignores createConnection when they are given (toolchain §3).
    const req = http.request(
      {
        method: request.method,
        path: `${url.pathname}${url.search}`,
        headers,
        createConnection: () => conn.socket,
      },
      (res) => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        const out = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
          out.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
        res.once("end", () => conn.socket.end());
        const stream = NULL_BODY.has(status)
          ? null
          : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
        if (stream === null) res.resume();
        resolve(new Response(stream, { status, statusText: res.statusMessage ?? "", headers: out }));
      },
    );
    const timer = setTimeout(
      () =>
        fail(
          new AtlsError("REQUEST_TIMEOUT", "Gave up waiting for the response", {
            expected: `a response within ${timeoutMs} ms`,
            actual: "none",
          }),
        ),
      timeoutMs,
    );
    // The frame reader left the socket paused (so no byte was lost); Bun's HTTP client attaches a "data"
    // listener, which does not resume an explicitly paused stream. Resume once the client owns the socket.
    req.once("socket", () => setImmediate(() => conn.socket.resume()));
    req.once("error", (cause) =>
      fail(
        new AtlsError("CONNECTION_CLOSED", "The attested connection failed during the request", { cause }),
      ),
    );
    if (request.signal.aborted) return fail(new AtlsError("CONNECTION_CLOSED", "The request was aborted"));
    request.signal.addEventListener("abort", () => {
      req.destroy();
      fail(new AtlsError("CONNECTION_CLOSED", "The request was aborted"));
    });
    req.end(body);
  });
}
