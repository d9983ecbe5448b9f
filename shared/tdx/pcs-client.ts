import { toHex } from "@asterism/bytes";
import * as v from "valibot";
import { type Collateral, CollateralSchema, parseCollateral } from "./collateral.ts";
import { PcsError } from "./errors.ts";
import type { CollateralRequest } from "./verify.ts";

/** Intel PCS (production). */
export const DEFAULT_PCS_BASE_URL = "https://api.trustedservices.intel.com";
/** Where Intel publishes the SGX Root CA CRL (the root certificate's CRL distribution point). */
export const DEFAULT_ROOT_CRL_URL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
/** Bound on any PCS response body (TCB info is ~10 KiB, CRLs a few KiB). */
export const MAX_PCS_RESPONSE_BYTES = 1024 * 1024;
/** Per-request timeout: PCS answers in well under a second; a hung request must not hang verification. */
export const PCS_TIMEOUT_MS = 10_000;

/** The fetch a PCS client uses (inject a stub or a loopback server's fetch in tests). */
export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

/** An offline collateral bundle: collateral by lower-case FMSPC (and PCK CA). */
export const CollateralBundleSchema = v.record(
  v.pipe(v.string(), v.regex(/^[0-9a-f]{12}:(platform|processor)$/, "<fmspc>:<platform|processor>")),
  CollateralSchema,
);
export type CollateralBundle = v.InferOutput<typeof CollateralBundleSchema>;

/** Options of {@link createPcsClient}. */
export interface PcsClientOptions {
  /** HTTP fetch; default the global `fetch`. */
  readonly fetch?: FetchLike;
  /** PCS base URL (default {@link DEFAULT_PCS_BASE_URL}). */
  readonly baseUrl?: string;
  readonly rootCrlUrl?: string;
  /** Clock, for cache expiry. */
  readonly now: () => Date;
  /** Collateral served without any network access (checked first). */
  readonly bundle?: CollateralBundle;
  /** Only use `bundle`; never fetch. Missing collateral is `NOT_IN_BUNDLE`. */
  readonly offline?: boolean;
}

/** A PCS client: `getCollateral` returns (unverified) collateral; verification is `verifyCollateral`'s job. */
export interface PcsClient {
  getCollateral(req: CollateralRequest): Promise<Collateral>;
}

/** Key of a bundle entry. */
export function bundleKey(req: CollateralRequest): string {
  return `${req.fmspc.toLowerCase()}:${req.ca}`;
}

/**
 * A client for Intel PCS API v4 (TDX TCB info, TD QE identity, PCK CRL, root CA CRL). Responses are
 * cached in memory until the earliest `nextUpdate` of the TCB info and QE identity; concurrent requests
 * for the same platform share one fetch. An offline bundle answers first (air-gapped verifiers).
 *
 * @example
 * const pcs = createPcsClient({ now: () => new Date() });
 * const v = await verifyQuote(bytes, { now: new Date(), getCollateral: (r) => pcs.getCollateral(r) });
 */
