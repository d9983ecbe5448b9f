/**
 * The Roles grant exactly the Kubernetes API calls the services make, no more.
 *
 * 1. `CALLS` is the table of (service, verb, resource, namespace, name) read from the code paths. It is
 *    not taken on trust: the JoinService's code paths that reach the API (join configuration holder with
 *    the owners' approvals loader, disk ownership, node records, bootstrap tokens) run here against the test
 *    API server, in-cluster with the join-service ServiceAccount token, and what the server saw must be
 *    exactly the table. The KMS and the VerificationService import no Kubernetes client at all.
 * 2. Every overlay's rendered RBAC, evaluated with a small authorizer (Roles/ClusterRoles and their
 *    bindings), allows every row and nothing else: every verb × resource × namespace × name combination of
 *    a wide universe is allowed exactly when a row covers it, for each ServiceAccount.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "@asterism/bytes";
import { createBootstrapTokenSecret, generateBootstrapToken } from "@asterism/kubeadm";
import {
  kubeConnectionOf,
  localImage,
  localImageMeasurements,
  openClusterState,
  writeJoinConfig,
  writeNodeRecord,
} from "@asterism/lifecycle";
import { createApprovedStateLoader } from "@asterism/owner";
import { createMemoryLogger } from "@asterism/service";
import { kubernetesState } from "@asterism/state";
import { repoRoot } from "@asterism/testing";
import { createDiskOwnership } from "../../apps/join-service/src/ownership.ts";
import { createJoinConfigHolder } from "../../apps/join-service/src/policy.ts";
import { createKubeTokenPublisher } from "../../apps/join-service/src/tokens.ts";
import {
  type AccessRequest,
  createRbacAuthorizer,
  listOverlays,
  renderKustomization,
  serviceAccountUser,
} from "../../k8s/render/index.ts";
import {
  createTestPki,
  type RequestAttributes,
  startTestApiServer,
  type TestApiServer,
} from "../kube-apiserver/index.ts";

setDefaultTimeout(30_000);

/** One API call a service makes; no `name` = any name (the code computes it per node, disk or token). */
interface Call {
  readonly service: string;
  readonly verb: string;
  readonly apiGroup: string;
  readonly resource: string;
  readonly namespace: string;
  readonly name?: string;
  /** Where in the code, and what for. */
  readonly why: string;
}

const NS = "asterism-system";
const CALLS: readonly Call[] = [
  {
    service: "join-service",
    verb: "get",
    apiGroup: "",
    resource: "configmaps",
    namespace: NS,
    why:
      "apps/join-service/src/policy.ts: watchObject of asterism-join-config and asterism-kubernetes-components; " +
      "@asterism/owner loader: the published policy copy asterism-attestation-policy; ownership.ts: " +
      "asterism-disk-owner-<uuid>; @asterism/lifecycle writeNodeRecord: asterism-node-<name>",
  },
  {
    service: "join-service",
    verb: "list",
    apiGroup: "",
    resource: "configmaps",
    namespace: NS,
    why: "@asterism/owner loader (OwnerStore.readEntries): the owners' audit entries, by label",
  },
  {
    service: "join-service",
    verb: "create",
    apiGroup: "",
    resource: "configmaps",
    namespace: NS,
    why: "ownership.ts: a disk's first owner (first writer wins); writeNodeRecord: a node's first record",
  },
  {
    service: "join-service",
    verb: "update",
    apiGroup: "",
    resource: "configmaps",
    namespace: NS,
    why: "writeNodeRecord: a node's record on every ticket (compare-and-swap)",
  },
  {
    service: "join-service",
    verb: "create",
    apiGroup: "",
    resource: "secrets",
    namespace: "kube-system",
    why: "tokens.ts createKubeTokenPublisher: the bootstrap-token-<id> Secret `kubeadm join` authenticates with",
  },
];
const SERVICES = ["join-service", "kms", "verification-service"] as const;

const rowOf = (c: { verb: string; apiGroup: string; resource: string; namespace?: string; name?: string }) =>
  `${c.verb} ${c.apiGroup}/${c.resource} ${c.namespace ?? "(cluster)"}${c.name === undefined ? "" : `/${c.name}`}`;

