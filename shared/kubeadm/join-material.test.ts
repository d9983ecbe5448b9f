import { beforeAll, describe, expect, test } from "bun:test";
import { makeCsr, seededBytes, TEST_NOW } from "./_test-helpers.ts";
import { type ClusterPki, caCertHash, generateClusterPki } from "./ca.ts";
import { CsrPolicyError, JoinPolicyError } from "./errors.ts";
import { issueKubernetesJoinMaterial } from "./join-material.ts";
import { x509 } from "./x509.ts";

const deps = { now: () => TEST_NOW, randomBytes: seededBytes(5) };
let pki: ClusterPki;
beforeAll(async () => {
  pki = await generateClusterPki({ serviceAccountAlgorithm: "ECDSA-P256" }, deps);
});

const worker = { nodeName: "worker-1", ips: ["10.0.0.5"], role: "worker" as const };
const cp = { nodeName: "cp-1", ips: ["10.0.0.3"], role: "control-plane" as const };

describe("issueKubernetesJoinMaterial", () => {
  test("worker: token, Secret, pin and kubelet cert; no CA keys", async () => {
    const m = await issueKubernetesJoinMaterial(
      { identity: worker, request: { csr: await makeCsr({ ips: ["10.0.0.5"] }), controlPlane: false }, pki },
      deps,
    );
    expect(m.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(m.tokenSecret.metadata.name).toBe(`bootstrap-token-${m.token.slice(0, 6)}`);
    expect(m.caCertHashes).toEqual([await caCertHash(pki.ca.cert)]);
    // The CA itself travels too (public): the node checks it against the pin and embeds it in kubelet.conf.
    expect(m.caCertPem).toBe(pki.ca.certPem);
    expect(new x509.X509Certificate(m.kubeletCertPem).subject).toBe(
      "CN=system:node:worker-1, O=system:nodes",
    );
    expect(m.controlPlaneFiles).toEqual([]);
  });

  test("attested control plane asking for it gets the bundle", async () => {
    const m = await issueKubernetesJoinMaterial(
      {
        identity: cp,
        request: {
          csr: await makeCsr({ subject: "CN=system:node:cp-1, O=system:nodes" }),
          controlPlane: true,
        },
        pki,
      },
      deps,
    );
    expect(m.controlPlaneFiles.map((f) => f.name)).toContain("ca.key");
  });

  test("attested control plane joining as worker gets no CA keys", async () => {
    const m = await issueKubernetesJoinMaterial(
      {
        identity: cp,
        request: {
          csr: await makeCsr({ subject: "CN=system:node:cp-1, O=system:nodes" }),
          controlPlane: false,
        },
        pki,
      },
      deps,
    );
    expect(m.controlPlaneFiles).toEqual([]);
  });

  test("a worker claiming control plane is refused and gets nothing", async () => {
    const err = await issueKubernetesJoinMaterial(
      { identity: worker, request: { csr: await makeCsr({}), controlPlane: true }, pki },
      deps,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JoinPolicyError);
    expect((err as JoinPolicyError).code).toBe("ROLE_NOT_CONTROL_PLANE");
  });

  test("a worker asking for another node's name is refused", async () => {
    const err = await issueKubernetesJoinMaterial(
      {
        identity: worker,
        request: {
          csr: await makeCsr({ subject: "CN=system:node:cp-1, O=system:nodes" }),
          controlPlane: false,
        },
        pki,
      },
      deps,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CsrPolicyError);
    expect((err as CsrPolicyError).code).toBe("CSR_NAME_MISMATCH");
  });
});
