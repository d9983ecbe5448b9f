import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type ClusterPki, loadCa } from "./ca.ts";
import { type PkiDeps, resolvePkiDeps } from "./deps.ts";
import { JoinPolicyError, PkiError } from "./errors.ts";
import { type AttestedNodeIdentity, checkAttestedIdentity } from "./identity.ts";
import { importPrivateKeyPem } from "./keys.ts";
import { x509 } from "./x509.ts";

/**
 * The files a node needs for `kubeadm join --control-plane` when certificates are copied rather than
 * uploaded (kubeadm `copycerts`: the shared CA, front-proxy CA, stacked-etcd CA and service-account keys),
 * relative to kubeadm's certificatesDir `/etc/kubernetes/pki`. Same names as Constellation's
 * `control_plane_files`.
 */
export const CONTROL_PLANE_FILE_NAMES = [
  "ca.crt",
  "ca.key",
  "sa.key",
  "sa.pub",
  "front-proxy-ca.crt",
  "front-proxy-ca.key",
  "etcd/ca.crt",
  "etcd/ca.key",
] as const;

/** One of {@link CONTROL_PLANE_FILE_NAMES}. */
export type ControlPlaneFileName = (typeof CONTROL_PLANE_FILE_NAMES)[number];

/** A file of the control-plane bundle. `data` of a `.key` file is secret. */
export interface ControlPlaneFile {
  readonly name: ControlPlaneFileName;
  readonly data: string;
}

const SECRET_FILES: ReadonlySet<string> = new Set(["ca.key", "sa.key", "front-proxy-ca.key", "etcd/ca.key"]);

/** The eight files of a {@link ClusterPki}, in {@link CONTROL_PLANE_FILE_NAMES} order (no role check: for init). */
export function clusterPkiFiles(pki: ClusterPki): ControlPlaneFile[] {
  const files: Record<ControlPlaneFileName, string> = {
    "ca.crt": pki.ca.certPem,
    "ca.key": pki.ca.keyPem,
    "sa.key": pki.serviceAccount.privateKeyPem,
    "sa.pub": pki.serviceAccount.publicKeyPem,
    "front-proxy-ca.crt": pki.frontProxyCa.certPem,
    "front-proxy-ca.key": pki.frontProxyCa.keyPem,
    "etcd/ca.crt": pki.etcdCa.certPem,
    "etcd/ca.key": pki.etcdCa.keyPem,
  };
  return CONTROL_PLANE_FILE_NAMES.map((name) => ({ name, data: files[name] }));
}

/**
 * Builds the control-plane certificate/key bundle of a join ticket.
 *
 * SECURITY: `identity.role` MUST come from the node's verified attestation (see {@link AttestedNodeIdentity}),
 * never from the join request. These files contain every cluster CA private key; Constellation handed them
 * to any node that set `is_control_plane` in its request. Anything but exactly `"control-plane"` is refused
 * with {@link JoinPolicyError} `ROLE_NOT_CONTROL_PLANE`.
 */
export function buildControlPlaneFiles(identity: AttestedNodeIdentity, pki: ClusterPki): ControlPlaneFile[] {
  const checked = checkAttestedIdentity(identity);
  if (checked.role !== "control-plane") {
    throw new JoinPolicyError("ROLE_NOT_CONTROL_PLANE", "Refusing to issue control-plane files", {
      expected: "attested role control-plane",
      actual: `attested role ${checked.role}`,
    });
  }
  return clusterPkiFiles(pki);
}

function fileMap(files: readonly { name: string; data: string }[]): Map<ControlPlaneFileName, string> {
  const allowed: ReadonlySet<string> = new Set(CONTROL_PLANE_FILE_NAMES);
  const map = new Map<ControlPlaneFileName, string>();
  for (const f of files) {
    if (!allowed.has(f.name) || map.has(f.name as ControlPlaneFileName)) {
      throw new PkiError("PKI_FILE_INVALID", "Cannot accept control-plane files", {
        expected: `each of ${CONTROL_PLANE_FILE_NAMES.join(", ")} once`,
        actual: JSON.stringify(f.name.slice(0, 64)),
      });
    }
    map.set(f.name as ControlPlaneFileName, f.data);
  }
  for (const name of CONTROL_PLANE_FILE_NAMES) {
    if (!map.has(name)) {
      throw new PkiError("PKI_FILE_INVALID", "Cannot accept control-plane files", {
        expected: `file ${name}`,
        actual: "missing",
      });
    }
  }
  return map;
}

/**
 * Parses and checks a control-plane bundle (from a join ticket or from disk): every file present exactly once,
 * each CA certificate matches its key and is valid now, and `sa.pub` is the public half of `sa.key`.
 */
export async function loadClusterPki(
  files: readonly { name: string; data: string }[],
  deps: Partial<PkiDeps> = {},
): Promise<ClusterPki> {
  const d = resolvePkiDeps(deps);
  const m = fileMap(files);
  const get = (n: ControlPlaneFileName): string => m.get(n) as string;
  const [ca, frontProxyCa, etcdCa] = await Promise.all([
    loadCa(get("ca.crt"), get("ca.key"), d, "cluster CA"),
    loadCa(get("front-proxy-ca.crt"), get("front-proxy-ca.key"), d, "front-proxy CA"),
    loadCa(get("etcd/ca.crt"), get("etcd/ca.key"), d, "etcd CA"),
  ]);
  const sa = await importPrivateKeyPem(get("sa.key"), d.crypto, "service-account key");
  let saPub: Uint8Array;
  try {
    saPub = new Uint8Array(new x509.PublicKey(get("sa.pub")).rawData);
  } catch (cause) {
    throw new PkiError("PEM_INVALID", "Cannot parse sa.pub", { expected: "a PEM public key", cause });
  }
  if (Buffer.compare(Buffer.from(saPub), Buffer.from(sa.spki)) !== 0) {
    throw new PkiError("KEY_MISMATCH", "Cannot use service-account keys", {
      expected: "sa.pub to be the public half of sa.key",
      actual: "a different key",
    });
  }
  return {
    ca,
    frontProxyCa,
    etcdCa,
    serviceAccount: { privateKeyPem: get("sa.key"), publicKeyPem: get("sa.pub") },
  };
}

/**
 * Writes a control-plane bundle under `pkiDir` (normally `/etc/kubernetes/pki`): keys mode 0600,
 * certificates 0644, each written to a temporary name and renamed so a crash never leaves half a key.
 * Only the fixed {@link CONTROL_PLANE_FILE_NAMES} are accepted, so a name can never escape `pkiDir`.
 */
export async function writeControlPlaneFiles(
  pkiDir: string,
  files: readonly { name: string; data: string }[],
): Promise<void> {
  const m = fileMap(files);
  for (const [name, data] of m) {
    const target = join(pkiDir, name);
    await mkdir(dirname(target), { recursive: true, mode: 0o755 });
    const tmp = `${target}.tmp-${process.pid}`;
    await writeFile(tmp, data, { mode: SECRET_FILES.has(name) ? 0o600 : 0o644 });
    await rename(tmp, target);
  }
}

/** Reads the bundle back from `pkiDir` (the JoinService reads the files its control-plane host holds). */
export async function readControlPlaneFiles(pkiDir: string): Promise<ControlPlaneFile[]> {
  return Promise.all(
    CONTROL_PLANE_FILE_NAMES.map(async (name) => ({
      name,
      data: await readFile(join(pkiDir, name), "utf8"),
    })),
  );
}
