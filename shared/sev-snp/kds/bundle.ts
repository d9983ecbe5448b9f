import { fromBase64, toBase64 } from "@asterism/bytes";
import * as v from "valibot";
import { KdsError } from "../errors.ts";

/** Format tag of an offline KDS bundle. */
export const KDS_BUNDLE_FORMAT = "asterism.kds-bundle.v1";
/** Most entries in a bundle (a cluster needs a chain and CRL per product plus one VCEK per node and TCB). */
export const MAX_BUNDLE_ENTRIES = 4096;

const KdsBundleSchema = v.strictObject({
  format: v.literal(KDS_BUNDLE_FORMAT),
  /** KDS path (with query) → base64 of the exact bytes KDS served. */
  entries: v.record(
    v.pipe(
      v.string(),
      v.regex(/^\/(vcek|vlek)\/v1\/(Milan|Genoa|Turin)\/[0-9a-zA-Z_?&=]+$/, "must be a KDS path"),
    ),
    v.pipe(v.string(), v.maxLength(1 << 20)),
  ),
});

/**
 * An offline bundle for air-gapped clusters: the exact bytes KDS serves, by path. Built once where KDS is
 * reachable (`createKdsBundle`), shipped as JSON, and handed to the KDS client. Bundle content is not
 * trusted: every certificate from it is verified to the built-in ARK like a fetched one.
 */
export interface KdsBundle {
  get(path: string): Uint8Array | undefined;
  readonly paths: readonly string[];
}

/** Parse an offline bundle document. Throws {@link KdsError} `BUNDLE_INVALID`. */
export function parseKdsBundle(json: unknown): KdsBundle {
  const r = v.safeParse(KdsBundleSchema, json);
  if (!r.success) {
    const issue = r.issues[0];
    throw new KdsError("BUNDLE_INVALID", "Invalid KDS bundle", {
      expected: issue.message,
      actual: issue.received,
    });
  }
  const keys = Object.keys(r.output.entries);
  if (keys.length > MAX_BUNDLE_ENTRIES)
    throw new KdsError("BUNDLE_INVALID", "Invalid KDS bundle", {
      expected: `at most ${MAX_BUNDLE_ENTRIES} entries`,
      actual: String(keys.length),
    });
  const entries = new Map<string, Uint8Array>();
  for (const [path, b64] of Object.entries(r.output.entries)) {
    try {
      entries.set(path, fromBase64(b64));
    } catch (cause) {
      throw new KdsError("BUNDLE_INVALID", `Invalid KDS bundle entry ${path}`, { expected: "base64", cause });
    }
  }
  return { get: (p) => entries.get(p), paths: keys };
}

/** Build the JSON document of an offline bundle from path → bytes. */
export function createKdsBundle(entries: ReadonlyMap<string, Uint8Array> | Record<string, Uint8Array>): {
  format: typeof KDS_BUNDLE_FORMAT;
  entries: Record<string, string>;
} {
  const list = entries instanceof Map ? [...entries] : Object.entries(entries);
  return { format: KDS_BUNDLE_FORMAT, entries: Object.fromEntries(list.map(([k, b]) => [k, toBase64(b)])) };
}
