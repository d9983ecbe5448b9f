/**
 * The manifests and the apps cannot drift apart: for every overlay and every container of ours, the
 * environment the kubelet would build (values, fieldRef → placeholders, configMapKeyRef/secretKeyRef →
 * the objects docs/deploy.md step 5 tells the operator to create) is
 *
 * 1. validated with the app's own exported ConfigSchema (must pass), with no variable the schema does not
 *    know;
 * 2. checked against the pod's file system: every path a variable names is a mount of the right volume
 *    (Secret, ConfigMap, hostPath) projecting that file; every key referenced exists in the documented
 *    objects; every listener the pod declares, probes or scrapes is one the app opens, on all interfaces;
 * 3. used to start the compiled binary (dist/, `bun scripts/build.ts`) with the mounts mirrored into a
 *    temporary tree holding what the bootstrapper creates at init (paths and listeners remapped to it and
 *    to loopback), to see how far it gets:
 *    - kms: serves; its probes answer without a client certificate; the JoinService's mounted client
 *      certificate fetches a data key under the KMS's documented DNS name (the Secrets pair up);
 *    - join-service: ready (/readyz 200) against the test API server, reached in-cluster with its
 *      ServiceAccount token through the rendered RBAC (never a 401/403), without owners and with them
 *      (anchor from its ConfigMap, the owners' log listed by label, the approved policy enforced); it
 *      stops before a join (no attesting node) and before dialing the KMS (kms.asterism-system.svc does
 *      not resolve here);
 *    - verification-service: past configuration to opening /dev/tpmrm0, which this machine does not
 *      have (`verification-service.tpm_open_failed`); with a TPM it would listen and answer /healthz.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { toHex } from "@asterism/bytes";
import {
  CONTROL_PLANE_FILE_NAMES,
  clusterPkiFiles,
  generateClusterPki,
  writeControlPlaneFiles,
} from "@asterism/kubeadm";
import { localImage, localImageMeasurements, writeJoinConfig } from "@asterism/lifecycle";
import { createMtlsFetch } from "@asterism/mtls";
import type { ListenAddress } from "@asterism/service";
import { kubernetesState } from "@asterism/state";
import { createTestOwners, repoRoot } from "@asterism/testing";
import * as v from "valibot";
import { buildServiceObjects } from "../../apps/bootstrapper/src/cluster-objects.ts";
import { ConfigSchema as JoinServiceConfigSchema } from "../../apps/join-service/src/config.ts";
import { KmsConfigSchema } from "../../apps/kms/src/config.ts";
import { ConfigSchema as VerificationServiceConfigSchema } from "../../apps/verification-service/src/config.ts";
import {
  createRbacAuthorizer,
  listOverlays,
  renderKustomization,
  serviceAccountUser,
} from "../../k8s/render/index.ts";
import { createTestPki, startTestApiServer, type TestApiServer } from "../kube-apiserver/index.ts";
import {
  containerEnvironment,
  type DocumentedObject,
  documentedObjects,
  type Mount,
  mounts,
  objectReferences,
  projectedFiles,
  resolvePath,
  SERVICE_ACCOUNT_MOUNT,
  tokenMounted,
  type WorkloadContainer,
  workloadContainers,
} from "./pod-environment.ts";

setDefaultTimeout(60_000);

const K8S = join(repoRoot, "k8s");
const DEPLOY_MD = readFileSync(join(repoRoot, "docs", "deploy.md"), "utf8");
const DOCUMENTED = documentedObjects(DEPLOY_MD);
/**
 * Objects a cluster may or may not have, referenced only optionally: the owners' anchor, written by
 * `asterism init --owner` (docs/owner.md). Environments are validated without and with them.
 */
const OPTIONAL_OBJECTS: DocumentedObject[] = [
  { kind: "ConfigMap", name: "asterism-owner-anchor", keys: ["anchor"] },
];

// ---------------------------------------------------------------------------------------------------------
// What each app reads, beyond its schema: which variables name paths (and what must be mounted there), and
// which listeners it opens. Every variable whose value is an absolute path must be classified here.

type PathUse =
  | { readonly kind: "file"; readonly volume: "secret" | "configMap" }
  | { readonly kind: "dir"; readonly volume: "hostPath"; readonly reads: readonly string[] }
  | { readonly kind: "device" };

