import { ErrorBodySchema } from "@asterism/api";
import { AtlsError } from "@asterism/atls";
import * as v from "valibot";
import { LifecycleError } from "./errors.ts";

/** Largest answer a lifecycle client reads (a ticket with control-plane files is ~20 KiB). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Read a JSON answer: documented success shape, or the error body as `REFUSED` with the server's code. */
export async function readAnswer<T>(
  res: Response,
  schema: v.GenericSchema<unknown, T>,
  action: string,
): Promise<T> {
  const text = await res.text();
  if (text.length > MAX_RESPONSE_BYTES)
    throw new LifecycleError("INVALID_RESPONSE", action, {
      expected: "a small JSON answer",
      actual: `${text.length} bytes`,
    });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LifecycleError("INVALID_RESPONSE", action, {
      expected: "JSON",
      actual: `HTTP ${res.status}, not JSON`,
    });
  }
  if (!res.ok) {
    const err = v.safeParse(ErrorBodySchema, json);
    throw new LifecycleError("REFUSED", action, {
      expected: "success",
      actual: err.success ? `${err.output.error.code}: ${err.output.error.message}` : `HTTP ${res.status}`,
      status: res.status,
      ...(err.success ? { remoteCode: err.output.error.code } : {}),
    });
  }
  const r = v.safeParse(schema, json);
  if (!r.success)
    throw new LifecycleError("INVALID_RESPONSE", action, {
      expected: "the documented answer",
      actual: r.issues
        .map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.message}`)
        .join("; ")
        .slice(0, 300),
    });
  return r.output;
}

const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EPIPE",
]);

/**
 * True when `err` means "nobody answered" (the endpoint is not up yet): a refused or reset TCP connection or
 * a handshake that never completed. Attestation failures and HTTP answers are NOT unavailability.
 */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof LifecycleError) return err.code === "UNAVAILABLE";
  if (err instanceof AtlsError) {
    if (err.code === "HANDSHAKE_TIMEOUT" || err.code === "CONNECTION_CLOSED") return true;
    if (err.code === "HANDSHAKE_FAILED") return true;
    return false;
  }
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  return CONNECT_CODES.has(code);
}

/**
 * Server verdicts that refuse a connection before judging its evidence (docs/atls.md §3.3 row 5): the
 * server's bound of pending attestations, or no policy to judge with yet. They say "come back later".
 */
const COME_BACK_LATER = new Set(["BUSY", "NOT_READY"]);

/** Map a transport/attestation failure of an aTLS call to a lifecycle error (answers pass through). */
export function wrapAtlsFailure(err: unknown, action: string): unknown {
  if (err instanceof LifecycleError) return err;
  if (isUnavailable(err)) return new LifecycleError("UNAVAILABLE", action, { cause: err });
  const verdict = err instanceof AtlsError && err.code === "PEER_REJECTED" ? (err.actual ?? "") : "";
  if (COME_BACK_LATER.has(verdict))
    return new LifecycleError("BUSY", action, {
      expected: "a server with room to validate our evidence",
      actual: verdict,
      cause: err,
    });
  if (err instanceof AtlsError)
    return new LifecycleError("NOT_TRUSTED", action, {
      expected: "an attested peer",
      actual: `${err.code}${err.actual ? `: ${err.actual}` : ""}`,
      cause: err,
    });
  return err;
}
