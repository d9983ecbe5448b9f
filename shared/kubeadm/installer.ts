import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@asterism/service";
import { parseAllDocuments } from "yaml";
import type { Component } from "./components.ts";
import { type DownloadDeps, type DownloadResult, downloadComponent } from "./download.ts";
import { InstallerError, KubeadmConfigError } from "./errors.ts";

/** What {@link KubernetesInstaller.install} did. */
export interface InstallResult {
  /** False when nothing was installed on purpose (the local cluster); `note` then says why. */
  readonly performed: boolean;
  readonly note?: string;
  readonly installed: readonly DownloadResult[];
  /** Install paths deliberately not installed. */
  readonly skipped: readonly string[];
}

/** What a kubeadm run did. */
export interface KubeadmResult {
  /** False when kubeadm was deliberately not run (the local cluster); `note` then says why. */
  readonly performed: boolean;
  readonly note?: string;
  /** kubeadm's stdout (empty when not performed). kubeadm is run with `--skip-token-print`. */
  readonly output: string;
}

/**
 * Installs Kubernetes on a node and runs kubeadm. The bootstrapper depends only on this interface, so the local
 * cluster (no kubelet, no container runtime) can substitute {@link createLocalInstaller}, which says what it
 * skipped instead of pretending.
 */
export interface KubernetesInstaller {
  /** Downloads every (already validated, pinned) component and installs it. */
  install(components: readonly Component[]): Promise<InstallResult>;
  /** `kubeadm init` with a configuration from `generateInitConfig`. */
  runKubeadmInit(config: string): Promise<KubeadmResult>;
  /** `kubeadm join` with a configuration from `generateJoinConfig`. */
  runKubeadmJoin(config: string): Promise<KubeadmResult>;
}

/** Runs a command; the default uses `Bun.spawn`. */
export type CommandRunner = (
  argv: readonly string[],
  opts: { readonly timeoutMs: number },
) => Promise<{ readonly exitCode: number | null; readonly timedOut: boolean; readonly stdout: string }>;

/** Default {@link CommandRunner}: spawns without a shell, kills the process at the deadline. */
export const bunCommandRunner: CommandRunner = async (argv, { timeoutMs }) => {
  const proc = Bun.spawn([...argv], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [stdout, exitCode] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    return { exitCode, timedOut, stdout };
  } finally {
    clearTimeout(timer);
  }
};

/** Dependencies of {@link createKubeadmInstaller}. */
export interface KubeadmInstallerDeps {
  readonly download: DownloadDeps;
  readonly logger: Logger;
  /** Where configuration files are written (mode 0600) for the duration of a kubeadm run. */
  readonly configDir: string;
  readonly run?: CommandRunner;
  /** Default `/usr/local/bin/kubeadm` (where the components put it). */
  readonly kubeadmPath?: string;
  /** Default 10 minutes per kubeadm run. */
  readonly kubeadmTimeoutMs?: number;
}