interface Listener {
  readonly scheme: "HTTP" | "HTTPS" | "aTLS";
  readonly address: ListenAddress;
  /** The variables that set it, remapped to loopback and a free port for the binary run. */
  readonly remap: Readonly<Record<string, string>>;
}

interface AppContract {
  readonly binary: string;
  readonly schema: v.GenericSchema<Record<string, unknown>, unknown>;
  readonly keys: readonly string[];
  readonly paths: Readonly<Record<string, PathUse>>;
  listeners(config: Record<string, unknown>): Record<string, Listener>;
}

const entriesOf = (schema: unknown): string[] => {
  const s = schema as { entries?: Record<string, unknown>; pipe?: unknown[] };
  if (s.entries) return Object.keys(s.entries);
  const inner = s.pipe?.find((p) => (p as { entries?: unknown }).entries !== undefined);
  if (inner === undefined) throw new Error("schema without object entries");
  return Object.keys((inner as { entries: Record<string, unknown> }).entries);
};
const listen = (c: Record<string, unknown>, k: string) => c[k] as ListenAddress;
const secretFile = { kind: "file", volume: "secret" } as const;

const APPS: Record<string, AppContract> = {
  "join-service": {
    binary: "join-service",
    schema: JoinServiceConfigSchema as unknown as AppContract["schema"],
    keys: entriesOf(JoinServiceConfigSchema),
    paths: {
      ASTERISM_PKI_DIR: { kind: "dir", volume: "hostPath", reads: CONTROL_PLANE_FILE_NAMES },
      ASTERISM_KMS_CA_FILE: secretFile,
      ASTERISM_KMS_CERT_FILE: secretFile,
      ASTERISM_KMS_KEY_FILE: secretFile,
    },
    listeners: (c) => ({
      join: {
        scheme: "aTLS",
        address: listen(c, "ASTERISM_JOIN_LISTEN"),
        remap: { ASTERISM_JOIN_LISTEN: "127.0.0.1:0" },
      },
      http: {
        scheme: "HTTP",
        address: listen(c, "ASTERISM_HTTP_LISTEN"),
        remap: { ASTERISM_HTTP_LISTEN: "127.0.0.1:0" },
      },
    }),
  },
  kms: {
    binary: "kms",
    schema: KmsConfigSchema as unknown as AppContract["schema"],
    keys: entriesOf(KmsConfigSchema),
    paths: {
      KMS_TLS_CERT_FILE: secretFile,
      KMS_TLS_KEY_FILE: secretFile,
      KMS_CA_CERT_FILE: secretFile,
      KMS_MASTER_SECRET_FILE: secretFile,
    },
    listeners: (c) => ({
      kms: {
        scheme: "HTTPS",
        address: { host: c["KMS_HOST"] as string, port: c["KMS_PORT"] as number },
        remap: { KMS_HOST: "127.0.0.1", KMS_PORT: "0" },
      },
    }),
  },
  "verification-service": {
    binary: "verification-service",
    schema: VerificationServiceConfigSchema as unknown as AppContract["schema"],
    keys: entriesOf(VerificationServiceConfigSchema),
    paths: {
      ASTERISM_TPM: { kind: "device" },
      ASTERISM_RUN_DIR: { kind: "dir", volume: "hostPath", reads: ["eventlog.bin"] },
    },
    listeners: (c) => ({
      verify: {
        scheme: "HTTP",
        address: listen(c, "ASTERISM_VERIFY_LISTEN"),
        remap: { ASTERISM_VERIFY_LISTEN: "127.0.0.1:0" },
      },
    }),
  },
};

/** Placeholders for the pod fields the kubelet resolves. */
const FIELDS: Record<string, string> = {
  "metadata.name": "pod-0",
  "metadata.namespace": "asterism-system",
  "spec.nodeName": "control-plane-0",
  "spec.serviceAccountName": "service-account",
  "status.hostIP": "10.42.0.10",
  "status.podIP": "10.244.0.10",
};

// ---------------------------------------------------------------------------------------------------------
// The contents of every documented object: what the bootstrapper creates (the operator, by hand, the same).

const NOW = new Date();
const API_SERVER_ENDPOINT = "10.42.0.10:6443";
let contents: Map<string, Record<string, string>>;

/**
 * The contents of every documented object: what the bootstrapper creates at init (cluster-objects.ts),
 * decoded, plus the owners' anchor.
 */
