import { mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { stringify } from "yaml";
import { KubeadmConfigError } from "./errors.ts";
import { parseEndpoint } from "./kubeadm-config.ts";
import type { KubeletCredential } from "./kubelet-credential.ts";

/** The kubelet's `--kubeconfig` under kubeadm (its systemd drop-in), and the file `kubeadm join` waits for. */
export const KUBELET_KUBECONFIG_PATH = "/etc/kubernetes/kubelet.conf";
/** The kubelet's `--cert-dir` default: its client certificate store and default serving pair live here. */
export const KUBELET_CERT_DIR = "/var/lib/kubelet/pki";
/**
 * kubeadm patch file for this node's KubeletConfiguration (kubeadm ≥ 1.25, target `kubeletconfiguration`,
 * patch type `merge` = RFC 7386; file names `target[suffix][+patchtype].extension`).
 */
export const KUBELET_CONFIG_PATCH_FILE = "kubeletconfiguration+merge.yaml";
/** The kubelet's certificate store prefix (client-go `certificate.NewFileStore("kubelet-client", …)`). */
const CLIENT_PAIR_PREFIX = "kubelet-client";

/** Where a node's kubelet identity goes; every path absolute. Defaults: {@link defaultKubeletPaths}. */
export interface KubeletPaths {
  /** The kubelet's kubeconfig ({@link KUBELET_KUBECONFIG_PATH}). */
  readonly kubeconfig: string;
  /** The kubelet's certificate directory ({@link KUBELET_CERT_DIR}). */
  readonly certDir: string;
  /** A directory holding only this node's kubeadm patches (kubeadm `patches.directory`). */
  readonly patchesDir: string;
}

/** kubeadm's and the kubelet's own locations, with the node's patch directory. */
export function defaultKubeletPaths(patchesDir: string): KubeletPaths {
  return { kubeconfig: KUBELET_KUBECONFIG_PATH, certDir: KUBELET_CERT_DIR, patchesDir };
}

/** The files of a kubelet identity under {@link KubeletPaths}. */
export interface KubeletFiles {
  readonly kubeconfig: string;
  /**
   * `<certDir>/kubelet-client-current.pem`: certificate then key, a symlink to a dated file, the layout the
   * kubelet's certificate store reads first and keeps when it rotates the client certificate.
   */
  readonly clientCurrent: string;
  /** `<certDir>/kubelet.crt|key`: the serving pair (also the kubelet's default when none is configured). */
  readonly servingCert: string;
  readonly servingKey: string;
  /** `<patchesDir>/kubeletconfiguration+merge.yaml`. */
  readonly patch: string;
}

/** The file names of {@link KubeletPaths}. */
export function kubeletFiles(paths: KubeletPaths): KubeletFiles {
  return {
    kubeconfig: paths.kubeconfig,
    clientCurrent: join(paths.certDir, `${CLIENT_PAIR_PREFIX}-current.pem`),
    servingCert: join(paths.certDir, "kubelet.crt"),
    servingKey: join(paths.certDir, "kubelet.key"),
    patch: join(paths.patchesDir, KUBELET_CONFIG_PATCH_FILE),
  };
}

/**
 * The kubelet's kubeconfig in the shape the kubelet itself writes after a TLS bootstrap
 * (`writeKubeconfigFromBootstrapping`: cluster `default-cluster`, user `default-auth` whose client
 * certificate and key are both the `kubelet-client-current.pem` store file, context `default-context`),
 * with the CA embedded. kubeadm's `kubelet-finalize` phase rewrites a kubelet.conf to exactly this user
 * entry, so it leaves ours as it is.
 */
export function renderKubeletKubeconfig(opts: {
  /** `https://host:port`. */
  readonly server: string;
  /** PEM; use {@link KubeletCredential.caCertPem} (Go's PEM shape: kubeadm compares it byte for byte). */
  readonly caCertPem: string;
  readonly clientPemPath: string;
}): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "default-cluster",
        cluster: {
          server: opts.server,
          "certificate-authority-data": Buffer.from(opts.caCertPem).toString("base64"),
        },
      },
    ],
    users: [
      {
        name: "default-auth",
        user: { "client-certificate": opts.clientPemPath, "client-key": opts.clientPemPath },
      },
    ],
    contexts: [
      {
        name: "default-context",
        context: { cluster: "default-cluster", namespace: "default", user: "default-auth" },
      },
    ],
    "current-context": "default-context",
    preferences: {},
  });
}

