import { join } from "node:path";
import type { InitRequest, JoinTicket } from "@asterism/api";
import type { AttestationPolicy, Issuer } from "@asterism/attestation";
import { fromUtf8, isAllZero, toHex, wipe } from "@asterism/bytes";
import { describeError, isAsterismError } from "@asterism/errors";
import { deriveClusterId, deriveKey } from "@asterism/keys";
import {
  type CertificateAuthority,
  caCertHash,
  checkKubeletCredential,
  clusterPkiFiles,
  generateBootstrapToken,
  generateClusterPki,
  generateInitConfig,
  generateJoinConfig,
  type InitSecretChecker,
  issueKubeletCertificate,
  type KubeletCredential,
  type KubeletPaths,
  type KubernetesInstaller,
  kubeletFiles,
  parseComponentList,
  writeControlPlaneFiles,
  writeKubeletIdentity,
} from "@asterism/kubeadm";
import {
  askEndpoints,
  createKubeletCsr,
  LifecycleError,
  type NodeIdentity,
  type NodeLock,
  requestJoinTicket,
  requestRejoinTicket,
  retryWithBackoff,
} from "@asterism/lifecycle";
import type { MetadataClient } from "@asterism/metadata";
import type { Logger } from "@asterism/service";
import { pcrEvent, type Tpm } from "@asterism/tpm";
import type { ClusterServicesInput } from "./cluster-objects.ts";
import { type ControlPlaneServices, checkJoinPolicy } from "./control-plane-services.ts";
import { BootstrapperError } from "./errors.ts";
import { createAdminKubeconfig } from "./kubeconfig.ts";
import { type Phase, runFiles, type Status, writeAtomic } from "./node-files.ts";
import { createRecoveryGate } from "./recovery-approval.ts";
import type { DiskState, StateDisk } from "./state-disk.ts";
import { ticketRetryPolicy } from "./ticket-retry.ts";

/** Everything the node's flows need (main.ts builds it; tests inject fakes). */
export interface NodeDeps {
  readonly tpm: Tpm;
  readonly issuer: Issuer;
  readonly identity: NodeIdentity;
  readonly lock: NodeLock;
  readonly disk: StateDisk;
  readonly diskState: DiskState;
  readonly installer: KubernetesInstaller;
  /**
   * With the admin kubeconfig after `kubeadm init`: the objects the manifests reference, built from the
   * init request (cluster-objects.ts: service TLS, master secret, JoinService settings, join
   * configuration), then server-side apply of the variant's rendered k8s/ overlay (cluster-manifests.ts).
   * Not called when kubeadm did not run (the local cluster).
   */
  readonly applyManifests: (
    kubeconfig: string,
    services: ClusterServicesInput,
  ) => Promise<{ readonly objects: number }>;
  readonly metadata: MetadataClient;
  /** Checker for the init secret; undefined when metadata has no hash (no init server then). */
  readonly initSecret: InitSecretChecker | undefined;
  readonly runDir: string;
  readonly pkiDir: string;
  /**
   * Where the kubelet's identity goes, with the kubeadm installer (main.ts: `defaultKubeletPaths`, i.e.
   * /etc/kubernetes/kubelet.conf and /var/lib/kubelet/pki): written at init and join before kubeadm runs,
   * named in its configuration, so the kubelet runs as the ATTESTED node and never TLS-bootstraps.
   * Undefined with the local installer (no kubelet, no kubeadm): the checked certificate and key go to
   * `<pkiDir>/kubelet.crt|key`, as they always did there.
   */
  readonly kubelet?: KubeletPaths;
  readonly backoff: { readonly baseMs: number; readonly capMs: number };
  readonly joinTimeoutMs: number;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Told about every phase change (status file, /v1/status, metrics). */
  readonly onStatus: (s: Status) => void;
  /**
   * Control planes that run the KMS and JoinService themselves (`ASTERISM_CONTROL_PLANE_SERVICES=systemd`):
   * provisioned at init from the request (which must then carry `joinPolicy`). Undefined: nothing.
   */
  readonly controlPlaneServices?: ControlPlaneServices;
}

/** How the node was activated. */
export interface Activated {
  readonly by: "init" | "join" | "rejoin" | "recovery";
  readonly clusterId: Uint8Array;
}