export function createPcsClient(opts: PcsClientOptions): PcsClient {
  const doFetch: FetchLike = opts.fetch ?? ((u, i) => fetch(u, i));
  const base = (opts.baseUrl ?? DEFAULT_PCS_BASE_URL).replace(/\/+$/, "");
  const rootCrlUrl = opts.rootCrlUrl ?? DEFAULT_ROOT_CRL_URL;
  const cache = new Map<string, { collateral: Collateral; expires: number }>();
  const inflight = new Map<string, Promise<Collateral>>();

  async function get(url: string, what: string): Promise<Response> {
    let res: Response;
    try {
      res = await doFetch(url, { signal: AbortSignal.timeout(PCS_TIMEOUT_MS), redirect: "error" });
    } catch (cause) {
      throw new PcsError("FETCH_FAILED", `Cannot fetch ${what}`, { actual: url, cause });
    }
    if (res.status !== 200)
      throw new PcsError("FETCH_FAILED", `Cannot fetch ${what}`, {
        expected: "HTTP 200",
        actual: `HTTP ${res.status}`,
      });
    const len = Number(res.headers.get("content-length") ?? "0");
    if (len > MAX_PCS_RESPONSE_BYTES)
      throw new PcsError("RESPONSE_INVALID", `${what} too large`, { actual: `${len} bytes` });
    return res;
  }
  async function body(res: Response, what: string): Promise<Uint8Array> {
    const b = new Uint8Array(await res.arrayBuffer());
    if (b.length > MAX_PCS_RESPONSE_BYTES)
      throw new PcsError("RESPONSE_INVALID", `${what} too large`, { actual: `${b.length} bytes` });
    return b;
  }
  function chainHeader(res: Response, name: string, what: string): string {
    const h = res.headers.get(name);
    if (h === null) throw new PcsError("RESPONSE_INVALID", `${what} has no ${name} header`);
    try {
      return decodeURIComponent(h);
    } catch (cause) {
      throw new PcsError("RESPONSE_INVALID", `${what}: ${name} is not URL-encoded PEM`, { cause });
    }
  }
  function signed(text: string, what: string): { sig: string; next: number } {
    try {
      const j = JSON.parse(text) as Record<string, unknown>;
      const inner = (j["tcbInfo"] ?? j["enclaveIdentity"]) as Record<string, unknown> | undefined;
      const sig = j["signature"];
      const next = Date.parse(String(inner?.["nextUpdate"]));
      if (typeof sig !== "string" || Number.isNaN(next)) throw new Error("missing signature or nextUpdate");
      return { sig, next };
    } catch (cause) {
      throw new PcsError("RESPONSE_INVALID", `${what} is not PCS JSON`, { cause });
    }
  }

  async function fetchCollateral(
    req: CollateralRequest,
  ): Promise<{ collateral: Collateral; expires: number }> {
    const tcbRes = await get(`${base}/tdx/certification/v4/tcb?fmspc=${req.fmspc.toLowerCase()}`, "TCB info");
    const tcbText = new TextDecoder().decode(await body(tcbRes, "TCB info"));
    const qeRes = await get(`${base}/tdx/certification/v4/qe/identity`, "QE identity");
    const qeText = new TextDecoder().decode(await body(qeRes, "QE identity"));
    const crlRes = await get(`${base}/sgx/certification/v4/pckcrl?ca=${req.ca}&encoding=der`, "PCK CRL");
    const crl = await body(crlRes, "PCK CRL");
    const rootRes = await get(rootCrlUrl, "root CA CRL");
    const rootCrl = await body(rootRes, "root CA CRL");
    const tcb = signed(tcbText, "TCB info");
    const qe = signed(qeText, "QE identity");
    const collateral = asPcsError(() =>
      parseCollateral({
        tcb_info: tcbText,
        tcb_info_signature: tcb.sig,
        tcb_info_issuer_chain: chainHeader(tcbRes, "TCB-Info-Issuer-Chain", "TCB info"),
        qe_identity: qeText,
        qe_identity_signature: qe.sig,
        qe_identity_issuer_chain: chainHeader(qeRes, "SGX-Enclave-Identity-Issuer-Chain", "QE identity"),
        pck_crl: toHex(crl),
        pck_crl_issuer_chain: chainHeader(crlRes, "SGX-PCK-CRL-Issuer-Chain", "PCK CRL"),
        root_ca_crl: toHex(rootCrl),
      }),
    );
    return { collateral, expires: Math.min(tcb.next, qe.next) };
  }

  return {
    async getCollateral(req) {
      const key = bundleKey(req);
      const bundled = opts.bundle?.[key];
      if (bundled !== undefined) return bundled;
      if (opts.offline)
        throw new PcsError("NOT_IN_BUNDLE", "No collateral for this platform in the offline bundle", {
          actual: key,
        });
      const hit = cache.get(key);
      if (hit !== undefined && opts.now().getTime() < hit.expires) return hit.collateral;
      const running = inflight.get(key);
      if (running !== undefined) return running;
      const p = fetchCollateral(req)
        .then((r) => {
          cache.set(key, r);
          return r.collateral;
        })
        .finally(() => inflight.delete(key));
      inflight.set(key, p);
      return p;
    },
  };
}

function asPcsError<T>(f: () => T): T {
  try {
    return f();
  } catch (cause) {
    throw new PcsError("RESPONSE_INVALID", "PCS responses do not form valid collateral", { cause });
  }
}
