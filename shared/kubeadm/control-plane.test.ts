import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seededBytes, TEST_NOW } from "./_test-helpers.ts";
import { type ClusterPki, generateClusterPki } from "./ca.ts";
import {
  buildControlPlaneFiles,
  CONTROL_PLANE_FILE_NAMES,
  clusterPkiFiles,
  loadClusterPki,
  readControlPlaneFiles,
  writeControlPlaneFiles,
} from "./control-plane.ts";
import { JoinPolicyError, PkiError } from "./errors.ts";

const deps = { now: () => TEST_NOW, randomBytes: seededBytes(3) };
let pki: ClusterPki;
let dir: string;
beforeAll(async () => {
  pki = await generateClusterPki({ serviceAccountAlgorithm: "ECDSA-P256" }, deps);
  dir = await mkdtemp(join(tmpdir(), "cp-files-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cp = { nodeName: "cp-1", ips: ["10.0.0.2"], role: "control-plane" as const };

describe("buildControlPlaneFiles", () => {
  test("an attested control plane gets the eight kubeadm files", () => {
    const files = buildControlPlaneFiles(cp, pki);
    expect(files.map((f) => f.name)).toEqual([...CONTROL_PLANE_FILE_NAMES]);
    expect(files.find((f) => f.name === "ca.key")?.data).toBe(pki.ca.keyPem);
  });

  test.each([
    { name: "attested worker", role: "worker" },
    { name: "role missing", role: undefined },
    { name: "role spelled differently", role: "controlplane" },
    { name: "role as boolean from a request", role: true },
  ])("$name gets nothing", ({ role }) => {
    const err = (() => {
      try {
        buildControlPlaneFiles({ ...cp, role: role as "worker" }, pki);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(JoinPolicyError);
    expect((err as JoinPolicyError).code).toBe(
      role === "worker" ? "ROLE_NOT_CONTROL_PLANE" : "IDENTITY_INVALID",
    );
  });
});

describe("loadClusterPki / write / read", () => {
  test("round-trips through the file system with key files at 0600", async () => {
    await writeControlPlaneFiles(dir, buildControlPlaneFiles(cp, pki));
    expect((await stat(join(dir, "ca.key"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "etcd/ca.key"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "ca.crt"))).mode & 0o777).toBe(0o644);
    expect(await readFile(join(dir, "etcd/ca.crt"), "utf8")).toBe(pki.etcdCa.certPem);
    const loaded = await loadClusterPki(await readControlPlaneFiles(dir), deps);
    expect(loaded.ca.cert.subject).toBe("CN=kubernetes");
  });

  const swap = (name: string, data: string) =>
    clusterPkiFiles(pki).map((f) => (f.name === name ? { name: f.name, data } : f));
  test.each([
    {
      name: "path traversal name",
      files: () => [...clusterPkiFiles(pki), { name: "../../etc/passwd", data: "x" }],
      wantCode: "PKI_FILE_INVALID",
    },
    { name: "missing file", files: () => clusterPkiFiles(pki).slice(1), wantCode: "PKI_FILE_INVALID" },
    {
      name: "duplicate file",
      files: () => [...clusterPkiFiles(pki), clusterPkiFiles(pki)[0]!],
      wantCode: "PKI_FILE_INVALID",
    },
    {
      name: "etcd CA key swapped for the cluster CA key",
      files: () => swap("etcd/ca.key", pki.ca.keyPem),
      wantCode: "KEY_MISMATCH",
    },
    {
      name: "sa.pub not matching sa.key",
      files: () =>
        swap(
          "sa.pub",
          "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAAAA\n-----END PUBLIC KEY-----\n",
        ),
      wantCode: "PEM_INVALID",
    },
  ])("rejects $name", async ({ files, wantCode }) => {
    const err = await loadClusterPki(files(), deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PkiError);
    expect((err as PkiError).code).toBe(wantCode as PkiError["code"]);
  });

  test("sa.pub of another key is a KEY_MISMATCH", async () => {
    const other = await generateClusterPki({ serviceAccountAlgorithm: "ECDSA-P256" }, deps);
    const err = await loadClusterPki(
      clusterPkiFiles(pki).map((f) =>
        f.name === "sa.pub" ? { name: f.name, data: other.serviceAccount.publicKeyPem } : f,
      ),
      deps,
    ).catch((e: unknown) => e);
    expect((err as PkiError).code).toBe("KEY_MISMATCH");
  });

  test("writing refuses names outside the fixed set", async () => {
    const err = await writeControlPlaneFiles(dir, [{ name: "../x", data: "" }]).catch((e: unknown) => e);
    expect((err as PkiError).code).toBe("PKI_FILE_INVALID");
  });
});
