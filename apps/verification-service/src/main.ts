#!/usr/bin/env bun
/**
 * Composition root of the verification-service: config from the environment, the node's TPM (on demand:
 * swtpm serves one client at a time), the issuer with the persistent AK and the identity event log, and the
 * HTTP listener.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describeError } from "@asterism/errors";
import { createNodeIssuer, openNodeTpm } from "@asterism/lifecycle";
import {
  createEndpointsFile,
  createJsonLogger,
  handleServiceFlags,
  listenerUrl,
  MetricsRegistry,
} from "@asterism/service";
import * as v from "valibot";
import { createApp } from "./app.ts";
import { ConfigSchema, ENV_HELP } from "./config.ts";

const info = {
  name: "verification-service",
  summary: "Hands anyone a fresh attestation of this node for their nonce (GET /?nonce=<base64url>).",
  env: ENV_HELP,
};
const early = handleServiceFlags(info, process.argv.slice(2));
if (early !== undefined) process.exit(early);

const parsed = v.safeParse(ConfigSchema, process.env);
if (!parsed.success) {
  process.stderr.write(
    `verification-service: invalid configuration: ${parsed.issues.map((i) => `${v.getDotPath(i)}: ${i.message}`).join("; ")}\n`,
  );
  process.exit(2);
}
const config = parsed.output;
const logger = createJsonLogger({
  level: config.ASTERISM_LOG_LEVEL,
  base: { service: "verification-service" },
});

// A device that cannot be opened (absent, EACCES without the tss group, EPERM outside the device cgroup:
// k8s/README.md "TPM device access") is a startup failure with its cause in one log line.
const tpm = await openNodeTpm(config.ASTERISM_TPM).catch((err: unknown) => {
  const errno = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  logger.log("error", "verification-service.tpm_open_failed", {
    error: describeError(err),
    errno: typeof errno === "string" ? errno : "unknown",
  });
  process.exit(1);
});
const eventLogPath = join(config.ASTERISM_RUN_DIR, "eventlog.bin");
const issuer = createNodeIssuer({
  tpm,
  readEventLog: async () => {
    try {
      return new Uint8Array(await readFile(eventLogPath));
    } catch {
      return undefined;
    }
  },
});
let ready = false;
const app = createApp({ issuer, logger, metrics: new MetricsRegistry(), ready: () => ready });
const server = Bun.serve({
  hostname: config.ASTERISM_VERIFY_LISTEN.host,
  port: config.ASTERISM_VERIFY_LISTEN.port,
  fetch: app.fetch,
});
const url = listenerUrl("http", config.ASTERISM_VERIFY_LISTEN.host, server.port as number);
const endpoints = createEndpointsFile(config.ASTERISM_ENDPOINTS_FILE);
await endpoints.set("verify", url);
logger.log("info", "verification-service.listening", { listener: "verify", url });

// Warm up: one document makes sure the TPM answers and the persistent AK exists before we say "ready".
try {
  await issuer.issue(new Uint8Array(32), crypto.getRandomValues(new Uint8Array(32)));
  ready = true;
  logger.log("info", "verification-service.ready");
} catch (err) {
  logger.log("error", "verification-service.tpm_unavailable", { error: describeError(err) });
}

const stop = async () => {
  await server.stop(true);
  await tpm.close();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
