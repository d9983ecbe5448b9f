import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { JoinPolicyWire } from "@asterism/api";
import { type AttestationPolicy, checkPolicyForVariant, parseAttestationPolicy } from "@asterism/attestation";
import { utf8, wipe } from "@asterism/bytes";
import { describeError } from "@asterism/errors";
import { serializeMasterSecret } from "@asterism/keys";
import { openClusterState, writeJoinConfig } from "@asterism/lifecycle";
import { createServicePki, SERVICE_PKI_KMS_ADDRESS } from "@asterism/mtls";
import type { Logger } from "@asterism/service";
import { BootstrapperError } from "./errors.ts";

/**
 * Where the KMS listens inside a control-plane VM: loopback only (its one caller, the JoinService, runs
 * beside it), on a port no other node listener uses (the KMS's own default, 9000, is the bootstrapper's
 * init port, still bound while the KMS starts).
 */
export const KMS_LOOPBACK_PORT = 9010;

/** The systemd units the bootstrapper starts once the services are provisioned (image/rootfs). */
export const CONTROL_PLANE_UNITS = ["asterism-kms.service", "asterism-join-service.service"] as const;

/** What init hands to the provisioning (all of it from the init request, checked before the node lock). */
export interface ControlPlaneServicesInput {
  /** The cluster master secret; the caller wipes it afterwards. */
  readonly masterSecret: { readonly key: Uint8Array; readonly salt: Uint8Array };
  readonly measurementSalt: Uint8Array;
  /** The init request's `joinPolicy`, parsed: what joining nodes must meet. */
  readonly joinPolicy: AttestationPolicy;
  readonly kubernetesVersion: string;
  readonly components: readonly unknown[];
  /** `host:port` of the API server put into join tickets (the init's control-plane endpoint). */
  readonly apiServerEndpoint: string;
}

/** Dependencies of {@link createControlPlaneServices}. */
export interface ControlPlaneServicesDeps {
  /** The mounted state file system (`ASTERISM_STATE_MOUNT`): everything written here survives reboots. */
  readonly stateDir: string;
  /** The Kubernetes PKI directory the JoinService reads (`ASTERISM_PKI_DIR`, on the state disk). */
  readonly pkiDir: string;
  /** The metadata URL the JoinService cross-checks identities with (the bootstrapper's own). */
  readonly metadataUrl: string;
  /** `systemctl start --no-block <units>`; tests record the call instead. */
  readonly startUnits: (units: readonly string[]) => Promise<void>;
  readonly now: () => Date;
  readonly logger: Logger;
}

/** The files the provisioning writes, under the state directory. */
export function controlPlaneServiceFiles(stateDir: string) {
  const services = join(stateDir, "services");
  return {
    servicesDir: services,
    masterSecret: join(services, "master-secret.json"),
    kmsEnv: join(services, "kms.env"),
    joinServiceEnv: join(services, "join-service.env"),
    clusterState: join(stateDir, "cluster-state.sqlite"),
  };
}

/** PCRs a join policy cannot lean on: 15 is forced to 0 by the JoinService, 16 is per node (identity). */
const NOT_IMAGE_PCRS = new Set([15, 16]);

/**
 * The init request's `joinPolicy` as the policy to write, checked before the node lock: present, parseable
 * by the same parser the JoinService uses, fitting the qemu-vtpm variant (32-byte PCRs), and enforcing at
 * least one measurement of the image (a policy of PCR 15 alone would admit a node running anything).
 * Refusals are `JOIN_POLICY_INVALID`.
 */
export function checkJoinPolicy(wire: JoinPolicyWire | undefined): AttestationPolicy {
  const refuse = (actual: string, cause?: unknown) =>
    new BootstrapperError("JOIN_POLICY_INVALID", "Cannot use the init request's joinPolicy", {
      expected: "the attestation policy joining nodes must meet (enforcing the image's PCRs)",
      actual,
      ...(cause === undefined ? {} : { cause }),
    });
  if (wire === undefined) throw refuse("none (this node provisions the JoinService and needs one)");
  let policy: AttestationPolicy;
  try {
    policy = parseAttestationPolicy(utf8(JSON.stringify(wire)));
    checkPolicyForVariant(policy, "qemu-vtpm");
  } catch (cause) {
    throw refuse(describeError(cause).slice(0, 200), cause);
  }
  const enforced = [...policy.measurements].filter(([i, m]) => !m.warnOnly && !NOT_IMAGE_PCRS.has(i));
  if (enforced.length === 0) throw refuse("no enforced measurement besides PCR 15/16");
  return policy;
}

