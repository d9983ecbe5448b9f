/**
 * The VerificationService client (docs/lifecycle.md §3 "Verify"): send a fresh 32-byte nonce (to the
 * batch endpoint when asked, with an inclusion proof for it in the answer), get the node's attestation
 * document, and check it against the cluster's policy — authenticity (quote
 * signature, AK, nonce binding, event log replay) and measurements, with PCR 15 bound to the cluster ID.
 * A mismatch names every failing PCR and what it measures.
 */

import {
  API_PATHS,
  BatchedVerifyResponseSchema,
  VERIFY_NONCE_BYTES,
  VERIFY_USER_DATA,
  VerifyResponseSchema,
} from "@asterism/api";
import {
  type AttestationPolicy,
  type InclusionProof,
  validateBatchedDocument,
  validateDocument,
} from "@asterism/attestation";
import { constantTimeEqual, fromBase64, toBase64Url } from "@asterism/bytes";
import { describeError, isAsterismError } from "@asterism/errors";
import { MeasurementMismatchError } from "@asterism/measurements";
import * as v from "valibot";
import { PCR_MEANINGS } from "../boot/events.ts";
import { ClusterError } from "./errors.ts";

/** Options of {@link verifyNode}. */
export interface VerifyNodeOptions {
  /** Base URL of the node's VerificationService, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly policy: AttestationPolicy;
  readonly fetch?: (url: string, init?: RequestInit) => Promise<Response>;
  readonly random?: (n: number) => Uint8Array;
  readonly now?: () => Date;
  readonly timeoutMs?: number;
  readonly build?: string;
  /**
   * Ask the batch endpoint (`POST /v1/attest/batch`): the node quotes once for every verifier waiting at
   * that moment, and the answer proves this verifier's nonce is in the batch. A node without the endpoint
   * (404/405/501: an older node, or Constellation's service) is asked the single way instead.
   */
  readonly batch?: boolean;
  /** What each PCR measures, for naming mismatches (default: the process local cluster's boot). */
  readonly meanings?: PcrMeanings;
}

/** PCR index → what it measures in the boot being verified. */
export type PcrMeanings = Readonly<Record<number, string>>;

/** One failing PCR, named. */
export interface PcrMismatch {
  readonly index: number;
  /** What the PCR measures in the local cluster's boot (e.g. "kernel (boot application)"). */
  readonly meaning?: string;
  readonly expected: string;
  readonly actual: string | null;
}

/** The outcome for one node. */
export type NodeVerdict =
  | {
      readonly url: string;
      readonly valid: true;
      readonly variant: string;
      readonly measurements: Readonly<Record<number, string>>;
      /** The document's TCG event log parsed and replayed to the quoted PCRs. */
      readonly eventLogVerified: boolean;
      readonly warnings: readonly string[];
      /** Which endpoint answered: the batch endpoint or the single-nonce one (`GET /?nonce=`). */
      readonly via: "batch" | "single";
    }
  | {
      readonly url: string;
      readonly valid: false;
      readonly code: string;
      readonly message: string;
      readonly mismatches: readonly PcrMismatch[];
    };

/** Largest answer accepted (a vTPM document with an event log is ~100 KiB). */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** `PCR 4 (kernel (boot application))` */
export function pcrName(index: number, meanings: PcrMeanings = PCR_MEANINGS): string {
  const m = meanings[index];
  return m ? `PCR ${index} (${m})` : `PCR ${index}`;
}

/** The named PCR mismatches inside `err` (looking through causes), if it is a measurement failure. */
export function mismatchesOf(err: unknown, meanings: PcrMeanings = PCR_MEANINGS): PcrMismatch[] {
  let e: unknown = err;
  // Validators may wrap the measurement error; look through causes (bounded).
  for (let depth = 0; depth < 5 && e !== undefined; depth++) {
    if (e instanceof MeasurementMismatchError) {
      return e.verdict.mismatches.map((f) => ({
        index: f.index,
        ...(meanings[f.index] ? { meaning: meanings[f.index] } : {}),
        expected: f.expected,
        actual: f.actual,
      }));
    }
    e = (e as { cause?: unknown }).cause;
  }
  return [];
}

/** Statuses that mean "this node has no batch endpoint": ask it the single way. */
const NO_BATCH_ENDPOINT = new Set([404, 405, 501]);

