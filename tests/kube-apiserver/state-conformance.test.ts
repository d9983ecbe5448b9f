// The cluster-state Kubernetes backend (shared/state) against the test API server over mutual TLS: the
// same conformance suite the SQLite backend passes, so the local cluster and a real cluster agree.
import { afterAll, beforeAll, setDefaultTimeout } from "bun:test";
import { kubernetesState } from "@asterism/state";
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
