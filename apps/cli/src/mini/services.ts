/**
 * The cluster-wide processes of the local cluster: the instance metadata endpoint (the CLI itself, as
 * `asterism mini metadata-server`), the KMS (cluster mode: master secret + HKDF) and the JoinService, the
 * last two as their compiled binaries talking mutual TLS under a service CA created here.
 *
 * The service PKI (`createServicePki` of @asterism/mtls, shared with the bootstrapper, which provisions
 * the same services inside a VM node): the service CA's private key never touches the disk; it issues the
 * KMS's server certificate and the JoinService's client certificate, then is dropped.
 */
import { join } from "node:path";
import type { ServicePki } from "@asterism/mtls";
import { createPrivateFile } from "../workspace/secret-file.ts";
import { waitForEndpoint, waitForLogLine } from "./endpoints.ts";
import { MiniError } from "./errors.ts";
import { LOOPBACK } from "./ports.ts";
import { type DaemonRecord, startDaemon, stopDaemon } from "./processes.ts";

export { createServicePki, type ServicePki } from "@asterism/mtls";

/** A started service and where it listens. */
export interface StartedService {
  readonly record: DaemonRecord;
  /** `host:port` (KMS) or a URL. */
  readonly endpoint: string;
}

/** Start the metadata endpoint. `token` is written 0600 to a file the process reads. */
export async function startMetadataService(
  self: readonly string[],
  dir: string,
  token: string,
  timeoutMs: number,
): Promise<StartedService> {
  const tokenFile = join(dir, "metadata.token");
  createPrivateFile(tokenFile, token);
  const announce = join(dir, "metadata.json");
  const record = startDaemon({
    name: "metadata",
    argv: [...self, "mini", "metadata-server", "--token-file", tokenFile, "--announce", announce],
    env: { NO_COLOR: "1" },
    log: join(dir, "metadata.log"),
  });
  try {
    return { record, endpoint: await waitForEndpoint(record, announce, "metadata", timeoutMs) };
  } catch (err) {
    await stopDaemon(record, 1000);
    throw err;
  }
}

/**
 * Start the KMS in cluster mode on a free port. With `owners`, it gets the owners' anchor and the cluster
 * state holding their log (what `kms rotate-kek` checks approvals against).
 */
export async function startKms(
  binary: string,
  dir: string,
  pki: ServicePki,
  masterSecretFile: string,
  timeoutMs: number,
  owners?: { readonly anchor: string; readonly stateDb: string },
): Promise<StartedService> {
  const record = startDaemon({
    name: "kms",
    argv: [binary],
    env: {
      KMS_MODE: "cluster",
      KMS_HOST: LOOPBACK,
      KMS_PORT: "0",
      KMS_TLS_CERT_FILE: pki.kms.certFile,
      KMS_TLS_KEY_FILE: pki.kms.keyFile,
      KMS_CA_CERT_FILE: pki.caFile,
      KMS_MASTER_SECRET_FILE: masterSecretFile,
      ...(owners ? { KMS_OWNER_ANCHOR: owners.anchor, KMS_OWNER_STATE_DB: owners.stateDb } : {}),
    },
    log: join(dir, "kms.log"),
  });
  try {
    const line = await waitForLogLine(record, "kms.listening", timeoutMs);
    const port = line["port"];
    if (typeof port !== "number")
      throw new MiniError("START_FAILED", "The KMS announced no port", { actual: JSON.stringify(line) });
    return { record, endpoint: `${LOOPBACK}:${port}` };
  } catch (err) {
    await stopDaemon(record, 1000);
    throw err;
  }
}

/** Everything the JoinService needs besides its binary. */
export interface JoinServiceSetup {
  readonly stateDb: string;
  readonly pkiDir: string;
  readonly kmsEndpoint: string;
  readonly servicePki: ServicePki;
  readonly metadataUrl: string;
  readonly apiServerEndpoint: string;
  /** The owners' anchor: the JoinService enforces only their approved policy (docs/owner.md). */
  readonly ownerAnchor?: string;
}

/** Start the JoinService (client-attested aTLS) and return its join URL. */
export async function startJoinService(
  binary: string,
  dir: string,
  s: JoinServiceSetup,
  timeoutMs: number,
): Promise<StartedService> {
  const endpoints = join(dir, "join-service.endpoints.json");
  const record = startDaemon({
    name: "join-service",
    argv: [binary],
    env: {
      ASTERISM_STATE: `sqlite:${s.stateDb}`,
      ASTERISM_JOIN_LISTEN: `${LOOPBACK}:0`,
      ASTERISM_HTTP_LISTEN: `${LOOPBACK}:0`,
      ASTERISM_PKI_DIR: s.pkiDir,
      ASTERISM_KMS_URL: `https://${s.kmsEndpoint}`,
      ASTERISM_KMS_CA_FILE: s.servicePki.caFile,
      ASTERISM_KMS_CERT_FILE: s.servicePki.joinService.certFile,
      ASTERISM_KMS_KEY_FILE: s.servicePki.joinService.keyFile,
      ASTERISM_API_SERVER_ENDPOINT: s.apiServerEndpoint,
      ASTERISM_METADATA_URL: s.metadataUrl,
      ASTERISM_POLICY_RELOAD_MS: "500",
      ASTERISM_ENDPOINTS_FILE: endpoints,
      ASTERISM_LOG_LEVEL: "info",
      ...(s.ownerAnchor ? { ASTERISM_OWNER_ANCHOR: s.ownerAnchor } : {}),
    },
    log: join(dir, "join-service.log"),
  });
  try {
    return { record, endpoint: await waitForEndpoint(record, endpoints, "join", timeoutMs) };
  } catch (err) {
    await stopDaemon(record, 1000);
    throw err;
  }
}