async function request(opts: VerifyNodeOptions, url: string, init: RequestInit = {}): Promise<Response> {
  const doFetch = opts.fetch ?? ((u: string, i?: RequestInit) => fetch(u, i));
  try {
    return await doFetch(url, { ...init, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  } catch (cause) {
    throw new ClusterError("UNREACHABLE", `Cannot reach the VerificationService at ${opts.url}`, {
      actual: describeError(cause),
      cause,
    });
  }
}

/** Fetch the document for `nonce`. Network and HTTP failures are ClusterError (not a verdict). */
async function fetchDocument(opts: VerifyNodeOptions, nonce: Uint8Array): Promise<Uint8Array> {
  const res = await request(opts, `${opts.url.replace(/\/+$/, "")}/?nonce=${toBase64Url(nonce)}`);
  const { data } = await readJson(opts, res, VerifyResponseSchema, '{"data": base64}');
  return decodeData(opts, data);
}

/**
 * Fetch a batched document for `nonce` (`POST /v1/attest/batch`), or `undefined` when the node has no
 * batch endpoint. Other failures are ClusterError, as for the single path.
 */
async function fetchBatchedDocument(
  opts: VerifyNodeOptions,
  nonce: Uint8Array,
): Promise<{ document: Uint8Array; proof: InclusionProof } | undefined> {
  const res = await request(opts, `${opts.url.replace(/\/+$/, "")}${API_PATHS.attestBatch}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ nonce: toBase64Url(nonce) }),
  });
  if (NO_BATCH_ENDPOINT.has(res.status)) {
    await res.body?.cancel().catch(() => undefined);
    return undefined;
  }
  const { data, proof } = await readJson(
    opts,
    res,
    BatchedVerifyResponseSchema,
    '{"data": base64, "proof": {index, size, path}}',
  );
  return { document: decodeData(opts, data), proof };
}

async function readJson<T>(
  opts: VerifyNodeOptions,
  res: Response,
  schema: v.GenericSchema<unknown, T>,
  shape: string,
): Promise<T> {
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new ClusterError("UNREACHABLE", `VerificationService at ${opts.url} failed`, {
      expected: "HTTP 200",
      actual: `HTTP ${res.status}`,
    });
  }
  const text = await res.text();
  if (text.length > MAX_RESPONSE_BYTES) {
    throw new ClusterError("BAD_RESPONSE", `VerificationService at ${opts.url} answered too much`, {
      actual: `${text.length} bytes`,
    });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (cause) {
    throw new ClusterError("BAD_RESPONSE", `VerificationService at ${opts.url} answered no JSON`, { cause });
  }
  const r = v.safeParse(schema, body);
  if (!r.success)
    throw new ClusterError("BAD_RESPONSE", `VerificationService at ${opts.url}`, { expected: shape });
  return r.output;
}

function decodeData(opts: VerifyNodeOptions, data: string): Uint8Array {
  try {
    return fromBase64(data);
  } catch (cause) {
    throw new ClusterError("BAD_RESPONSE", `VerificationService at ${opts.url}`, {
      expected: "base64 data",
      cause,
    });
  }
}

/**
 * Verify one node. Returns a verdict (valid or not, with named PCR mismatches); throws ClusterError only
 * when the node could not be asked.
 */
export async function verifyNode(opts: VerifyNodeOptions): Promise<NodeVerdict> {
  const random = opts.random ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
  const nonce = random(VERIFY_NONCE_BYTES);
  const batched = opts.batch ? await fetchBatchedDocument(opts, nonce) : undefined;
  const via = batched === undefined ? "single" : "batch";
  const doc = batched?.document ?? (await fetchDocument(opts, nonce));
  try {
    const options = {
      policy: opts.policy,
      nonce,
      ...(opts.now ? { now: opts.now } : {}),
      build: opts.build ?? "asterism",
    };
    // Batched: our nonce must be a leaf of the tree whose root the document was issued for.
    const r =
      batched === undefined
        ? await validateDocument(doc, options)
        : await validateBatchedDocument(doc, batched.proof, options);
    if (!constantTimeEqual(r.claims.userData, VERIFY_USER_DATA)) {
      // A document made for another purpose (e.g. an aTLS certificate's) must not pass as a verify answer.
      return {
        url: opts.url,
        valid: false,
        code: "USER_DATA_MISMATCH",
        message: "The document is not bound to the VerificationService purpose",
        mismatches: [],
      };
    }
    return {
      url: opts.url,
      valid: true,
      variant: r.claims.variant,
      measurements: r.claims.measurements,
      eventLogVerified: r.claims.details["eventLogVerified"] === true,
      warnings: r.claims.warnings,
      via,
    };
  } catch (err) {
    const mismatches = mismatchesOf(err, opts.meanings);
    const code = isAsterismError(err) ? err.code : "INTERNAL";
    const message = mismatches.length
      ? `Measurements do not match: ${mismatches
          .map(
            (m) => `${pcrName(m.index, opts.meanings)}: expected ${m.expected}, got ${m.actual ?? "nothing"}`,
          )
          .join("; ")}`
      : isAsterismError(err)
        ? err.message
        : describeError(err);
    return { url: opts.url, valid: false, code, message, mismatches };
  }
}