/**
 * The KubeletConfiguration fields that make the attested certificate the kubelet's identity: the serving
 * pair, no serving-certificate bootstrap (a CSR nobody would approve; with it the kubelet ignores
 * `tlsCertFile`), and client-certificate rotation on (renewal through kubeadm's
 * `kubeadm:node-autoapprove-certificate-rotation` binding: a node renewing its own name).
 */
export function kubeletConfigFields(files: Pick<KubeletFiles, "servingCert" | "servingKey">) {
  return {
    rotateCertificates: true,
    serverTLSBootstrap: false,
    tlsCertFile: files.servingCert,
    tlsPrivateKeyFile: files.servingKey,
  };
}

async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(tmp, data, { mode });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** `2006-01-02-15-04-05` (UTC), the stamp the kubelet's certificate store gives each rotated file. */
function stamp(now: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${now.getUTCFullYear()}-${p(now.getUTCMonth() + 1)}-${p(now.getUTCDate())}-${p(now.getUTCHours())}-${p(now.getUTCMinutes())}-${p(now.getUTCSeconds())}`;
}

/** Options of {@link writeKubeletIdentity}. */
export interface WriteKubeletIdentityOptions {
  readonly paths: KubeletPaths;
  /** `host:port` of the API server the kubelet talks to (the join ticket's, or the init node's endpoint). */
  readonly apiServerEndpoint: string;
  /** Names the dated client file. */
  readonly now: Date;
}

/**
 * Make an already checked credential ({@link checkKubeletCredential}) the kubelet's identity, the way the
 * kubelet and kubeadm lay it out, so that no TLS bootstrap happens:
 * 1. the serving pair `<certDir>/kubelet.crt` (0644) and `kubelet.key` (0600);
 * 2. `<certDir>/kubelet-client-<stamp>.pem` (certificate then key, 0600) and the symlink
 *    `kubelet-client-current.pem` to it (absolute target; replaced atomically). The kubelet's store loads
 *    this file first and, when it rotates, writes the next dated file and moves the symlink (it refuses a
 *    regular file there);
 * 3. `<patchesDir>/kubeletconfiguration+merge.yaml` naming the serving pair (see {@link kubeletConfigFields});
 * 4. last, the kubeconfig (0600) pointing at the store file, with the cluster CA and
 *    `https://<apiServerEndpoint>`: its existence is what `kubeadm join` waits for and what makes the kubelet
 *    skip its bootstrap kubeconfig ("kubeconfig exists and is valid, skipping bootstrap").
 * Each file is written to a temporary name and renamed. Returns the file names.
 */
export async function writeKubeletIdentity(
  credential: KubeletCredential,
  opts: WriteKubeletIdentityOptions,
): Promise<KubeletFiles> {
  const endpoint = parseEndpoint(opts.apiServerEndpoint);
  if (endpoint === undefined)
    throw new KubeadmConfigError("CONFIG_INVALID", "Cannot write the kubelet kubeconfig", {
      expected: "an API server endpoint host:port (IPv6 in brackets)",
      actual: `${opts.apiServerEndpoint.length} characters, not host:port`,
    });
  const { paths } = opts;
  if (![paths.kubeconfig, paths.certDir, paths.patchesDir].every(isAbsolute))
    throw new KubeadmConfigError("CONFIG_INVALID", "Cannot write the kubelet identity", {
      expected: "absolute paths",
      actual: "a relative kubeconfig, certificate or patch directory path",
    });
  const files = kubeletFiles(paths);
  const certDir = paths.certDir;
  await mkdir(certDir, { recursive: true, mode: 0o755 });
  await writeFileAtomic(files.servingKey, credential.keyPem, 0o600);
  await writeFileAtomic(files.servingCert, credential.certPem, 0o644);
  const dated = join(certDir, `${CLIENT_PAIR_PREFIX}-${stamp(opts.now)}.pem`);
  await writeFileAtomic(dated, `${credential.certPem}${credential.keyPem}`, 0o600);
  const link = `${files.clientCurrent}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await symlink(dated, link);
    await rename(link, files.clientCurrent);
  } catch (err) {
    await rm(link, { force: true });
    throw err;
  }
  await mkdir(paths.patchesDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(files.patch, stringify(kubeletConfigFields(files)), 0o644);
  await mkdir(dirname(files.kubeconfig), { recursive: true, mode: 0o755 });
  await writeFileAtomic(
    files.kubeconfig,
    renderKubeletKubeconfig({
      server: `https://${opts.apiServerEndpoint}`,
      caCertPem: credential.caCertPem,
      clientPemPath: files.clientCurrent,
    }),
    0o600,
  );
  return files;
}
