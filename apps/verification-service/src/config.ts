import { parseTpmSpec, type TpmSpec } from "@asterism/lifecycle";
import { type ListenAddress, parseListenAddress } from "@asterism/service";
import * as v from "valibot";

const listen = (dflt: string) =>
  v.pipe(
    v.optional(v.string(), dflt),
    v.check((s) => parseListenAddress(s) !== undefined, "must be host:port"),
    v.transform((s) => parseListenAddress(s) as ListenAddress),
  );

/** Environment of the verification-service (docs/lifecycle.md §5). */
export const ConfigSchema = v.object({
  ASTERISM_TPM: v.pipe(
    v.string(),
    v.check((s) => {
      try {
        parseTpmSpec(s);
        return true;
      } catch {
        return false;
      }
    }, "must be swtpm:127.0.0.1:<port> or /dev/tpmrm<N>"),
    v.transform((s): TpmSpec => parseTpmSpec(s)),
  ),
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
