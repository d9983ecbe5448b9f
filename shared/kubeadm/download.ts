import { createHash, randomBytes as nodeRandomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { constantTimeEqual, fromHex, toHex } from "@asterism/bytes";
import type { Component } from "./components.ts";
import { ComponentError } from "./errors.ts";
import { extractTarGz } from "./tar.ts";

/** Default bound on one download: kubeadm/kubelet binaries are ~50–120 MB. */
export const DEFAULT_MAX_COMPONENT_BYTES = 256 * 1024 * 1024;
/** Default bound on one download's wall-clock time, headers and body together. */
export const DEFAULT_COMPONENT_TIMEOUT_MS = 5 * 60_000;
/** Mode of installed single-file components (Constellation used the same: owner read+execute only). */
export const COMPONENT_FILE_MODE = 0o544;

/** Injected dependencies of {@link downloadComponent}. */
export interface DownloadDeps {
  readonly fetch: (input: string, init: RequestInit) => Promise<Response>;
  /** Maximum body size in bytes. */
  readonly maxBytes?: number;
  /** Maximum decompressed size of an archive (decompression bombs); default 4 × `maxBytes`. */
  readonly maxExtractedBytes?: number;
  /** Deadline for the whole download. */
  readonly timeoutMs?: number;
  /** Source of temporary-file suffixes (tests make them predictable). */
  readonly randomSuffix?: () => string;
}

/** What {@link downloadComponent} installed. */
export interface DownloadResult {
  readonly installPath: string;
  readonly bytes: number;
  /** The verified pin. */
  readonly hash: string;
  /** Files unpacked, relative to `installPath` (archives only). */
  readonly extracted: readonly string[];
}

/**
 * Downloads one component, streaming it to a temporary file beside its target while hashing and counting, and
 * installs it only if its SHA-256 equals the pin. Size and time are bounded; on any failure the partial file
 * is removed and a {@link ComponentError} says why (`COMPONENT_HASH_MISMATCH`, `COMPONENT_TOO_LARGE`,
 * `COMPONENT_TIMEOUT`, `COMPONENT_FETCH_FAILED`, `COMPONENT_WRITE_FAILED`, `COMPONENT_ARCHIVE_UNSAFE`).
 * The component must come from {@link parseComponentList}, which refuses unpinned ones.
 */
export async function downloadComponent(c: Component, deps: DownloadDeps): Promise<DownloadResult> {
  const maxBytes = deps.maxBytes ?? DEFAULT_MAX_COMPONENT_BYTES;
  const timeoutMs = deps.timeoutMs ?? DEFAULT_COMPONENT_TIMEOUT_MS;
  const expected = fromHex(c.hash.slice("sha256:".length));
  const suffix = deps.randomSuffix?.() ?? toHex(new Uint8Array(nodeRandomBytes(8)));
  const partial = `${c.installPath}.partial-${suffix}`;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  let keepPartial = false;
  try {
    const hasher = createHash("sha256");
    const total = await fetchToFile(
      c.url,
      partial,
      hasher,
      maxBytes,
      controller.signal,
      deps.fetch,
      () => timedOut,
    );
    const actual = new Uint8Array(hasher.digest());
    if (!constantTimeEqual(actual, expected)) {
      throw new ComponentError("COMPONENT_HASH_MISMATCH", `Refusing component for ${c.installPath}`, {
        expected: c.hash,
        actual: `sha256:${toHex(actual)}`,
      });
    }
    let extracted: string[] = [];
    if (c.extract) {
      extracted = await extractTarGz(new Uint8Array(await readFile(partial)), c.installPath, {
        maxBytes: deps.maxExtractedBytes ?? maxBytes * 4,
      });
    } else {
      await chmod(partial, COMPONENT_FILE_MODE);
      await rename(partial, c.installPath);
      keepPartial = true; // renamed: nothing left to clean
    }
    return { installPath: c.installPath, bytes: total, hash: c.hash, extracted };
  } finally {
    clearTimeout(timer);
    if (!keepPartial) await rm(partial, { force: true }).catch(() => undefined);
  }
}

async function fetchToFile(
  url: string,
  path: string,
  hasher: ReturnType<typeof createHash>,
  maxBytes: number,
  signal: AbortSignal,
  fetchFn: DownloadDeps["fetch"],
  timedOut: () => boolean,
): Promise<number> {
  const failure = (cause: unknown, what: string): ComponentError =>
    timedOut()
      ? new ComponentError("COMPONENT_TIMEOUT", `Cannot download ${redact(url)}`, {
          expected: "the download to finish within its deadline",
          actual: "deadline exceeded",
          cause,
        })
      : new ComponentError("COMPONENT_FETCH_FAILED", `Cannot download ${redact(url)}`, {
          expected: "a successful transfer",
          actual: what,
          cause,
        });
  let res: Response;
  try {
    res = await fetchFn(url, { signal, redirect: "follow" });
  } catch (cause) {
    throw failure(cause, "request failed");
  }
  // Redirects (dl.k8s.io → CDN) are followed, but only to http(s): never to file: or other local schemes.
  const finalScheme = res.url ? new URL(res.url).protocol : new URL(url).protocol;
  if (finalScheme !== "https:" && finalScheme !== "http:" && finalScheme !== "data:") {
    await res.body?.cancel().catch(() => undefined);
    throw new ComponentError("COMPONENT_FETCH_FAILED", `Cannot download ${redact(url)}`, {
      expected: "an http(s) or data: response",
      actual: `a ${finalScheme} response`,
    });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    throw new ComponentError("COMPONENT_FETCH_FAILED", `Cannot download ${redact(url)}`, {
      expected: "HTTP 2xx with a body",
      actual: `HTTP ${res.status}`,
    });
  }
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body.cancel().catch(() => undefined);
    throw tooLarge(url, maxBytes, `${declared} bytes declared`);
  }
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  } catch (cause) {
    await res.body.cancel().catch(() => undefined);
    throw writeFailed(path, cause);
  }
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "wx", 0o600);
  } catch (cause) {
    await res.body.cancel().catch(() => undefined);
    throw writeFailed(path, cause);
  }
  const reader = res.body.getReader();
  let total = 0;
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (cause) {
        throw failure(cause, "body interrupted");
      }
      if (chunk.done) break;
      total += chunk.value.length;
      if (total > maxBytes) throw tooLarge(url, maxBytes, `more than ${maxBytes} bytes`);
      hasher.update(chunk.value);
      try {
        await fh.write(chunk.value);
      } catch (cause) {
        throw writeFailed(path, cause);
      }
    }
    if (timedOut()) throw failure(undefined, "deadline exceeded");
    return total;
  } finally {
    await reader.cancel().catch(() => undefined);
    await fh.close().catch(() => undefined);
  }
}

function tooLarge(url: string, max: number, actual: string): ComponentError {
  return new ComponentError("COMPONENT_TOO_LARGE", `Refusing download of ${redact(url)}`, {
    expected: `at most ${max} bytes`,
    actual,
  });
}

function writeFailed(path: string, cause: unknown): ComponentError {
  return new ComponentError("COMPONENT_WRITE_FAILED", `Cannot write ${path}`, {
    expected: "a writable install location",
    actual: "file system error",
    cause,
  });
}

/** URLs in messages: scheme, host and path only (no query strings, and data: URLs are not dumped). */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol === "data:") return "data: URL";
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
