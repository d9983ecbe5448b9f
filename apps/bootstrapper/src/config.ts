import { TpmSpecSchema } from "@asterism/lifecycle";
import { type ListenAddress, listenAddressSchema, parseListenAddress } from "@asterism/service";
import * as v from "valibot";

const listen = listenAddressSchema;
const optionalListen = v.optional(
  v.pipe(
    v.string(),
    v.check((s) => parseListenAddress(s) !== undefined, "must be host:port"),
    v.transform((s) => parseListenAddress(s) as ListenAddress),
  ),
);
const path = v.pipe(v.string(), v.minLength(1), v.maxLength(4096));

/** `argon2id` or `pbkdf2:<iterations>` (tests use pbkdf2:1000: argon2id costs ~1 GB and seconds per slot). */
const pbkdf = v.pipe(
  v.optional(v.string(), "argon2id"),
  v.regex(/^(argon2id|pbkdf2:\d{3,7})$/, "must be argon2id or pbkdf2:<iterations>"),
  v.transform((s) =>
    s === "argon2id"
      ? ({ pbkdf: "argon2id" } as const)
      : ({ pbkdf: "pbkdf2", iterations: Number(s.slice("pbkdf2:".length)) } as const),
  ),
);

/** `<base>,<cap>` in ms. */
const backoff = v.pipe(
  v.optional(v.string(), "1000,30000"),
  v.regex(/^\d{1,7},\d{1,7}$/, "must be <baseMs>,<capMs>"),
  v.transform((s) => {
    const [base, cap] = s.split(",").map(Number) as [number, number];
    return { baseMs: Math.max(1, base), capMs: Math.max(base, cap) };
  }),
);

/** Environment of the bootstrapper (docs/lifecycle.md §5). */
export const ConfigSchema = v.pipe(
  v.object({
    ASTERISM_TPM: TpmSpecSchema,
    ASTERISM_VARIANT: v.optional(v.literal("qemu-vtpm"), "qemu-vtpm"),
    ASTERISM_METADATA_URL: v.pipe(v.string(), v.url()),
    ASTERISM_NODE_NAME: v.optional(v.pipe(v.string(), v.maxLength(253))),
    ASTERISM_STATE_DISK: path,
    ASTERISM_RUN_DIR: path,
    ASTERISM_PKI_DIR: v.optional(path),
    ASTERISM_FIRMWARE_EVENT_LOG: v.optional(path),
    ASTERISM_INIT_LISTEN: listen("127.0.0.1:9000"),
    ASTERISM_RECOVERY_LISTEN: listen("127.0.0.1:9999"),
    ASTERISM_HTTP_LISTEN: optionalListen,
    ASTERISM_ENDPOINTS_FILE: v.optional(path),
    ASTERISM_KUBERNETES_INSTALLER: v.optional(v.picklist(["kubeadm", "local"]), "kubeadm"),
    ASTERISM_LUKS_PBKDF: pbkdf,
    ASTERISM_DEVICE_MAPPER: v.optional(v.picklist(["auto", "cryptsetup", "none"]), "auto"),
    ASTERISM_JOIN_BACKOFF_MS: backoff,
    ASTERISM_JOIN_TIMEOUT_MS: v.optional(
      v.pipe(v.string(), v.regex(/^\d{3,9}$/), v.transform(Number)),
      String(60 * 60_000),
    ),
    ASTERISM_LOG_LEVEL: v.optional(v.picklist(["debug", "info", "warn", "error"]), "info"),
    ASTERISM_NODE_NAME_FILE: v.optional(path),
    ASTERISM_STATE_MOUNT: v.optional(v.pipe(path, v.startsWith("/", "must be an absolute path"))),
    ASTERISM_CONTROL_PLANE_SERVICES: v.optional(v.picklist(["none", "systemd"]), "none"),
  }),
  v.check(
    (c) => c.ASTERISM_NODE_NAME === undefined || c.ASTERISM_NODE_NAME_FILE === undefined,
    "set ASTERISM_NODE_NAME or ASTERISM_NODE_NAME_FILE, not both",
  ),
  v.check(
    (c) => c.ASTERISM_CONTROL_PLANE_SERVICES === "none" || c.ASTERISM_STATE_MOUNT !== undefined,
    "ASTERISM_CONTROL_PLANE_SERVICES=systemd needs ASTERISM_STATE_MOUNT (the services live on the state disk)",
  ),
);
export type Config = v.InferOutput<typeof ConfigSchema>;

export const ENV_HELP: Record<string, string> = {
  ASTERISM_TPM: "swtpm:127.0.0.1:<port> (command port of a powered-on swtpm) or /dev/tpmrm0",
  ASTERISM_VARIANT: "attestation variant (qemu-vtpm)",
  ASTERISM_METADATA_URL: "instance metadata service (GET /v1/self, /v1/instances)",
  ASTERISM_NODE_NAME: "sent as X-Asterism-Node (local cluster)",
  ASTERISM_NODE_NAME_FILE:
    "file holding the node name, sent as X-Asterism-Node (VM: /sys/firmware/qemu_fw_cfg/by_name/opt/asterism/node-name/raw)",
  ASTERISM_STATE_MOUNT:
    "optional: make (first activation only, never over data) and mount the state disk's ext4 here once the mapping opens",
  ASTERISM_CONTROL_PLANE_SERVICES:
    "none (default) or systemd: at init, provision the KMS and JoinService on the state disk and start their units",
  ASTERISM_STATE_DISK: "state disk: block device or image file (LUKS2)",
  ASTERISM_RUN_DIR: "run directory: eventlog.bin, state.key, status.json, node-state.json, admin.conf",
  ASTERISM_PKI_DIR:
    "Kubernetes PKI directory (default /etc/kubernetes/pki; <run dir>/pki with the local installer)",
  ASTERISM_INIT_LISTEN: "init endpoint, server-attested aTLS (default 127.0.0.1:9000; port 0 = free port)",
  ASTERISM_RECOVERY_LISTEN:
    "recovery endpoint on control planes, server-attested aTLS (default 127.0.0.1:9999)",
  ASTERISM_HTTP_LISTEN: "optional plain-HTTP status listener: /healthz /readyz /metrics /v1/status",
  ASTERISM_ENDPOINTS_FILE: 'optional: JSON file announcing {"init": url, "recovery": url, "http": url}',
  ASTERISM_KUBERNETES_INSTALLER:
    "kubeadm (default) or local (installs nothing, runs no kubeadm, and says so)",
  ASTERISM_LUKS_PBKDF:
    "argon2id (default) or pbkdf2:<iterations> (tests; VM images: the passphrase is a 256-bit key, see image/README.md)",
  ASTERISM_DEVICE_MAPPER: "auto (cryptsetup when /dev/mapper/control exists), cryptsetup or none",
  ASTERISM_JOIN_BACKOFF_MS: "<base>,<cap> of the join/rejoin retry, full jitter (default 1000,30000)",
  ASTERISM_JOIN_TIMEOUT_MS: "give up joining after this long (default 3600000)",
  ASTERISM_LOG_LEVEL: "debug | info | warn | error (default info)",
};