async function objectContents(): Promise<Map<string, Record<string, string>>> {
  const random = () => crypto.getRandomValues(new Uint8Array(32));
  const built = await buildServiceObjects(
    {
      masterSecret: { key: random(), salt: random() },
      measurementSalt: random(),
      kubernetesVersion: "v1.33.0",
      components: [],
      apiServerEndpoint: API_SERVER_ENDPOINT,
    },
    NOW,
  );
  const out = new Map<string, Record<string, string>>();
  for (const o of built) {
    const data = (o as unknown as { data: Record<string, string> }).data;
    out.set(
      `${o.kind}/${o.metadata.name}`,
      Object.fromEntries(
        Object.entries(data).map(([k, val]) => [
          k,
          o.kind === "Secret" ? Buffer.from(val, "base64").toString("utf8") : val,
        ]),
      ),
    );
  }
  out.set("ConfigMap/asterism-owner-anchor", { anchor: toHex(random()) });
  return out;
}

const documentedKeys = (objects: readonly DocumentedObject[]) => (kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.name === name)?.keys;

/** The environment of `w` with the documented objects (and, when `withOptional`, the optional ones). */
function environmentOf(w: WorkloadContainer, withOptional: boolean): Record<string, string> {
  const present = withOptional ? [...DOCUMENTED, ...OPTIONAL_OBJECTS] : DOCUMENTED;
  return containerEnvironment(w, {
    field: (path) => {
      const value = FIELDS[path];
      if (value === undefined) throw new Error(`no placeholder for fieldRef ${path}`);
      return value;
    },
    key: (kind, name, key) =>
      documentedKeys(present)(kind, name)?.includes(key) ? contents.get(`${kind}/${name}`)?.[key] : undefined,
  });
}

/**
 * Mounts the manifests carry for a variant the apps do not implement yet (they handle qemu-vtpm only):
 * the SEV-SNP guest device of the aws and gcp overlays. Listed so the gap stays visible (k8s/README.md).
 */
const AHEAD_OF_THE_APPS: Readonly<Record<string, readonly string[]>> = {
  "verification-service": ["/dev/sev-guest"],
};

/** True when the app reads something in `m` (a path variable resolves into it, or its API token is used). */
function usedMount(w: WorkloadContainer, m: Mount): boolean {
  const app = appOf(w);
  const env = environmentOf(w, true);
  if (m.volume === undefined) return env["ASTERISM_STATE"]?.startsWith("kube-in-cluster:") ?? false;
  if (m.volume.emptyDir !== undefined && m.mountPath === "/tmp") return true; // the runtime's temp dir
  return Object.entries(app.paths).some(([name, use]) => {
    const value = env[name];
    if (value === undefined) return false;
    const files = use.kind === "dir" ? use.reads.map((f) => join(value, f)) : [value];
    return files.some((f) => resolvePath(mounts(w), f)?.mount.mountPath === m.mountPath);
  });
}

const appOf = (w: WorkloadContainer): AppContract => {
  const app = APPS[w.container.name];
  if (app === undefined)
    throw new Error(`${w.workload}: container ${w.container.name} is not an app of ours`);
  return app;
};

// ---------------------------------------------------------------------------------------------------------

const RENDERED = listOverlays(K8S).map((o) => [o, renderKustomization(join(K8S, "overlays", o))] as const);

beforeAll(async () => {
  contents = await objectContents();
});

test("docs/deploy.md step 5 documents exactly the objects the bootstrapper creates, with their keys", () => {
  expect(DOCUMENTED.map((d) => `${d.kind}/${d.name}`).sort()).toEqual(
    [...contents.keys()].filter((k) => !OPTIONAL_OBJECTS.some((o) => `${o.kind}/${o.name}` === k)).sort(),
  );
  for (const d of [...DOCUMENTED, ...OPTIONAL_OBJECTS])
    expect(Object.keys(contents.get(`${d.kind}/${d.name}`) ?? {}).sort()).toEqual([...d.keys].sort());
  // The optional objects are named in the guide, so an operator knows they exist.
  for (const o of OPTIONAL_OBJECTS) expect(DEPLOY_MD).toContain(o.name);
});

