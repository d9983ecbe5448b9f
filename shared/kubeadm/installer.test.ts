import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryLogger } from "@asterism/service";
import { parseComponentList } from "./components.ts";
import { InstallerError, KubeadmConfigError } from "./errors.ts";
import {
  type CommandRunner,
  createKubeadmInstaller,
  createLocalInstaller,
  LOCAL_INSTALLER_NOTE,
} from "./installer.ts";
import { generateInitConfig, generateJoinConfig } from "./kubeadm-config.ts";

const token = { id: "abcdef", secret: "0123456789abcdef" };
const initConfig = generateInitConfig({
  nodeName: "cp-0",
  nodeIp: "10.0.0.2",
  kubernetesVersion: "v1.31.13",
  clusterName: "asterism",
  controlPlaneEndpoint: "10.0.0.2:6443",
  serviceSubnet: "10.96.0.0/12",
  initToken: token,
});
const joinConfig = generateJoinConfig({
  nodeName: "w-1",
  nodeIp: "10.0.0.5",
  role: "worker",
  apiServerEndpoint: "10.0.0.2:6443",
  token,
  caCertHashes: [`sha256:${"a".repeat(64)}`],
});
const payload = "binary";
const components = parseComponentList([
  {
    url: `data:application/octet-stream;base64,${btoa(payload)}`,
    hash: `sha256:${new Bun.CryptoHasher("sha256").update(payload).digest("hex")}`,
    installPath: "/nonexistent/asterism-test/kubelet",
  },
]);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "installer-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("createLocalInstaller", () => {
  test("says it installs nothing, in results and logs, and never logs the token", async () => {
    const logger = createMemoryLogger();
    const inst = createLocalInstaller({ logger });
    const r = await inst.install(components);
    expect(r).toEqual({
      performed: false,
      note: LOCAL_INSTALLER_NOTE,
      installed: [],
      skipped: ["/nonexistent/asterism-test/kubelet"],
    });
    const i = await inst.runKubeadmInit(initConfig);
    const j = await inst.runKubeadmJoin(joinConfig);
    expect([i.performed, j.performed]).toEqual([false, false]);
    expect(i.note).toContain("no kubelet");
    expect(logger.lines.map((l) => l["level"])).toEqual(["warn", "warn", "warn"]);
    expect(logger.lines.every((l) => l["msg"] === LOCAL_INSTALLER_NOTE)).toBe(true);
    expect(JSON.stringify(logger.lines)).not.toContain(token.secret);
  });

  test("still checks that configurations are the right kind", async () => {
    const inst = createLocalInstaller({ logger: createMemoryLogger() });
    await expect(inst.runKubeadmInit(joinConfig)).rejects.toBeInstanceOf(KubeadmConfigError);
    await expect(inst.runKubeadmJoin("{{{")).rejects.toBeInstanceOf(KubeadmConfigError);
  });
});

describe("createKubeadmInstaller", () => {
  function fakeRunner(result: { exitCode: number | null; timedOut?: boolean }) {
    const calls: { argv: readonly string[]; config: string }[] = [];
    const run: CommandRunner = async (argv) => {
      calls.push({ argv, config: await readFile(argv[3] as string, "utf8") });
      return { exitCode: result.exitCode, timedOut: result.timedOut ?? false, stdout: "ok" };
    };
    return { run, calls };
  }

  test("runs kubeadm with a private config file that is removed afterwards", async () => {
    const { run, calls } = fakeRunner({ exitCode: 0 });
    const configDir = join(dir, "cfg");
    const inst = createKubeadmInstaller({
      download: { fetch },
      logger: createMemoryLogger(),
      configDir,
      run,
    });
    expect(await inst.runKubeadmInit(initConfig)).toEqual({ performed: true, output: "ok" });
    await inst.runKubeadmJoin(joinConfig);
    expect(calls.map((c) => c.argv)).toEqual([
      [
        "/usr/local/bin/kubeadm",
        "init",
        "--config",
        join(configDir, "kubeadm-init.yaml"),
        "--skip-token-print",
      ],
      ["/usr/local/bin/kubeadm", "join", "--config", join(configDir, "kubeadm-join.yaml")],
    ]);
    expect(calls[0]?.config).toBe(initConfig);
    expect(await readdir(configDir)).toEqual([]);
  });

  test.each([
    { name: "non-zero exit", result: { exitCode: 1 }, wantCode: "KUBEADM_FAILED" },
    {
      name: "killed at the deadline",
      result: { exitCode: null, timedOut: true },
      wantCode: "KUBEADM_TIMEOUT",
    },
  ])("$name → $wantCode, config still removed", async ({ result, wantCode }) => {
    const { run } = fakeRunner(result);
    const configDir = join(dir, `cfg-${wantCode}`);
    const inst = createKubeadmInstaller({
      download: { fetch },
      logger: createMemoryLogger(),
      configDir,
      run,
    });
    const err = await inst.runKubeadmJoin(joinConfig).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstallerError);
    expect((err as InstallerError).code).toBe(wantCode as InstallerError["code"]);
    expect(await readdir(configDir)).toEqual([]);
  });

  test("installs pinned components through the injected download deps", async () => {
    const target = join(dir, "bin", "kubelet");
    const list = parseComponentList([{ ...components[0], installPath: target }]);
    const logger = createMemoryLogger();
    const inst = createKubeadmInstaller({ download: { fetch }, logger, configDir: join(dir, "c2") });
    const r = await inst.install(list);
    expect(r.performed).toBe(true);
    expect(await readFile(target, "utf8")).toBe(payload);
    expect(logger.lines[0]).toMatchObject({ msg: "component installed", installPath: target });
  });
});
