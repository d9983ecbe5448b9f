import { TpmSpecSchema } from "@asterism/lifecycle";
import { listenAddressSchema } from "@asterism/service";
import * as v from "valibot";

const listen = listenAddressSchema;

/** Environment of the verification-service (docs/lifecycle.md §5). */
export const ConfigSchema = v.object({
  ASTERISM_TPM: TpmSpecSchema,
  ASTERISM_VARIANT: v.optional(v.literal("qemu-vtpm"), "qemu-vtpm"),
  ASTERISM_RUN_DIR: v.pipe(v.string(), v.minLength(1)),
  ASTERISM_VERIFY_LISTEN: listen("127.0.0.1:8080"),
  ASTERISM_ENDPOINTS_FILE: v.optional(v.string()),
  ASTERISM_LOG_LEVEL: v.optional(v.picklist(["debug", "info", "warn", "error"]), "info"),
});
export type Config = v.InferOutput<typeof ConfigSchema>;

/** What `--help` prints. */
export const ENV_HELP: Record<string, string> = {
  ASTERISM_TPM: "swtpm:127.0.0.1:<port> (powered-on swtpm command port) or /dev/tpmrm0",
  ASTERISM_VARIANT: "attestation variant (qemu-vtpm)",
  ASTERISM_RUN_DIR: "the node's run directory; its eventlog.bin (identity event) goes into every document",
  ASTERISM_VERIFY_LISTEN:
    "HTTP listener for /, /v1/attest, /healthz, /readyz, /metrics (default 127.0.0.1:8080)",
  ASTERISM_ENDPOINTS_FILE: 'optional: JSON file where the bound URL is announced ({"verify": url})',
  ASTERISM_LOG_LEVEL: "debug | info | warn | error (default info)",
};