/** API server port on control planes (kubeadm's default). */
const API_SERVER_PORT = 6443;

/**
 * The node's flows (reference §2.2, §3.1, §8), each taking the one-way node lock before touching PCR 15:
 * init (CLI request), join (ticket from a JoinService), rejoin (own disk key after reboot) and recovery
 * (master secret from the CLI when no control plane is up). `activated` resolves once one of them has
 * finished; the others stop.
 */
export function createNode(deps: NodeDeps) {
  const log = deps.logger;
  const files = runFiles(deps.runDir);
  const uuid = deps.diskState.uuid;
  let resolveActivated: (a: Activated) => void = () => {};
  let rejectActivated: (e: unknown) => void = () => {};
  const activated = new Promise<Activated>((res, rej) => {
    resolveActivated = res;
    rejectActivated = rej;
  });
  const clients = new AbortController();
  // Recovery needs the owners' approval when the disk recorded owners (recovery-approval.ts).
  const recoveryGate = createRecoveryGate({
    node: deps.identity.name,
    diskUuid: uuid,
    owner: deps.diskState.kind === "initialized" ? deps.diskState.owner : undefined,
    now: deps.now,
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    logger: log,
  });
  let phase: Phase = deps.diskState.kind === "fresh" ? "waiting" : "rejoining";
  const status = (p: Phase, extra: Partial<Status> = {}) => {
    phase = p;
    deps.onStatus({ phase: p, role: deps.identity.role, ...extra });
  };

  /** PCR 15 ← clusterID, under the lock (TPM2_PCR_Event: SHA-256 bank = H(0³² ‖ H(clusterID))). */
  const activate = async (by: Activated["by"], clusterId: Uint8Array): Promise<boolean> => {
    const won = await deps.lock.tryActivate(by, clusterId, async () => {
      await pcrEvent(deps.tpm, 15, clusterId);
    });
    if (won) {
      clients.abort();
      log.log("info", "node.activated", { by, clusterId: toHex(clusterId) });
    }
    return won;
  };

  const writeNodeState = (clusterId: Uint8Array, salt: Uint8Array) =>
    writeAtomic(
      files.nodeState,
      `${JSON.stringify({ role: deps.identity.role, measurementSalt: Buffer.from(salt).toString("base64"), clusterId: toHex(clusterId), diskUuid: uuid })}\n`,
      0o644,
    );

  /**
   * A failure after the lock: the node must reboot. After init or join the disk holds nothing yet, so it is
   * marked uninitialized and the next boot formats it (Constellation's reset); after rejoin or recovery it
   * holds the node's data and is left alone.
   */
  const fail = async (
    code: "INIT_FAILED" | "JOIN_FAILED" | "RECOVERY_FAILED",
    what: string,
    err: unknown,
  ): Promise<never> => {
    log.log("error", `node.${what}_failed`, { error: describeError(err) });
    if (code !== "RECOVERY_FAILED") await deps.disk.markUninitialized().catch(() => undefined);
    status("failed", { error: code });
    const e = new BootstrapperError(code, `The node could not complete ${what}; reboot it`);
    rejectActivated(e);
    throw e;
  };

  const nodeIp = () => {
    const ip = deps.identity.ips[0];
    if (ip === undefined)
      throw new BootstrapperError("INVALID_REQUEST", "The node has no IP address in its identity");
    return ip;
  };

  /**
   * The node's own check of a kubelet certificate (from its join ticket, or issued by itself at init) before
   * anything is written: the pinned CA issued it, for the key this node generated, naming exactly this
   * node's ATTESTED identity (@asterism/kubeadm `checkKubeletCredential`).
   */
  const checkCredential = (certPem: string, keyPem: string, caCertPem: string, pins: readonly string[]) =>
    checkKubeletCredential(
      {
        certPem,
        keyPem,
        caCertPem,
        caCertHashes: pins,
        identity: { nodeName: deps.identity.name, ips: deps.identity.ips },
      },
      { now: deps.now },
    );

  /** The init node's kubelet credential: its own key, a client+serving certificate from the new CA. */
  async function issueOwnCredential(ca: CertificateAuthority): Promise<KubeletCredential> {
    const { csr, keyPem } = await createKubeletCsr(deps.identity);
    const cert = await issueKubeletCertificate(
      {
        csr,
        identity: { nodeName: deps.identity.name, ips: deps.identity.ips, role: deps.identity.role },
        usages: ["client", "serving"],
        ca,
      },
      { now: deps.now },
    );
    return checkCredential(cert.certPem, keyPem, ca.certPem, [await caCertHash(ca.cert)]);
  }

  /**
   * Make a checked credential the kubelet's identity (kubeadm installer): kubelet.conf pointing at the
   * kubelet's certificate store, the serving pair and the KubeletConfiguration patch, all before kubeadm
   * runs. With the local installer (no kubelet) the pair goes to `<pkiDir>/kubelet.crt|key`.
   */
  async function installKubeletIdentity(credential: KubeletCredential, apiServerEndpoint: string) {
    if (deps.kubelet === undefined) {
      await writeAtomic(join(deps.pkiDir, "kubelet.crt"), credential.certPem, 0o644);
      await writeAtomic(join(deps.pkiDir, "kubelet.key"), credential.keyPem, 0o600);
      return;
    }
    const written = await writeKubeletIdentity(credential, {
      paths: deps.kubelet,
      apiServerEndpoint,
      now: deps.now(),
    });
    log.log("info", "node.kubelet_identity_written", {
      kubeconfig: written.kubeconfig,
      clientCertificate: written.clientCurrent,
      notAfter: credential.notAfter.toISOString(),
    });
  }

  /** kubeadm configuration fields naming the pre-provisioned kubelet identity (none with the local installer). */
  const kubeletConfig = () => {
    if (deps.kubelet === undefined) return undefined;
    const f = kubeletFiles(deps.kubelet);
    return {
      patchesDir: deps.kubelet.patchesDir,
      tlsCertFile: f.servingCert,
      tlsPrivateKeyFile: f.servingKey,
    };
  };

  /** Init (reference §2.2), with Constellation's holes closed; throws coded errors for the app. */
  async function initFlow(
    req: InitRequest,
  ): Promise<{ clusterId: string; kubeconfig: string; kubernetes: { performed: boolean; note?: string } }> {
    if (deps.initSecret === undefined)
      throw new BootstrapperError("NODE_ALREADY_ACTIVATED", "This node does not accept init requests");
    // 1. The init secret, before anything else; a failure says nothing and logs nothing but the fact.
    await deps.initSecret.check(req.initSecret);
    // 2. Everything that can be refused is checked before the lock (no half-initialized node).
    const components = parseComponentList(req.kubernetesComponents);
    const ip = nodeIp();
    const controlPlaneEndpoint = req.controlPlaneEndpoint ?? `${ip}:${API_SERVER_PORT}`;
    const initConfig = generateInitConfig({
      nodeName: deps.identity.name,
      nodeIp: ip,
      kubernetesVersion: req.kubernetesVersion,
      clusterName: req.clusterName,
      controlPlaneEndpoint,
      serviceSubnet: req.serviceCidr,
      ...(req.podCidr ? { podSubnet: req.podCidr } : {}),
      apiServerCertSans: req.apiServerCertSans,
      initToken: generateBootstrapToken((n) => crypto.getRandomValues(new Uint8Array(n))),
      ...(kubeletConfig() ? { kubelet: kubeletConfig() } : {}),
    });
    // Required when this node runs the services itself (systemd); optional for a Kubernetes cluster, whose
    // join configuration `asterism apply` can write instead, but checked the same way before the lock.
    const joinPolicy: AttestationPolicy | undefined =
      deps.controlPlaneServices !== undefined || req.joinPolicy !== undefined
        ? checkJoinPolicy(req.joinPolicy)
        : undefined;
    const master = req.masterSecret;
    let clusterId: Uint8Array;
    const ms = await deriveKey({ secret: master.key, salt: master.salt, purpose: "measurementSecret" });
    try {
      clusterId = await deriveClusterId(ms, req.measurementSalt);
    } finally {
      wipe(ms);
    }
    // 3. The lock, and PCR 15, exactly once.
    if (!(await activate("init", clusterId)))
      throw new BootstrapperError("NODE_ALREADY_ACTIVATED", "The node is already being activated", {
        actual: `activated by ${deps.lock.holder ?? "another flow"}`,
      });
    status("initializing");
    try {
      const diskKey = await deriveKey({
        secret: master.key,
        salt: master.salt,
        purpose: "diskKey",
        id: uuid,
      });
      try {
        await deps.disk.activate(diskKey, {
          measurementSalt: req.measurementSalt,
          role: deps.identity.role,
          owner: req.owner,
        });
      } finally {
        wipe(diskKey);
      }
      const pki = await generateClusterPki();
      await writeControlPlaneFiles(deps.pkiDir, clusterPkiFiles(pki));
      // Before kubeadm init: its kubeconfig phase keeps an existing kubelet.conf with the same CA.
      await installKubeletIdentity(await issueOwnCredential(pki.ca), controlPlaneEndpoint);
      const installed = await deps.installer.install(components);
      const kubeadm = await deps.installer.runKubeadmInit(initConfig);
      const kubeconfig = await createAdminKubeconfig({
        ca: pki.ca,
        clusterName: req.clusterName,
        server: `https://${controlPlaneEndpoint}`,
        now: deps.now(),
      });
      await writeAtomic(files.adminConf, kubeconfig, 0o600);
      const performed = installed.performed && kubeadm.performed;
      let note = installed.note ?? kubeadm.note;
      if (kubeadm.performed) {
        // The services' Secrets and settings, then their DaemonSets, RBAC, NetworkPolicies (k8s/), as the
        // admin, before init reports success.
        const applied = await deps.applyManifests(kubeconfig, {
          masterSecret: master,
          measurementSalt: req.measurementSalt,
          kubernetesVersion: req.kubernetesVersion,
          components: req.kubernetesComponents,
          apiServerEndpoint: controlPlaneEndpoint,
          ...(joinPolicy === undefined ? {} : { joinPolicy }),
        });
        log.log("info", "node.manifests_applied", { objects: applied.objects });
      } else {
        const skipped = "cluster manifests (k8s/) not applied: no Kubernetes API server runs here";
        log.log("warn", "node.manifests_skipped", { reason: skipped });
        note = note ? `${note}; ${skipped}` : skipped;
      }
      if (deps.controlPlaneServices !== undefined && joinPolicy !== undefined)
        await deps.controlPlaneServices.provision({
          masterSecret: master,
          measurementSalt: req.measurementSalt,
          joinPolicy,
          kubernetesVersion: req.kubernetesVersion,
          components: req.kubernetesComponents,
          apiServerEndpoint: controlPlaneEndpoint,
        });
      await writeNodeState(clusterId, req.measurementSalt);
      status("done", { clusterId: toHex(clusterId), activatedBy: "init" });
      resolveActivated({ by: "init", clusterId });
      return {
        clusterId: toHex(clusterId),
        kubeconfig,
        kubernetes: { performed, ...(note ? { note } : {}) },
      };
    } catch (err) {
      return fail("INIT_FAILED", "init", err);
    }
  }

  return {
    activated,
    phase: () => phase,
    /** Signal for the join/rejoin clients (aborted once the node is activated). */
    clientSignal: clients.signal,

    /** Init (reference §2.2), with Constellation's holes closed; throws coded errors for the app. */
    async init(
      req: InitRequest,
    ): Promise<{ clusterId: string; kubeconfig: string; kubernetes: { performed: boolean; note?: string } }> {
      try {
        return await initFlow(req);
      } finally {
        // The master key is needed during init only; whatever happened, this copy goes.
        wipe(req.masterSecret.key);
      }
    },

    /** The join client (reference §3.1): find a JoinService, attest, get a ticket, activate. */
    async join(): Promise<void> {
      const deadline = Date.now() + deps.joinTimeoutMs;
      const joinRetry = ticketRetryPolicy(log, "join");
      let ticket: JoinTicket;
      let credential: KubeletCredential;
      try {
        ({ ticket, credential } = await retryWithBackoff(
          async () =>
            askEndpoints(
              await joinEndpoints(deps),
              async (endpoint) => {
                const csr = await createKubeletCsr(deps.identity);
                const t = await requestJoinTicket({
                  endpoint,
                  issuer: deps.issuer,
                  diskUuid: uuid,
                  csr: csr.csr,
                  controlPlane: deps.identity.role === "control-plane",
                });
                // Before the lock and before anything is written: a ticket whose certificate is not
                // this node's (another name, key or CA) is an invalid answer from that JoinService.
                try {
                  return {
                    ticket: t,
                    credential: await checkCredential(t.kubeletCert, csr.keyPem, t.caCert, t.caCertHashes),
                  };
                } catch (cause) {
                  wipe(t.diskKey);
                  wipe(t.measurementSecret);
                  throw new LifecycleError(
                    "INVALID_RESPONSE",
                    "The join ticket's kubelet certificate is not this node's",
                    {
                      actual: isAsterismError(cause) ? cause.code : "unreadable",
                      cause,
                    },
                  );
                }
              },
              { signal: clients.signal, none: "No JoinService endpoint is registered yet" },
            ),
          { ...deps.backoff, deadline, signal: clients.signal, ...joinRetry },
        ));
      } catch (err) {
        if (clients.signal.aborted) return; // init (or nothing) won; the join client just stops
        log.log("error", "join.gave_up", { error: describeError(err), ...joinRetry.counts });
        status("failed", { error: joinRetry.gaveUpCode(err) });
        rejectActivated(err);
        return;
      }
      // Everything that can be refused is checked before the lock.
      let components: ReturnType<typeof parseComponentList>;
      let joinConfig: string;
      try {
        components = parseComponentList(ticket.kubernetesComponents);
        const kubelet = kubeletConfig();
        joinConfig = generateJoinConfig({
          nodeName: deps.identity.name,
          nodeIp: nodeIp(),
          role: deps.identity.role,
          apiServerEndpoint: ticket.apiServerEndpoint,
          token: { id: ticket.token.slice(0, 6), secret: ticket.token.slice(7) },
          caCertHashes: [...ticket.caCertHashes],
          ...(kubelet ? { kubelet: { patchesDir: kubelet.patchesDir } } : {}),
        });
      } catch (err) {
        wipe(ticket.diskKey);
        wipe(ticket.measurementSecret);
        log.log("error", "join.ticket_unusable", { error: describeError(err) });
        status("failed", { error: "JOIN_TICKET_UNUSABLE" });
        rejectActivated(err);
        return;
      }
      const clusterId = await deriveClusterId(ticket.measurementSecret, ticket.measurementSalt);
      wipe(ticket.measurementSecret);
      if (!(await activate("join", clusterId))) {
        log.log("info", "join.lost_to_other_flow", { holder: deps.lock.holder ?? "" });
        return;
      }
      status("joining");
      try {
        await deps.disk.activate(ticket.diskKey, {
          measurementSalt: ticket.measurementSalt,
          role: deps.identity.role,
          owner: ticket.owner,
        });
        if (ticket.controlPlaneFiles.length > 0)
          await writeControlPlaneFiles(
            deps.pkiDir,
            ticket.controlPlaneFiles.map((f) => ({ name: f.name, data: fromUtf8(f.data) })),
          );
        await installKubeletIdentity(credential, ticket.apiServerEndpoint);
        await deps.installer.install(components);
        await deps.installer.runKubeadmJoin(joinConfig);
        await writeNodeState(clusterId, ticket.measurementSalt);
        status("done", { clusterId: toHex(clusterId), activatedBy: "join" });
        resolveActivated({ by: "join", clusterId });
      } catch (err) {
        await fail("JOIN_FAILED", "join", err).catch(() => undefined);
      } finally {
        wipe(ticket.diskKey);
      }
    },

    /** The rejoin client (reference §8): this node's own disk key back from a JoinService. */
    async rejoin(): Promise<void> {
      if (deps.diskState.kind !== "initialized") return;
      const salt = deps.diskState.measurementSalt;
      const rejoinRetry = ticketRetryPolicy(log, "rejoin");
      let result: { diskKey: Uint8Array; measurementSecret: Uint8Array };
      try {
        result = await retryWithBackoff(
          async () =>
            askEndpoints(
              await joinEndpoints(deps),
              async (endpoint) => {
                const t = await requestRejoinTicket({ endpoint, issuer: deps.issuer, diskUuid: uuid });
                if (!(await deps.disk.testKey(t.diskKey))) {
                  wipe(t.diskKey);
                  throw new LifecycleError(
                    "INVALID_RESPONSE",
                    "The rejoin ticket's key does not open this disk",
                  );
                }
                return t;
              },
              { signal: clients.signal, none: "No JoinService endpoint is registered" },
            ),
          {
            ...deps.backoff,
            deadline: Date.now() + deps.joinTimeoutMs,
            signal: clients.signal,
            ...rejoinRetry,
          },
        );
      } catch (err) {
        if (clients.signal.aborted) return;
        log.log("error", "rejoin.gave_up", { error: describeError(err), ...rejoinRetry.counts });
        status("failed", { error: rejoinRetry.gaveUpCode(err) });
        rejectActivated(err);
        return;
      }
      const clusterId = await deriveClusterId(result.measurementSecret, salt);
      wipe(result.measurementSecret);
      try {
        if (!(await activate("rejoin", clusterId))) return;
        await deps.disk.unlock(result.diskKey);
        await writeNodeState(clusterId, salt);
        status("done", { clusterId: toHex(clusterId), activatedBy: "rejoin" });
        resolveActivated({ by: "rejoin", clusterId });
      } catch (err) {
        await fail("RECOVERY_FAILED", "rejoin", err).catch(() => undefined);
      } finally {
        wipe(result.diskKey);
      }
    },

    /** A nonce for the owners' approval of this node's recovery (recovery-approval.ts). */
    recoveryChallenge: () => recoveryGate.challenge(),

    /**
     * Recovery (reference §8): the master secret from the CLI; the node derives its own keys. When the
     * disk recorded cluster owners, their approval is checked first (before any key derivation).
     */
    async recover(
      master: { key: Uint8Array; salt: Uint8Array },
      ownerApproval?: { readonly entries: readonly unknown[] },
    ): Promise<{ clusterId: string }> {
      if (deps.diskState.kind !== "initialized") {
        wipe(master.key);
        throw new BootstrapperError("NODE_ALREADY_ACTIVATED", "This node has nothing to recover");
      }
      const salt = deps.diskState.measurementSalt;
      try {
        await recoveryGate.check(ownerApproval);
        const diskKey = await deriveKey({
          secret: master.key,
          salt: master.salt,
          purpose: "diskKey",
          id: uuid,
        });
        try {
          // Checked before the lock: a wrong master secret must not consume the node's one activation.
          if (!(await deps.disk.testKey(diskKey)))
            throw new BootstrapperError(
              "MASTER_SECRET_WRONG",
              "The master secret does not open this node's disk",
            );
          const ms = await deriveKey({ secret: master.key, salt: master.salt, purpose: "measurementSecret" });
          const clusterId = await deriveClusterId(ms, salt);
          wipe(ms);
          if (!(await activate("recovery", clusterId)))
            throw new BootstrapperError("NODE_ALREADY_ACTIVATED", "The node is already being activated");
          try {
            await deps.disk.unlock(diskKey);
            await writeNodeState(clusterId, salt);
          } catch (err) {
            return fail("RECOVERY_FAILED", "recovery", err);
          }
          status("done", { clusterId: toHex(clusterId), activatedBy: "recovery" });
          resolveActivated({ by: "recovery", clusterId });
          return { clusterId: toHex(clusterId) };
        } finally {
          wipe(diskKey);
        }
      } finally {
        wipe(master.key);
      }
    },
  };
}

export type Node = ReturnType<typeof createNode>;

/** JoinService endpoints from the metadata: control planes with a `join` endpoint, in random order. */
async function joinEndpoints(deps: Pick<NodeDeps, "metadata" | "identity">): Promise<string[]> {
  const list = (await deps.metadata.instances())
    .filter((i) => i.role === "control-plane" && i.endpoints.join !== undefined)
    .map((i) => i.endpoints.join as string);
  // Spread nodes over the control planes (and never hammer the first one first).
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j] as string, list[i] as string];
  }
  return list;
}

/** True when a PCR value is all zero (PCR 15: "not part of a cluster"). */
export const isUnset = isAllZero;
