/**
 * Load: many nodes join at once (1000 with LOAD_FULL=1, LOAD_NODES=n for any n, 100 by default) through the real JoinService app
 * served over real client-attested aTLS, with disk keys from the real KMS process over mutual TLS. Nodes
 * are simulated with software evidence (tests/support/software-fleet.ts): the quote is not what is under
 * load here, the service is. Afterwards every node holds exactly its own disk key (recomputed from the
 * master secret), a kubelet certificate for exactly its name, a distinct bootstrap token, and the state
 * records exactly one owner per disk.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { type AtlsServer, serveAttested } from "@asterism/atls";
import { fromUtf8 } from "@asterism/bytes";
import { loadClusterPki, readControlPlaneFiles } from "@asterism/kubeadm";
import { createKubeletCsr, type NodeIdentity, STATE_OBJECTS } from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
import { createMemoryLogger, MetricsRegistry } from "@asterism/service";
import { openSqliteState } from "@asterism/state";
import { X509Certificate } from "@peculiar/x509";
import { createApp } from "../../apps/join-service/src/app.ts";
import { createKmsKeys } from "../../apps/join-service/src/keys.ts";
import { createDiskOwnership } from "../../apps/join-service/src/ownership.ts";
import { effectivePolicy } from "../../apps/join-service/src/policy.ts";
import { createStateTokenPublisher } from "../../apps/join-service/src/tokens.ts";
import { latency } from "../../bench/harness.ts";
import { type ClusterRig, startClusterRig } from "../support/cluster-rig.ts";
import { joinWithRetry } from "../support/join-node.ts";
import { createSoftwareFleet, type SoftwareFleet } from "../support/software-fleet.ts";
import "reflect-metadata";

const N = Number(process.env["LOAD_NODES"] ?? (process.env["LOAD_FULL"] ? 1000 : 100));
setDefaultTimeout(N > 100 ? 900_000 : 120_000);

let rig: ClusterRig;
let server: AtlsServer;
let fleet: SoftwareFleet;
let state: ReturnType<typeof openSqliteState>;
const uuid = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;

beforeAll(async () => {
  rig = await startClusterRig({ policy: { measurements: createMeasurements([]) }, joinService: false });
  const ids: NodeIdentity[] = Array.from({ length: N }, (_, i) => ({
    name: `worker-${i}`,
    role: "worker",
    ips: [`10.${(i >> 8) & 255}.${i & 255}.1`],
  }));
  fleet = await createSoftwareFleet(ids);
  state = openSqliteState(rig.stateDb);
  const logger = createMemoryLogger();
  const pki = await loadClusterPki(await readControlPlaneFiles(join(rig.dir, "pki")));
  const app = createApp({
    config: {
      require: () => ({
        ...effectivePolicy({ measurements: createMeasurements([]) }),
        measurementSalt: new Uint8Array(32).fill(7),
        kubernetesVersion: "v1.31.13",
        components: [],
        validators: new Map(),
        revokedNodes: new Set<string>(),
      }),
    },
    pki: () => pki,
    keys: createKmsKeys({ url: rig.kms.url(), fetch: rig.joinServiceFetch }),
    ownership: createDiskOwnership(state, () => new Date()),
    tokens: createStateTokenPublisher(state, () => new Date(), logger),
    apiServerEndpoint: "127.0.0.1:6443",
    logger,
    metrics: new MetricsRegistry(),
    ready: () => true,
  });
  server = await serveAttested(app, {
    mode: "client-attested",
    validators: [fleet.validator],
    maxPendingAttestations: 256,
  });
});

afterAll(async () => {
  await server?.close();
  state?.close();
  await rig?.stop();
});

test(`${N} nodes join at once: each gets exactly its own disk key and name, nothing is lost`, async () => {
  const csrs = await Promise.all(fleet.nodes.map((n) => createKubeletCsr(n.identity)));
  const endpoint = `https://127.0.0.1:${server.port}`;
  const t0 = performance.now();
  const outcomes = await Promise.all(
    fleet.nodes.map((n, i) =>
      joinWithRetry({
        endpoint: () => endpoint,
        issuer: n.issuer,
        diskUuid: uuid(i),
        csr: (csrs[i] as { csr: Uint8Array }).csr,
        attempts: 30,
        timeoutMs: 60_000,
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  const failed = outcomes.filter((o) => !o.ok);
  expect(failed.map((f) => (f.ok ? "" : f.code))).toEqual([]);

  const tokens = new Set<string>();
  for (const [i, o] of outcomes.entries()) {
    if (!o.ok) continue;
    const node = fleet.nodes[i] as (typeof fleet.nodes)[number];
    expect(o.ticket.diskKey).toEqual(await rig.expectedDiskKey(uuid(i)));
    const cert = new X509Certificate(o.ticket.kubeletCert as string);
    expect(cert.subject).toBe(`CN=system:node:${node.identity.name}, O=system:nodes`);
    tokens.add(o.ticket.token as string);
    const owner = await state.get("config", `${STATE_OBJECTS.diskOwnerPrefix}${uuid(i)}`);
    expect(fromUtf8(owner?.data["nodeName"] as Uint8Array)).toBe(node.identity.name);
  }
  expect(tokens.size).toBe(N);
  const owners = (await state.list("config")).filter((o) => o.name.startsWith(STATE_OBJECTS.diskOwnerPrefix));
  expect(owners.length).toBe(N);

  const lat = latency(outcomes.map((o) => o.ms));
  const retries = outcomes.reduce((a, o) => a + o.attempts - 1, 0);
  console.log(
    JSON.stringify({
      load: "join",
      nodes: N,
      seconds: Number(seconds.toFixed(1)),
      joinsPerSec: Number((N / seconds).toFixed(1)),
      p50Ms: Math.round(lat.p50Ms),
      p99Ms: Math.round(lat.p99Ms),
      maxMs: Math.round(lat.maxMs),
      retries,
    }),
  );
});
