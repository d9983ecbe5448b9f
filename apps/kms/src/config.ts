import * as v from "valibot";

const IDENTITY_RE = /^asterism:\/\/[a-z][a-z0-9-]{0,62}$/;
const file = v.pipe(v.string(), v.minLength(1), v.maxLength(4096));
const identityList = v.pipe(
  v.string(),
  v.maxLength(4096),
  v.transform((s) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter((x) => x.length > 0),
  ),
  v.array(v.pipe(v.string(), v.regex(IDENTITY_RE, "identity must be asterism://<name>"))),
);

/**
 * KMS configuration from the environment. Secrets (master secret, HSM PIN) are read from files named
 * here, never from environment values, so they do not show up in `/proc/<pid>/environ` or pod specs.
 *
 * - `KMS_MODE`: `cluster` (master secret + HKDF) or `user` (PKCS#11 KEK + stored wrapped keys).
 * - `KMS_HOST` (default 127.0.0.1), `KMS_PORT` (default 9000; 0 picks a free port).
 * - `KMS_TLS_CERT_FILE`, `KMS_TLS_KEY_FILE`: the KMS's server certificate from the cluster CA.
 * - `KMS_CA_CERT_FILE`: the cluster CA certificate (trust anchor for callers).
 * - `KMS_KEY_CALLERS`: identities allowed to fetch keys (default JoinService and bootstrapper).
 * - `KMS_METRICS_CALLERS`: identities allowed to read /metrics (default those plus `asterism://monitoring`).
 * - `KMS_NAMED_KEYS`: `name=identity|identity;name=…` — named ids that may be served and to whom
 *   (default `measurementSecret=asterism://join-service`).
 * - cluster mode: `KMS_MASTER_SECRET_FILE` (`{"key": b64, "salt": b64}`).
 * - user mode: `KMS_PKCS11_LIBRARY`, `KMS_PKCS11_TOKEN`, `KMS_PKCS11_PIN_FILE`, `KMS_CREATE_KEK` (`true`:
 *   create KEK v1 when the token has none; for init), and where wrapped keys live: `KMS_STATE_DB` (the
 *   embedded cluster state, SQLite, safe with several processes) or `KMS_STORE_DIR` (a directory).
 * - `rotate-kek`: `KMS_OWNER_ANCHOR`, the genesis hash of the owners' audit log (pinned at init), and the
 *   cluster state holding that log: `KMS_OWNER_STATE_DB` (default `KMS_STATE_DB`). Every rotation needs
 *   its own owner approval (@asterism/owner `kms-key-rotation` of key `kek`).
 */
export const KmsConfigSchema = v.pipe(
  v.object({
    KMS_MODE: v.picklist(["cluster", "user"]),
    KMS_HOST: v.optional(v.pipe(v.string(), v.ip()), "127.0.0.1"),
    KMS_PORT: v.optional(
      v.pipe(v.string(), v.regex(/^[0-9]{1,5}$/), v.transform(Number), v.maxValue(65535)),
      "9000",
    ),
    KMS_TLS_CERT_FILE: file,
    KMS_TLS_KEY_FILE: file,
    KMS_CA_CERT_FILE: file,
    KMS_KEY_CALLERS: v.optional(identityList, "asterism://join-service,asterism://bootstrapper"),
    KMS_METRICS_CALLERS: v.optional(
      identityList,
      "asterism://join-service,asterism://bootstrapper,asterism://monitoring",
    ),
    KMS_NAMED_KEYS: v.optional(
      v.pipe(
        v.string(),
        v.maxLength(4096),
        v.regex(/^([A-Za-z][A-Za-z0-9_]{0,63}=[a-z0-9:/|-]+(;|$))*$/),
        v.check(
          (spec) =>
            [...parseNamedKeys(spec).values()].every((ids) => [...ids].every((id) => IDENTITY_RE.test(id))),
          "every identity must be asterism://<name>",
        ),
      ),
      "measurementSecret=asterism://join-service",
    ),
    KMS_MASTER_SECRET_FILE: v.optional(file),
    KMS_PKCS11_LIBRARY: v.optional(file),
    KMS_PKCS11_TOKEN: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(32))),
    KMS_PKCS11_PIN_FILE: v.optional(file),
    KMS_STORE_DIR: v.optional(file),
    KMS_STATE_DB: v.optional(file),
    KMS_CREATE_KEK: v.optional(v.picklist(["true", "false"]), "false"),
    KMS_OWNER_ANCHOR: v.optional(
      v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits")),
    ),
    KMS_OWNER_STATE_DB: v.optional(file),
  }),
  v.check(
    (c) => c.KMS_MODE !== "cluster" || c.KMS_MASTER_SECRET_FILE !== undefined,
    "cluster mode needs KMS_MASTER_SECRET_FILE",
  ),
  v.check(
    (c) =>
      c.KMS_MODE !== "user" ||
      (c.KMS_PKCS11_LIBRARY !== undefined &&
        c.KMS_PKCS11_TOKEN !== undefined &&
        c.KMS_PKCS11_PIN_FILE !== undefined &&
        (c.KMS_STORE_DIR === undefined) !== (c.KMS_STATE_DB === undefined)),
    "user mode needs KMS_PKCS11_LIBRARY, KMS_PKCS11_TOKEN, KMS_PKCS11_PIN_FILE and one of KMS_STORE_DIR, KMS_STATE_DB",
  ),
);
export type KmsConfig = v.InferOutput<typeof KmsConfigSchema>;

/** `name=a|b;name2=c` → map of named id → allowed identities. */
export function parseNamedKeys(spec: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const part of spec.split(";")) {
    if (part === "") continue;
    const [name, ids] = part.split("=") as [string, string];
    out.set(name, new Set(ids.split("|").filter((x) => x !== "")));
  }
  return out;
}