/** True when a row of the table covers the request. */
function covered(service: string, r: AccessRequest): boolean {
  return CALLS.some(
    (c) =>
      c.service === service &&
      c.verb === r.verb &&
      c.apiGroup === r.apiGroup &&
      c.resource === r.resource &&
      c.namespace === r.namespace &&
      (c.name === undefined || c.name === r.name),
  );
}

// ---------------------------------------------------------------------------------------------------------
// 1. The table against the code.

describe("the table is what the code does", () => {
  let api: TestApiServer;
  let dir: string;
  const token = `sa-${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
  const adminToken = `admin-${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
  const user = serviceAccountUser(NS, "join-service");
  let ca: string;

  beforeAll(async () => {
    const pki = createTestPki();
    api = await startTestApiServer({
      tls: { cert: pki.serverCert, key: pki.serverKey },
      users: new Map([
        [token, user],
        [adminToken, "kubernetes-admin"],
      ]),
      namespaces: ["kube-system", NS],
    });
    dir = mkdtempSync(join(tmpdir(), "asterism-rbac-sa-"));
    writeFileSync(join(dir, "token"), token);
    writeFileSync(join(dir, "ca.crt"), pki.ca);
    ca = pki.ca;
  });
  afterAll(async () => {
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the JoinService's code paths make exactly the join-service rows' calls", async () => {
    const spec = `kube-in-cluster:${NS}`;
    const opts = {
      serviceAccountDir: dir,
      env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: new URL(api.url).port },
    };
    const state = openClusterState(spec, opts);
    const logger = createMemoryLogger();
    const now = () => new Date();

    // The join configuration, as the CLI writes it with the admin credentials (not a JoinService call).
    await writeJoinConfig(kubernetesState({ server: api.url, namespace: NS, ca, token: adminToken }), {
      policy: { measurements: localImageMeasurements(localImage("rbac")) },
      measurementSalt: new Uint8Array(32).fill(1),
      kubernetesVersion: "v1.33.0",
      components: [],
    });
    // The join configuration holder with owner approvals, as main.ts builds it, until it has read the
    // owners' log (here empty, so the approvals are refused: the calls are what matters).
    const abort = new AbortController();
    createJoinConfigHolder({
      state,
      logger,
      variants: ["qemu-vtpm"],
      reloadMs: 50,
      signal: abort.signal,
      approvals: createApprovedStateLoader({ state, anchor: "ab".repeat(32), logger }),
    });
    const listed = () =>
      api.requests.some((r) => r.attributes?.user === user && r.attributes.verb === "list");
    for (let i = 0; i < 200 && !listed(); i++) await Bun.sleep(25);
    abort.abort();
    await Bun.sleep(100);

    const owner = { nodeName: "worker-0", akSpkiSha256: "cd".repeat(32), role: "worker" };
    const disks = createDiskOwnership(state, now);
    const uuid = crypto.randomUUID();
    await disks.claim(uuid, owner);
    await disks.claim(uuid, owner); // a retry: create is refused, the record is read
    await disks.check(uuid, owner);
    const record = { name: "worker-0", role: "worker" as const, variant: "qemu-vtpm" };
    await writeNodeRecord(state, record);
    await writeNodeRecord(state, record); // the second ticket updates it

    const kubeSystem = kubeConnectionOf(spec, "kube-system", opts);
    if (kubeSystem === undefined) throw new Error("no kube-system connection");
    await createKubeTokenPublisher(kubeSystem).publish(
      createBootstrapTokenSecret({
        token: generateBootstrapToken((n) => crypto.getRandomValues(new Uint8Array(n))),
        now: now(),
      }),
    );

    const calls = api.requests
      .map((r) => r.attributes)
      .filter((a): a is RequestAttributes => a !== undefined && a.user === user);
    // Collapse names where the table allows any name, then compare as sets.
    const made = new Set(
      calls.map((a) => {
        const anyName = CALLS.some(
          (c) =>
            c.name === undefined && rowOf({ ...c, name: undefined }) === rowOf({ ...a, name: undefined }),
        );
        return rowOf(anyName ? { ...a, name: undefined } : a);
      }),
    );
    expect([...made].sort()).toEqual(
      CALLS.filter((c) => c.service === "join-service")
        .map(rowOf)
        .sort(),
    );
  });

  test("the KMS and the VerificationService import no Kubernetes client and open no cluster state", () => {
    const clients = [
      "@kubernetes/client-node",
      "@asterism/kube-apply",
      "kubernetesState",
      "openClusterState",
      "kube-in-cluster",
    ];
    for (const service of ["kms", "verification-service"]) {
      const src = join(repoRoot, "apps", service, "src");
      for (const f of readdirSync(src).filter((x) => x.endsWith(".ts") && !x.includes(".test.")))
        for (const c of clients)
          expect(readFileSync(join(src, f), "utf8"), `${service}/${f}`).not.toContain(c);
    }
    expect(CALLS.filter((c) => c.service !== "join-service")).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// 2. The table against the rendered RBAC.

const K8S = join(repoRoot, "k8s");
const VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
/** Resources worth asking about: everything the Roles mention, plus what an attacker would want. */
const EXTRA_RESOURCES: [string, string][] = [
  ["", "configmaps"],
  ["", "secrets"],
  ["", "pods"],
  ["", "pods/exec"],
  ["", "serviceaccounts"],
  ["", "serviceaccounts/token"],
  ["", "nodes"],
  ["", "namespaces"],
  ["apps", "daemonsets"],
  ["rbac.authorization.k8s.io", "roles"],
  ["rbac.authorization.k8s.io", "rolebindings"],
  ["certificates.k8s.io", "certificatesigningrequests"],
  ["admissionregistration.k8s.io", "validatingadmissionpolicies"],
];
const NAMESPACES = [NS, "kube-system", "default", undefined];

describe.each(listOverlays(K8S))("%s: the rendered RBAC grants exactly the table", (overlay) => {
  const objects = renderKustomization(join(K8S, "overlays", overlay));
  const allowed = createRbacAuthorizer(objects);
  const mentioned = objects
    .filter((o) => o.kind === "Role" || o.kind === "ClusterRole")
    .flatMap(
      (o) =>
        (o as { rules?: { apiGroups?: string[]; resources?: string[]; resourceNames?: string[] }[] }).rules ??
        [],
    );
  const resources = new Map<string, [string, string]>(
    [
      ...EXTRA_RESOURCES,
      ...mentioned.flatMap((r) =>
        (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).map((res) => [g, res] as [string, string])),
      ),
    ].map((x) => [x.join("/"), x]),
  );
  const names = [
    undefined,
    "any-name",
    ...new Set(mentioned.flatMap((r) => r.resourceNames ?? [])),
    ...CALLS.flatMap((c) => (c.name ? [c.name] : [])),
  ];

  test.each(CALLS.map((c) => [`${c.service}: ${rowOf(c)}`, c] as const))("allows %s", (_row, c) => {
    expect(
      allowed({
        user: serviceAccountUser(NS, c.service),
        verb: c.verb,
        apiGroup: c.apiGroup,
        resource: c.resource,
        namespace: c.namespace,
        ...(c.verb === "create" || c.verb === "list" ? {} : { name: c.name ?? "any-name" }),
      }),
    ).toBe(true);
  });

  test.each([...SERVICES, "default"])("%s: nothing beyond its rows", (service) => {
    const extra: string[] = [];
    for (const verb of VERBS)
      for (const [apiGroup, resource] of resources.values())
        for (const namespace of NAMESPACES)
          for (const name of names) {
            if (name !== undefined && ["create", "list", "watch", "deletecollection"].includes(verb))
              continue;
            const r: AccessRequest = {
              user: serviceAccountUser(NS, service),
              verb,
              apiGroup,
              resource,
              ...(namespace === undefined ? {} : { namespace }),
              ...(name === undefined ? {} : { name }),
            };
            if (allowed(r) && !covered(service, r)) extra.push(rowOf(r));
          }
    expect(extra).toEqual([]);
  });
});
