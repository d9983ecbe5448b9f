import { rename, writeFile } from "node:fs/promises";
import * as v from "valibot";

/** A parsed `host:port` listen address (IPv6 in brackets). Port 0 means "a free port". */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Parse a listen address such as `127.0.0.1:9000`, `[::1]:0` or `0.0.0.0:9000`. Returns undefined for
 * anything else (the caller turns that into a configuration error naming the variable).
 */
export function parseListenAddress(s: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|(\d{1,3}(?:\.\d{1,3}){3}|localhost)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? (m[2] as string);
  if (m[2] !== undefined && m[2] !== "localhost" && m[2].split(".").some((o) => Number(o) > 255))
    return undefined;
  return { host, port };
}

/** Builds the URL of a bound listener (`https://127.0.0.1:41234`). */
export function listenerUrl(scheme: "http" | "https", host: string, port: number): string {
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * The endpoints file (docs/lifecycle.md §5): `{"<listener>": "<url>", …}`, rewritten atomically (temporary
 * file + rename) on every change, so a launcher polling it never reads half a file. Without a path every
 * call is a no-op.
 */
export function createEndpointsFile(path: string | undefined): {
  set(name: string, url: string): Promise<void>;
  remove(name: string): Promise<void>;
} {
  const current: Record<string, string> = {};
  let chain: Promise<void> = Promise.resolve();
  const flush = () => {
    if (path === undefined) return Promise.resolve();
    const text = `${JSON.stringify(current)}\n`;
    chain = chain.then(async () => {
      const tmp = `${path}.tmp-${process.pid}`;
      await writeFile(tmp, text, { mode: 0o644 });
      await rename(tmp, path);
    });
    return chain;
  };
  return {
    set(name, url) {
      current[name] = url;
      return flush();
    },
    remove(name) {
      delete current[name];
      return flush();
    },
  };
}

/** valibot schema of a `host:port` listen address in a service's environment, with a default. */
export function listenAddressSchema(dflt: string) {
  return v.pipe(
    v.optional(v.string(), dflt),
    v.check((s) => parseListenAddress(s) !== undefined, "must be host:port"),
    v.transform((s) => parseListenAddress(s) as ListenAddress),
  );
}