/** A systemd EnvironmentFile: `KEY=value` lines; values are our own paths and URLs, never secrets. */
export function environmentFile(vars: Readonly<Record<string, string>>): string {
  return Object.entries(vars)
    .map(([k, value]) => {
      if (!/^[A-Z][A-Z0-9_]*$/.test(k) || !/^[\x21-\x7e]*$/.test(value) || /["'\\$`]/.test(value))
        throw new BootstrapperError("SERVICES_PROVISIONING_FAILED", "Cannot write an environment file", {
          expected: "NAME=value with a printable value, no quotes, spaces or expansions",
          actual: k,
        });
      return `${k}=${value}\n`;
    })
    .join("");
}

/** Create `path` (O_EXCL, `mode`) and write `data`; the bytes are flushed before the file counts. */
function createFile(path: string, data: Uint8Array | string, mode: number): void {
  const fd = openSync(path, "wx", mode);
  try {
    writeSync(fd, typeof data === "string" ? utf8(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The control-plane services of a VM node that has no Kubernetes to run them (`ASTERISM_KUBERNETES_INSTALLER
 * =local` with `ASTERISM_CONTROL_PLANE_SERVICES=systemd`): at init the bootstrapper provisions, on the
 * encrypted state disk,
 *
 * 1. the service mTLS PKI (`createServicePki`: service CA → KMS server and JoinService client
 *    certificates; the CA key is dropped),
 * 2. the KMS master secret file (0600, Constellation's `{"key","salt"}` format), from the init request,
 * 3. the cluster state (`sqlite:<state>/cluster-state.sqlite`) with the join configuration: the init
 *    request's join policy, the measurement salt, the Kubernetes version and components,
 * 4. the units' environment files (`<state>/services/{kms,join-service}.env`; their listeners come from
 *    the image's `/etc/asterism/join-service.env`),
 *
 * then starts `asterism-kms` and `asterism-join-service` (`systemctl start --no-block`: the jobs wait
 * for the bootstrapper unit, which they are ordered after, to finish). A rebooted control plane starts
 * them again after rejoin or recovery, since the units are enabled and their condition is the env file
 * on the state disk. Nothing is overwritten: a second provisioning on the same disk fails.
 */
export function createControlPlaneServices(deps: ControlPlaneServicesDeps) {
  const files = controlPlaneServiceFiles(deps.stateDir);
  const log = deps.logger.child({ component: "control-plane-services" });
  return {
    files,
    async provision(input: ControlPlaneServicesInput): Promise<void> {
      try {
        mkdirSync(files.servicesDir, { recursive: true, mode: 0o700 });
        const pki = await createServicePki(files.servicesDir, deps.now());
        const secret = utf8(serializeMasterSecret(input.masterSecret));
        try {
          createFile(files.masterSecret, secret, 0o600);
        } finally {
          wipe(secret);
        }
        const state = openClusterState(`sqlite:${files.clusterState}`);
        try {
          await writeJoinConfig(state, {
            policy: input.joinPolicy,
            measurementSalt: input.measurementSalt,
            kubernetesVersion: input.kubernetesVersion,
            components: input.components,
          });
        } finally {
          state.close();
        }
        createFile(
          files.kmsEnv,
          environmentFile({
            KMS_MODE: "cluster",
            KMS_HOST: SERVICE_PKI_KMS_ADDRESS,
            KMS_PORT: String(KMS_LOOPBACK_PORT),
            KMS_TLS_CERT_FILE: pki.kms.certFile,
            KMS_TLS_KEY_FILE: pki.kms.keyFile,
            KMS_CA_CERT_FILE: pki.caFile,
            KMS_MASTER_SECRET_FILE: files.masterSecret,
          }),
          0o600,
        );
        createFile(
          files.joinServiceEnv,
          environmentFile({
            ASTERISM_STATE: `sqlite:${files.clusterState}`,
            ASTERISM_PKI_DIR: deps.pkiDir,
            ASTERISM_KMS_URL: `https://${SERVICE_PKI_KMS_ADDRESS}:${KMS_LOOPBACK_PORT}`,
            ASTERISM_KMS_CA_FILE: pki.caFile,
            ASTERISM_KMS_CERT_FILE: pki.joinService.certFile,
            ASTERISM_KMS_KEY_FILE: pki.joinService.keyFile,
            ASTERISM_API_SERVER_ENDPOINT: input.apiServerEndpoint,
            ASTERISM_METADATA_URL: deps.metadataUrl,
          }),
          0o600,
        );
        log.log("info", "services.provisioned", {
          dir: files.servicesDir,
          state: files.clusterState,
          joinPolicy: [...input.joinPolicy.measurements.keys()].join(","),
        });
        await deps.startUnits(CONTROL_PLANE_UNITS);
        log.log("info", "services.started", { units: CONTROL_PLANE_UNITS.join(",") });
      } catch (cause) {
        if (cause instanceof BootstrapperError) throw cause;
        throw new BootstrapperError(
          "SERVICES_PROVISIONING_FAILED",
          "Cannot provision the control-plane services",
          { actual: describeError(cause).slice(0, 300), cause },
        );
      }
    },
  };
}

export type ControlPlaneServices = ReturnType<typeof createControlPlaneServices>;

/** `systemctl start --no-block <units>` (the real `startUnits`). */
export async function systemctlStart(units: readonly string[]): Promise<void> {
  const p = Bun.spawn(["systemctl", "start", "--no-block", ...units], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0)
    throw new BootstrapperError("SERVICES_PROVISIONING_FAILED", "Cannot start the control-plane services", {
      expected: "systemctl start --no-block to queue the units",
      actual: `exit ${code}: ${stderr.trim().slice(0, 300)}`,
    });
}