describe.each(RENDERED)("%s: every container's environment", (_overlay, objects) => {
  const containers = workloadContainers(objects);

  test("every container is an app with a contract here", () => {
    expect(containers.map((w) => w.container.name).sort()).toEqual(Object.keys(APPS).sort());
  });

  describe.each(containers.map((w) => [w.container.name, w] as const))("%s", (_name, w) => {
    const app = appOf(w);

    test("validates with the app's ConfigSchema, with and without the optional objects", () => {
      for (const optional of [false, true]) {
        const r = v.safeParse(app.schema, environmentOf(w, optional));
        expect(r.issues?.map((i) => `${v.getDotPath(i)}: ${i.message}`) ?? []).toEqual([]);
      }
    });

    test("sets no variable the schema does not know", () => {
      const names = w.container.env.map((e) => e.name);
      expect(names.filter((n) => !app.keys.includes(n))).toEqual([]);
      expect(names.every((n) => n.startsWith("ASTERISM_") || n.startsWith("KMS_"))).toBe(true);
    });

    test("every Secret/ConfigMap key it references is created by docs/deploy.md step 5", () => {
      for (const ref of objectReferences(w)) {
        const documented = documentedKeys(ref.optional ? [...DOCUMENTED, ...OPTIONAL_OBJECTS] : DOCUMENTED)(
          ref.kind,
          ref.name,
        );
        expect(documented, `${ref.via}: ${ref.kind} ${ref.name}`).toBeDefined();
        for (const k of ref.keys ?? [])
          expect(documented, `${ref.via}: ${ref.kind} ${ref.name}`).toContain(k);
      }
    });

    test("every path a variable names is a mount of the right volume, read-only", () => {
      const env = environmentOf(w, true);
      const ms = mounts(w);
      const keysOf = documentedKeys([...DOCUMENTED, ...OPTIONAL_OBJECTS]);
      for (const [name, value] of Object.entries(env)) {
        if (!value.startsWith("/")) continue;
        const use = app.paths[name];
        expect(use, `${name}=${value} is a path: classify it in APPS`).toBeDefined();
        if (use === undefined) continue;
        const files = use.kind === "dir" ? use.reads.map((f) => join(value, f)) : [value];
        for (const file of files) {
          const at = resolvePath(ms, file);
          expect(at, `${name}: ${file} is not mounted`).toBeDefined();
          if (at === undefined) continue;
          const vol = at.mount.volume;
          if (use.kind === "device") {
            expect([at.rel, vol?.hostPath?.type]).toEqual(["", "CharDevice"]);
            continue;
          }
          expect(at.mount.readOnly, `${name}: ${at.mount.mountPath} read-only`).toBe(true);
          if (use.volume === "hostPath") {
            expect(vol?.hostPath, `${name}: ${file} must be on a hostPath`).toBeDefined();
            expect(at.rel === "" ? "File" : "Directory").toBe(vol?.hostPath?.type ?? "");
            continue;
          }
          expect(vol?.[use.volume], `${name}: ${file} must come from a ${use.volume} volume`).toBeDefined();
          const projected = vol === undefined ? undefined : projectedFiles(vol, keysOf);
          expect([...(projected?.keys() ?? [])], `${name}: ${file}`).toContain(at.rel);
        }
      }
    });

    test("mounts nothing the app does not read (but the variant devices it does not implement yet)", () => {
      const unused = mounts(w)
        .filter((m) => !usedMount(w, m))
        .map((m) => m.mountPath);
      for (const path of unused) expect(AHEAD_OF_THE_APPS[w.container.name] ?? []).toContain(path);
    });

    test("listeners: every declared port is one the app opens on all interfaces; probes and scrapes match", () => {
      const config = v.parse(app.schema, environmentOf(w, false)) as Record<string, unknown>;
      const listeners = Object.values(app.listeners(config));
      const declared = w.container.ports ?? [];
      expect(declared.map((p) => p.containerPort).sort()).toEqual(
        listeners.map((l) => l.address.port).sort(),
      );
      for (const l of listeners) expect(l.address.host).toBe("0.0.0.0");
      const byPort = (port: unknown) => {
        const n = typeof port === "number" ? port : declared.find((p) => p.name === port)?.containerPort;
        return listeners.find((l) => l.address.port === n);
      };
      const c = w.container as Record<string, unknown>;
      for (const probe of ["livenessProbe", "readinessProbe"]) {
        const get = (c[probe] as { httpGet?: { port: unknown; scheme?: string } } | undefined)?.httpGet;
        expect(get, `${probe} is an HTTP(S) probe`).toBeDefined();
        expect(byPort(get?.port)?.scheme, `${probe} on ${String(get?.port)}`).toBe(
          (get?.scheme ?? "HTTP") as "HTTP" | "HTTPS",
        );
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// The compiled binaries, started with the rendered environment (qemu overlay; every overlay's computed
// environment and mounts are identical, which the first test asserts, so one run covers them all).

const dist = join(repoRoot, "dist");
const root = mkdtempSync(join(tmpdir(), "asterism-drift-"));
const children: ReturnType<typeof Bun.spawn>[] = [];
let pki: ReturnType<typeof createTestPki>;
let api: TestApiServer;
const SA_TOKEN = `sa-${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
const ADMIN_TOKEN = `admin-${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
const qemu = RENDERED.find(([o]) => o === "qemu")?.[1] ?? [];
const container = (name: string) => {
  const w = workloadContainers(qemu).find((x) => x.container.name === name);
  if (w === undefined) throw new Error(`no ${name} in the qemu overlay`);
  return w;
};

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await Promise.all(children.map((c) => c.exited));
  await api?.stop();
  rmSync(root, { recursive: true, force: true });
});

beforeAll(async () => {
  const missing = Object.values(APPS)
    .map((a) => a.binary)
    .filter((b) => !existsSync(join(dist, b)));
  if (missing.length > 0) {
    const p = Bun.spawnSync(["bun", join(repoRoot, "scripts", "build.ts"), ...missing], { cwd: repoRoot });
    if (p.exitCode !== 0) throw new Error(`build: ${p.stderr.toString()}`);
  }
  pki = createTestPki();
  const objects = qemu;
  const authorize = createRbacAuthorizer(objects);
  api = await startTestApiServer({
    tls: { cert: pki.serverCert, key: pki.serverKey },
    users: new Map([
      [SA_TOKEN, serviceAccountUser("asterism-system", "join-service")],
      [ADMIN_TOKEN, "kubernetes-admin"],
    ]),
    authorize: (a) => a.user === "kubernetes-admin" || authorize(a),
    namespaces: ["default", "kube-system", "asterism-system"],
  });
});

/**
 * Mirror the container's mounts under `dir` (Secret/ConfigMap keys with the generated contents, the
 * kubeadm PKI on its hostPath, a placeholder identity event log, emptyDirs, the ServiceAccount token) and
 * return its environment with every path and listener remapped.
 */
async function materialize(
  w: WorkloadContainer,
  dir: string,
  withOptional = false,
): Promise<Record<string, string>> {
  const app = appOf(w);
  const env = environmentOf(w, withOptional);
  const keysOf = documentedKeys(DOCUMENTED);
  const write = (path: string, data: string | Uint8Array) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), data, { mode: 0o600 });
  };
  for (const m of mounts(w) as Mount[]) {
    const vol = m.volume;
    if (vol === undefined) {
      // The kubelet's ServiceAccount mount: token, the API server's CA, the namespace.
      write(join(m.mountPath, "token"), SA_TOKEN);
      write(join(m.mountPath, "ca.crt"), pki.ca);
      write(join(m.mountPath, "namespace"), w.namespace);
      continue;
    }
    const projected = projectedFiles(vol, keysOf);
    if (projected !== undefined) {
      const source = vol.secret ? `Secret/${vol.secret.secretName}` : `ConfigMap/${vol.configMap?.name}`;
      for (const [file, key] of projected) {
        const data = contents.get(source)?.[key];
        if (data === undefined) throw new Error(`${source} has no key ${key}`);
        write(join(m.mountPath, file), data);
      }
    } else if (vol.hostPath?.path === "/etc/kubernetes/pki") {
      await writeControlPlaneFiles(join(dir, m.mountPath), clusterPkiFiles(await generateClusterPki()));
    } else if (vol.hostPath?.type === "File") {
      // Not read before the TPM answers (the service reads it per document).
      write(m.mountPath, new Uint8Array(0));
    } else if (vol.hostPath?.type === "CharDevice") {
      // A device cannot be mirrored: ASTERISM_TPM accepts only /dev/tpm* (see the file comment).
    } else if (vol.emptyDir !== undefined) {
      mkdirSync(join(dir, m.mountPath), { recursive: true });
    } else throw new Error(`${w.workload}: volume ${vol.name} cannot be mirrored`);
  }
  const config = v.parse(app.schema, env) as Record<string, unknown>;
  const remapped: Record<string, string> = { ...env };
  for (const [name, use] of Object.entries(app.paths))
    if (use.kind !== "device" && env[name] !== undefined) remapped[name] = join(dir, env[name] as string);
  for (const l of Object.values(app.listeners(config))) Object.assign(remapped, l.remap);
  if (tokenMounted(w)) remapped["ASTERISM_SERVICE_ACCOUNT_DIR"] = join(dir, SERVICE_ACCOUNT_MOUNT);
  return remapped;
}

function spawn(binary: string, dir: string, env: Record<string, string>) {
  const child = Bun.spawn([join(dist, binary)], {
    cwd: dir,
    env: { PATH: "/usr/bin:/bin", HOME: dir, ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: Bun.file(join(dir, "stderr.log")),
  });
  children.push(child);
  return child;
}
const logOf = (dir: string) =>
  existsSync(join(dir, "stderr.log")) ? readFileSync(join(dir, "stderr.log"), "utf8") : "";

async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await f();
    if (value !== undefined) return value;
    await Bun.sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("the compiled binaries with the rendered environment", () => {
  test("every overlay computes the same environment and used mounts (one run covers them all)", () => {
    for (const [overlay, objects] of RENDERED)
      for (const w of workloadContainers(objects)) {
        const q = container(w.container.name);
        const used = (x: WorkloadContainer) => mounts(x).filter((m) => usedMount(x, m));
        expect([environmentOf(w, true), used(w)], `${overlay} ${w.container.name}`).toEqual([
          environmentOf(q, true),
          used(q),
        ]);
      }
  });

  test("kms: serves; probes need no client certificate; the JoinService's mounted certificate gets a key", async () => {
    const dir = join(root, "kms");
    mkdirSync(dir);
    const env = await materialize(container("kms"), dir);
    const child = spawn("kms", dir, env);
    const port = await waitFor("kms.listening", () => {
      if (child.exitCode !== null) throw new Error(`kms exited ${child.exitCode}: ${logOf(dir)}`);
      const m = /"msg":"kms.listening".*?"port":(\d+)/.exec(logOf(dir));
      return m ? Number(m[1]) : undefined;
    });
    // The kubelet's HTTPS probe: no client certificate, no server verification.
    for (const path of ["/healthz", "/readyz"]) {
      const res = await fetch(`https://127.0.0.1:${port}${path}`, {
        tls: { rejectUnauthorized: false },
      } as RequestInit);
      expect(res.status, path).toBe(200);
    }
    // The JoinService as mounted: its ca.crt verifies the KMS under the DNS name it dials.
    const mounted = join(root, "kms-client");
    mkdirSync(mounted);
    const joinEnv = await materialize(container("join-service"), mounted);
    const asJoin = createMtlsFetch({
      caCertPem: readFileSync(joinEnv["ASTERISM_KMS_CA_FILE"] as string, "utf8"),
      certPem: readFileSync(joinEnv["ASTERISM_KMS_CERT_FILE"] as string, "utf8"),
      keyPem: readFileSync(joinEnv["ASTERISM_KMS_KEY_FILE"] as string, "utf8"),
      serverName: new URL(joinEnv["ASTERISM_KMS_URL"] as string).hostname,
    });
    const res = await asJoin(`https://127.0.0.1:${port}/v1/data-keys/${crypto.randomUUID()}?length=32`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { key: string }).key).toBeString();
  });

  test("join-service: ready against the API server, in-cluster, through the rendered RBAC", async () => {
    const dir = join(root, "join-service");
    mkdirSync(dir);
    const env = await materialize(container("join-service"), dir);
    // The join configuration, as `asterism apply` writes it with the admin kubeconfig.
    const admin = kubernetesState({
      server: api.url,
      namespace: "asterism-system",
      ca: pki.ca,
      token: ADMIN_TOKEN,
    });
    await writeJoinConfig(admin, {
      policy: { measurements: localImageMeasurements(localImage("drift")) },
      measurementSalt: new Uint8Array(32).fill(7),
      kubernetesVersion: "v1.33.0",
      components: [],
    });
    const endpoints = join(dir, "endpoints.json");
    const child = spawn("join-service", dir, {
      ...env,
      ASTERISM_ENDPOINTS_FILE: endpoints,
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: new URL(api.url).port,
    });
    const http = await waitFor("the ops listener", () => {
      if (child.exitCode !== null) throw new Error(`join-service exited ${child.exitCode}: ${logOf(dir)}`);
      try {
        return (JSON.parse(readFileSync(endpoints, "utf8")) as Record<string, string>)["http"];
      } catch {
        return undefined;
      }
    });
    expect((await fetch(`${http}/healthz`)).status).toBe(200);
    await waitFor("/readyz 200", async () =>
      (await fetch(`${http}/readyz`)).status === 200 ? true : undefined,
    );
    const log = logOf(dir);
    expect(log).toContain('"msg":"join.pki_loaded"');
    expect(log).toContain('"msg":"join.config_loaded"');
    expect(log).not.toContain("invalid configuration");
    const mine = api.requests.filter(
      (r) => r.attributes?.user === serviceAccountUser("asterism-system", "join-service"),
    );
    expect(mine.length).toBeGreaterThan(0);
    expect(api.requests.filter((r) => r.status === 401 || r.status === 403)).toEqual([]);
  });

  test("join-service with owners: the anchor from its ConfigMap, the owners' log listed through the rendered RBAC", async () => {
    // The owners' genesis and an approval of the join configuration's policy, in asterism-system, as
    // `asterism init --owner` and the owners would write them; the anchor ConfigMap holds the genesis hash.
    const admin = kubernetesState({
      server: api.url,
      namespace: "asterism-system",
      ca: pki.ca,
      token: ADMIN_TOKEN,
    });
    const owners = await createTestOwners(admin);
    const measurements = localImageMeasurements(localImage("drift"));
    await owners.approve("attestation-policy", {
      policy: {
        measurements: Object.fromEntries(
          [...measurements].map(([i, m]) => [
            String(i),
            { expected: m.expected, warnOnly: m.warnOnly ?? false },
          ]),
        ),
      },
    });
    contents.set("ConfigMap/asterism-owner-anchor", { anchor: owners.anchor });
    const dir = join(root, "join-service-owners");
    mkdirSync(dir);
    const env = await materialize(container("join-service"), dir, true);
    expect(env["ASTERISM_OWNER_ANCHOR"]).toBe(owners.anchor);
    const endpoints = join(dir, "endpoints.json");
    const before = api.requests.length;
    const child = spawn("join-service", dir, {
      ...env,
      ASTERISM_ENDPOINTS_FILE: endpoints,
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: new URL(api.url).port,
    });
    const http = await waitFor("the ops listener", () => {
      if (child.exitCode !== null) throw new Error(`join-service exited ${child.exitCode}: ${logOf(dir)}`);
      try {
        return (JSON.parse(readFileSync(endpoints, "utf8")) as Record<string, string>)["http"];
      } catch {
        return undefined;
      }
    });
    await waitFor("/readyz 200", async () =>
      (await fetch(`${http}/readyz`)).status === 200 ? true : undefined,
    );
    expect(logOf(dir)).toContain('"approvedIn":1');
    expect(logOf(dir)).not.toContain("owner_approval_disabled");
    const mine = api.requests
      .slice(before)
      .filter((r) => r.attributes?.user === serviceAccountUser("asterism-system", "join-service"));
    expect(mine.some((r) => r.attributes?.verb === "list" && r.status === 200)).toBe(true);
    expect(mine.filter((r) => r.status === 401 || r.status === 403)).toEqual([]);
  });

  test("verification-service: past configuration, to the TPM", async () => {
    const dir = join(root, "verification-service");
    mkdirSync(dir);
    const env = await materialize(container("verification-service"), dir);
    const endpoints = join(dir, "endpoints.json");
    const child = spawn("verification-service", dir, { ...env, ASTERISM_ENDPOINTS_FILE: endpoints });
    if (!existsSync("/dev/tpmrm0")) {
      expect(await child.exited).toBe(1);
      const log = logOf(dir);
      expect(log).toContain('"msg":"verification-service.tpm_open_failed"');
      expect(log).toContain("/dev/tpmrm0");
      expect(log).not.toContain("invalid configuration");
      return;
    }
    const url = await waitFor("the listener", () => {
      try {
        return (JSON.parse(readFileSync(endpoints, "utf8")) as Record<string, string>)["verify"];
      } catch {
        return undefined;
      }
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