/** The real installer: pinned downloads, then `kubeadm init|join --config`. */
export function createKubeadmInstaller(deps: KubeadmInstallerDeps): KubernetesInstaller {
  const run = deps.run ?? bunCommandRunner;
  const kubeadm = deps.kubeadmPath ?? "/usr/local/bin/kubeadm";
  const timeoutMs = deps.kubeadmTimeoutMs ?? 10 * 60_000;
  const log = deps.logger.child({ component: "kubernetes-installer" });

  async function runWithConfig(phase: "init" | "join", config: string): Promise<KubeadmResult> {
    await mkdir(deps.configDir, { recursive: true, mode: 0o700 });
    // The configuration holds a bootstrap token: private file, removed whatever happens.
    const path = join(deps.configDir, `kubeadm-${phase}.yaml`);
    await writeFile(path, config, { mode: 0o600 });
    try {
      log.log("info", `running kubeadm ${phase}`);
      // `--skip-token-print` keeps the init token out of kubeadm's output (and so out of any log).
      const argv =
        phase === "init"
          ? [kubeadm, "init", "--config", path, "--skip-token-print"]
          : [kubeadm, "join", "--config", path];
      const r = await run(argv, { timeoutMs });
      if (r.timedOut) {
        throw new InstallerError("KUBEADM_TIMEOUT", `Cannot complete kubeadm ${phase}`, {
          expected: `completion within ${timeoutMs} ms`,
          actual: "killed at the deadline",
        });
      }
      if (r.exitCode !== 0) {
        throw new InstallerError("KUBEADM_FAILED", `Cannot complete kubeadm ${phase}`, {
          expected: "exit code 0",
          actual: `exit code ${r.exitCode}`,
        });
      }
      log.log("info", `kubeadm ${phase} succeeded`);
      return { performed: true, output: r.stdout };
    } finally {
      await rm(path, { force: true });
    }
  }

  return {
    async install(components) {
      const installed: DownloadResult[] = [];
      for (const c of components) {
        const r = await downloadComponent(c, deps.download);
        log.log("info", "component installed", {
          installPath: c.installPath,
          sha256: c.hash,
          bytes: r.bytes,
        });
        installed.push(r);
      }
      return { performed: true, installed, skipped: [] };
    },
    runKubeadmInit: (config) => runWithConfig("init", config),
    runKubeadmJoin: (config) => runWithConfig("join", config),
  };
}

/** Why the local installer does nothing; appears in every result and log line. */
export const LOCAL_INSTALLER_NOTE =
  "local cluster: no kubelet or container runtime on this machine, so Kubernetes is not installed and kubeadm is not run";

function checkConfigKind(config: string, kind: string): void {
  let kinds: unknown[];
  try {
    const docs = parseAllDocuments(config);
    if (!Array.isArray(docs) || docs.some((d) => d.errors.length > 0)) throw new Error("YAML syntax error");
    kinds = docs.map((d) => (d.toJS() as { kind?: unknown } | null)?.kind);
  } catch (cause) {
    throw new KubeadmConfigError("CONFIG_INVALID", "Cannot read kubeadm configuration", {
      expected: "YAML",
      cause,
    });
  }
  if (!kinds.includes(kind)) {
    throw new KubeadmConfigError("CONFIG_INVALID", "Cannot read kubeadm configuration", {
      expected: `a ${kind} document`,
      actual: `kinds ${JSON.stringify(kinds).slice(0, 100)}`,
    });
  }
}

/**
 * The installer of the local cluster. This machine has no kubelet, so it installs nothing and runs no kubeadm;
 * every result has `performed: false` and {@link LOCAL_INSTALLER_NOTE}, and each call logs a warning saying
 * so. Inputs are still checked (the configuration must parse and be of the right kind) so the local cluster
 * exercises the same validation as a real node.
 */
export function createLocalInstaller(deps: { readonly logger: Logger }): KubernetesInstaller {
  const log = deps.logger.child({ component: "local-installer" });
  return {
    async install(components) {
      log.log("warn", LOCAL_INSTALLER_NOTE, { skippedComponents: components.length });
      return {
        performed: false,
        note: LOCAL_INSTALLER_NOTE,
        installed: [],
        skipped: components.map((c) => c.installPath),
      };
    },
    async runKubeadmInit(config) {
      checkConfigKind(config, "InitConfiguration");
      log.log("warn", LOCAL_INSTALLER_NOTE, { skipped: "kubeadm init" });
      return { performed: false, note: LOCAL_INSTALLER_NOTE, output: "" };
    },
    async runKubeadmJoin(config) {
      checkConfigKind(config, "JoinConfiguration");
      log.log("warn", LOCAL_INSTALLER_NOTE, { skipped: "kubeadm join" });
      return { performed: false, note: LOCAL_INSTALLER_NOTE, output: "" };
    },
  };
}
