import { join, resolve } from "node:path";

/**
 * The files of a workspace (the directory `asterism` works in; `--workspace` or the current directory).
 * Names follow Constellation's (`constellation-conf.yaml` → `asterism-conf.yaml`, …).
 */
export interface WorkspacePaths {
  readonly dir: string;
  /** The cluster configuration (YAML, commented). */
  readonly config: string;
  /** Cluster state: endpoints, init secret, cluster ID, local-cluster processes (YAML, 0600). */
  readonly state: string;
  /** `{"key": b64, "salt": b64}` (0600). Never overwritten. */
  readonly masterSecret: string;
  /** The admin kubeconfig returned by init (0600). */
  readonly adminConf: string;
  /** Runtime files of the local cluster (per-node swtpm state, disks, logs). */
  readonly miniDir: string;
}

export const CONFIG_FILE = "asterism-conf.yaml";
export const STATE_FILE = "asterism-state.yaml";
export const MASTER_SECRET_FILE = "asterism-mastersecret.json";
export const ADMIN_CONF_FILE = "asterism-admin.conf";
export const MINI_DIR = "asterism-mini";

/** The workspace rooted at `dir`. */
export function workspacePaths(dir: string): WorkspacePaths {
  const d = resolve(dir);
  return {
    dir: d,
    config: join(d, CONFIG_FILE),
    state: join(d, STATE_FILE),
    masterSecret: join(d, MASTER_SECRET_FILE),
    adminConf: join(d, ADMIN_CONF_FILE),
    miniDir: join(d, MINI_DIR),
  };
}
