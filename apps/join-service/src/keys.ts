import { fromBase64, wipe } from "@asterism/bytes";
import * as v from "valibot";
import { JoinServiceError } from "./errors.ts";

/** The keys a ticket needs (house style §13: narrow, consumer-declared). */
export interface TicketKeys {
  /** 32 bytes for `key-measurementSecret`. */
  measurementSecret(): Promise<Uint8Array>;
  /** 32 bytes for `key-<uuid>` (the disk key). */
  diskKey(uuid: string): Promise<Uint8Array>;
}

const DataKeyResponseSchema = v.object({
  id: v.string(),
  length: v.number(),
  key: v.pipe(v.string(), v.maxLength(128)),
});

/**
 * Keys from the KMS (apps/kms, `POST /v1/data-keys`) over mutual TLS with the `asterism://join-service`
 * identity. The measurement secret is the same for every ticket, so it is fetched once and kept in memory
 * (a failed fetch is retried on the next ticket); disk keys are fetched per ticket and never cached.
 */
export function createKmsKeys(opts: {
  readonly url: string;
  readonly fetch: (url: string, init?: RequestInit) => Promise<Response>;
  readonly timeoutMs?: number;
}): TicketKeys {
  const base = opts.url.replace(/\/+$/, "");
  const get = async (id: string): Promise<Uint8Array> => {
    let res: Response;
    try {
      res = await opts.fetch(`${base}/v1/data-keys`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id, length: 32 }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
    } catch (cause) {
      throw new JoinServiceError("KMS_UNAVAILABLE", "Cannot reach the KMS", { cause });
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new JoinServiceError("KMS_UNAVAILABLE", "The KMS refused a key", {
        actual: `HTTP ${res.status}`,
      });
    }
    const r = v.safeParse(DataKeyResponseSchema, await res.json().catch(() => undefined));
    if (!r.success || r.output.id !== id)
      throw new JoinServiceError("KMS_UNAVAILABLE", "Unexpected KMS answer");
    const key = fromBase64(r.output.key);
    if (key.length !== 32) {
      wipe(key);
      throw new JoinServiceError("KMS_UNAVAILABLE", "Unexpected KMS key length", {
        actual: `${key.length} bytes`,
      });
    }
    return key;
  };
  let ms: Promise<Uint8Array> | undefined;
  return {
    async measurementSecret() {
      ms ??= get("measurementSecret");
      try {
        return (await ms).slice();
      } catch (err) {
        ms = undefined;
        throw err;
      }
    },
    diskKey: (uuid) => get(uuid),
  };
}
