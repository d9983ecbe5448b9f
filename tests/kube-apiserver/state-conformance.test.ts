// The cluster-state Kubernetes backend (shared/state) against the test API server over mutual TLS: the
// same conformance suite the SQLite backend passes, so the local cluster and a real cluster agree.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openClusterState } from "@asterism/lifecycle";
import { kubernetesState, StateError } from "@asterism/state";
import { describeClusterStateConformance } from "@asterism/testing";
import { createTestPki, startTestApiServer, type TestApiServer, type TestPki } from "./index.ts";

// bunfig's [test] timeout is not applied by Bun 1.4.5; slow steps (TLS, compile, umoci) need more than 5 s on a loaded machine.
setDefaultTimeout(30_000);

let pki: TestPki;
let api: TestApiServer;
beforeAll(async () => {
  pki = createTestPki();
  api = await startTestApiServer({
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
  });
});
afterAll(async () => {
  await api?.stop();
});

let n = 0;
describeClusterStateConformance("kubernetes (test API server, mutual TLS)", async () => {
  const namespace = `state-${n++}`;
  const tls = { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey };
  const res = await fetch(`${api.url}/api/v1/namespaces`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }),
    tls,
  } as RequestInit);
  if (res.status !== 201) throw new Error(`namespace: HTTP ${res.status}`);
  return kubernetesState({ server: api.url, namespace, ...tls });
});

// In a pod (`kube-in-cluster:`): the ServiceAccount token file is read for every request, because the
// kubelet rotates the projected token in place; a token read once at start would expire under a running
// JoinService.
describe("in-cluster connection (ServiceAccount token file)", () => {
  test("follows a rotated token; an unreadable token is BACKEND_UNAVAILABLE", async () => {
    const users = new Map([["first", "system:serviceaccount:t:svc"]]);
    const tokenApi = await startTestApiServer({
      tls: { cert: pki.serverCert, key: pki.serverKey },
      users,
      namespaces: ["t"],
    });
    const sa = mkdtempSync(join(tmpdir(), "asterism-sa-"));
    try {
      writeFileSync(join(sa, "ca.crt"), pki.ca);
      writeFileSync(join(sa, "token"), "first\n");
      const port = new URL(tokenApi.url).port;
      const state = openClusterState("kube-in-cluster:t", {
        serviceAccountDir: sa,
        env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port },
      });
      await state.create("config", "a", { k: new Uint8Array([1]) });
      // The kubelet writes the new token; the old one stops working at the server.
      users.clear();
      users.set("second", "system:serviceaccount:t:svc");
      writeFileSync(join(sa, "token"), "second\n");
      expect((await state.get("config", "a"))?.data["k"]).toEqual(new Uint8Array([1]));
      rmSync(join(sa, "token"));
      const err = await state.get("config", "a").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateError);
      expect((err as StateError).code).toBe("BACKEND_UNAVAILABLE");
      expect(tokenApi.requests.map((r) => r.status)).toEqual([201, 200]);
    } finally {
      rmSync(sa, { recursive: true, force: true });
      await tokenApi.stop();
    }
  });
});
