import { type Certificate, certificatesFromPemOrDer, parseCertificate, parseCrl } from "@asterism/pki";
import type { Product } from "../abi/product.ts";
import type { TcbParts } from "../abi/tcb.ts";
import { KdsError } from "../errors.ts";
import type { KdsBundle } from "./bundle.ts";
import { certChainPath, crlPath, KDS_BASE_URL, type KdsKeyKind, vcekPath } from "./urls.ts";

/** The fetch the client needs (a subset of the global one, so tests can pass a loopback-only fetch). */
export type KdsFetch = (url: string, init: { signal: AbortSignal }) => Promise<Response>;

/** Options of {@link createKdsClient}. */
export interface KdsClientOptions {
  /** The network. Absent: offline (bundle only). */
  readonly fetch?: KdsFetch;
  /** Default {@link KDS_BASE_URL}; tests point it at a loopback server. */
  readonly baseUrl?: string;
  /** Offline bundle, consulted before the network. */
  readonly bundle?: KdsBundle;
  /** The clock for CRL freshness in the cache. Default `() => new Date()`. */
  readonly now?: () => Date;
  /** How long a fetched CRL is reused. Default 1 hour. Certificates are immutable per URL and kept. */
  readonly crlTtlMs?: number;
  /** Per-request timeout. Default 10 s. */
  readonly timeoutMs?: number;
  /** Most cached responses. Default 512. */
  readonly cacheSize?: number;
}

/** A client of AMD's KDS: cached, with concurrent identical requests coalesced into one. */
export interface KdsClient {
  /** The VCEK (DER) of a chip at a TCB. */
  getVcek(product: Product, chipId: Uint8Array, tcb: TcbParts): Promise<Uint8Array>;
  /** The cert_chain PEM split into certificates (ASK or ASVK, then ARK). Not trusted: verify it. */
  getCertChain(product: Product, kind: KdsKeyKind): Promise<Certificate[]>;
  /** The CRL (DER) for the product's intermediates. Not trusted: verify it with the ARK. */
  getCrl(product: Product, kind: KdsKeyKind): Promise<Uint8Array>;
}

/** Largest body accepted: certificates and chains are a few KiB; AMD CRLs are small. */
export const MAX_KDS_RESPONSE_BYTES = 256 * 1024;

async function readLimited(res: Response, url: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > MAX_KDS_RESPONSE_BYTES)
    throw new KdsError("RESPONSE_TOO_LARGE", `KDS response from ${url} too large`, {
      expected: `at most ${MAX_KDS_RESPONSE_BYTES} bytes`,
      actual: `${declared} bytes`,
    });
  const reader = res.body?.getReader();
  if (reader === undefined) return new Uint8Array();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > MAX_KDS_RESPONSE_BYTES) {
      await reader.cancel();
      throw new KdsError("RESPONSE_TOO_LARGE", `KDS response from ${url} too large`, {
        expected: `at most ${MAX_KDS_RESPONSE_BYTES} bytes`,
        actual: `more than ${MAX_KDS_RESPONSE_BYTES} bytes`,
      });
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

/**
 * Create a KDS client. Fetches go through the injected `fetch` (no retries: the caller's verification
 * fails closed and can be retried as a whole); responses are checked to be what was asked for (a
 * certificate, a PEM chain, a CRL) before they are cached.
 *
 * @example
 * const kds = createKdsClient({ fetch });
 * const vcek = await kds.getVcek("milan", report.chipId, verifiedTcb);
 */
export function createKdsClient(opts: KdsClientOptions = {}): KdsClient {
  const base = opts.baseUrl ?? KDS_BASE_URL;
  const now = opts.now ?? (() => new Date());
  const crlTtl = opts.crlTtlMs ?? 3_600_000;
  const timeout = opts.timeoutMs ?? 10_000;
  const cacheSize = opts.cacheSize ?? 512;
  const cache = new Map<string, { bytes: Uint8Array; expires: number }>();
  const inflight = new Map<string, Promise<Uint8Array>>();

  async function fetchOnce(path: string, check: (b: Uint8Array) => void): Promise<Uint8Array> {
    const fromBundle = opts.bundle?.get(path);
    if (fromBundle !== undefined) {
      check(fromBundle);
      return fromBundle;
    }
    if (opts.fetch === undefined)
      throw new KdsError("NOT_IN_BUNDLE", `Offline: no KDS bundle entry for ${path}`, {
        expected: "an entry in the offline bundle",
        actual: "none",
      });
    const url = `${base}${path}`;
    let res: Response;
    try {
      res = await opts.fetch(url, { signal: AbortSignal.timeout(timeout) });
    } catch (cause) {
      throw new KdsError("FETCH_FAILED", `Cannot fetch ${url}`, {
        actual: cause instanceof Error ? cause.name : "error",
        cause,
      });
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new KdsError("HTTP_STATUS", `KDS answered ${url}`, {
        expected: "200",
        actual: String(res.status),
      });
    }
    const body = await readLimited(res, url);
    check(body);
    return body;
  }

  function get(path: string, ttlMs: number, check: (b: Uint8Array) => void): Promise<Uint8Array> {
    const hit = cache.get(path);
    const t = now().getTime();
    if (hit !== undefined && hit.expires > t) return Promise.resolve(hit.bytes);
    const pending = inflight.get(path);
    if (pending !== undefined) return pending;
    const p = fetchOnce(path, check)
      .then((bytes) => {
        cache.set(path, { bytes, expires: t + ttlMs });
        while (cache.size > cacheSize) {
          const oldest = cache.keys().next().value;
          if (oldest === undefined) break;
          cache.delete(oldest);
        }
        return bytes;
      })
      .finally(() => inflight.delete(path));
    inflight.set(path, p);
    return p;
  }

  const invalid = (what: string, cause: unknown) =>
    new KdsError("INVALID_RESPONSE", `KDS response is not ${what}`, { cause });

  return {
    getVcek(product, chipId, tcb) {
      return get(vcekPath(product, chipId, tcb), Number.POSITIVE_INFINITY, (b) => {
        try {
          parseCertificate(b);
        } catch (err) {
          throw invalid("a DER certificate", err);
        }
      });
    },
    async getCertChain(product, kind) {
      const check = (b: Uint8Array) => {
        const certs = certificatesFromPemOrDer(b).map(parseCertificate);
        if (certs.length !== 2) throw invalid("two certificates", new Error(`${certs.length} certificates`));
        return certs;
      };
      const bytes = await get(certChainPath(product, kind), Number.POSITIVE_INFINITY, (b) => {
        try {
          check(b);
        } catch (err) {
          throw err instanceof KdsError ? err : invalid("a PEM certificate chain", err);
        }
      });
      return check(bytes);
    },
    getCrl(product, kind) {
      return get(crlPath(product, kind), crlTtl, (b) => {
        try {
          parseCrl(b);
        } catch (err) {
          throw invalid("a DER CRL", err);
        }
      });
    },
  };
}
