import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inClusterConnection, kubeConnectionOf, LifecycleError, openClusterState } from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-state-spec-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A ServiceAccount directory as the kubelet mounts it. */
function serviceAccount(name: string, files: Record<string, string>): string {
  const sa = join(dir, name);
  mkdirSync(sa);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(sa, f), text);
  return sa;
}
const full = serviceAccount("full", { token: "tok\n", "ca.crt": "CA PEM", namespace: "asterism-system" });
const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };

function code(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof LifecycleError) return err.code;
    throw err;
  }
  return "no error";
}

describe("kube-in-cluster:<namespace>", () => {
  test("server from the kubelet's variables, CA and a token file re-read per request", () => {
    expect(inClusterConnection("asterism-system", { env, serviceAccountDir: full })).toEqual({
      server: "https://10.96.0.1:443",
      namespace: "asterism-system",
      ca: "CA PEM",
      tokenFile: join(full, "token"),
    });
    const v6 = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" };
    expect(inClusterConnection("x", { env: v6, serviceAccountDir: full }).server).toBe(
      "https://[fd00::1]:6443",
    );
  });

  test("kubeConnectionOf: the spec's namespace, or another one with the same credentials", () => {
    const opts = { env, serviceAccountDir: full };
    expect(kubeConnectionOf("kube-in-cluster:asterism-system", undefined, opts)?.namespace).toBe(
      "asterism-system",
    );
    expect(kubeConnectionOf("kube-in-cluster:asterism-system", "kube-system", opts)?.namespace).toBe(
      "kube-system",
    );
    expect(kubeConnectionOf("sqlite:/x.db", "kube-system", opts)).toBeUndefined();
    expect(kubeConnectionOf("etcd:x", undefined, opts)).toBeUndefined();
  });

  const refusals: [string, () => unknown][] = [
    ["no KUBERNETES_SERVICE_HOST", () => inClusterConnection("a", { env: {}, serviceAccountDir: full })],
    [
      "a port that is not a number",
      () =>
        inClusterConnection("a", {
          env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "https" },
          serviceAccountDir: full,
        }),
    ],
    [
      "no token mounted (automountServiceAccountToken: false)",
      () =>
        inClusterConnection("a", { env, serviceAccountDir: serviceAccount("no-token", { "ca.crt": "CA" }) }),
    ],
    [
      "no CA mounted",
      () => inClusterConnection("a", { env, serviceAccountDir: serviceAccount("no-ca", { token: "t" }) }),
    ],
    [
      "a namespace that is not a DNS label",
      () => inClusterConnection("Asterism_System", { env, serviceAccountDir: full }),
    ],
    ["an empty namespace", () => openClusterState("kube-in-cluster:", { env, serviceAccountDir: full })],
  ];
  test.each(refusals)("%s → CONFIG_INVALID", (_name, f) => {
    expect(code(f)).toBe("CONFIG_INVALID");
  });
});
