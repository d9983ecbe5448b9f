// The control-plane services a VM node provisions for itself at init (ASTERISM_CONTROL_PLANE_SERVICES=
// systemd): what lands on the state disk, with which modes, and that the real KMS and JoinService start
// from exactly those files (their env files are read here as systemd's EnvironmentFile= would; only the
// fixed listener ports are replaced by free loopback ports, as tests must). `systemctl start` is recorded.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AttestationPolicy, parseAttestationPolicy } from "@asterism/attestation";
import { fromBase64, toBase64, toHex } from "@asterism/bytes";
import { isAsterismError } from "@asterism/errors";
import { deriveKey, parseMasterSecret } from "@asterism/keys";
import { clusterPkiFiles, generateClusterPki, writeControlPlaneFiles } from "@asterism/kubeadm";
import {
  openClusterState,
  parseComponentsObject,
  parseJoinConfigObject,
  STATE_OBJECTS,
  serializePolicy,
} from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
import { createMtlsFetch } from "@asterism/mtls";
import { createMemoryLogger } from "@asterism/service";
import { endpointOf, killAll, startApp, until } from "../../../tests/lifecycle/harness.ts";
import {
  CONTROL_PLANE_UNITS,
  checkJoinPolicy,
  createControlPlaneServices,
  environmentFile,
  KMS_LOOPBACK_PORT,
} from "./control-plane-services.ts";

setDefaultTimeout(20_000);

const dirs: string[] = [];
afterAll(async () => {
  await killAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "asterism-cp-services-"));
  dirs.push(d);
  return d;
};

const hex = (b: number) => b.toString(16).padStart(2, "0").repeat(32);
const POLICY: AttestationPolicy = {
  variants: ["qemu-vtpm"],
  measurements: createMeasurements([
    [4, { expected: hex(4) }],
    [9, { expected: hex(9) }],
    [11, { expected: hex(11) }],
    [15, { expected: new Uint8Array(32) }],
  ]),
};
const MASTER = { key: new Uint8Array(32).fill(0xa5), salt: new Uint8Array(32).fill(0x5a) };
const SALT = new Uint8Array(32).fill(3);
const COMPONENTS = [
  { url: "https://example.invalid/kubelet", hash: `sha256:${"0".repeat(64)}`, installPath: "/x" },
];

/** Provision into a fresh state directory with a Kubernetes PKI (as init writes it before this step). */
async function provisioned() {
  const stateDir = tempDir();
  const pkiDir = join(stateDir, "pki");
  await writeControlPlaneFiles(pkiDir, clusterPkiFiles(await generateClusterPki()));
  const started: (readonly string[])[] = [];
  const logger = createMemoryLogger();
  const services = createControlPlaneServices({
    stateDir,
    pkiDir,
    metadataUrl: "http://10.0.2.101:80",
    startUnits: async (units) => {
      started.push(units);
    },
    now: () => new Date(),
    logger,
  });
  await services.provision({
    masterSecret: MASTER,
    measurementSalt: SALT,
    joinPolicy: POLICY,
    kubernetesVersion: "v1.31.13",
    components: COMPONENTS,
    apiServerEndpoint: "10.0.2.100:6443",
  });
  return { stateDir, pkiDir, services, started, logger };
}

/** systemd EnvironmentFile= semantics for our files: KEY=value per line. */
function readEnvFile(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

describe("provisioning on the state disk", () => {
  let p: Awaited<ReturnType<typeof provisioned>>;
  beforeAll(async () => {
    p = await provisioned();
  });

  test("units started once, after everything is written", () => {
    expect(p.started).toEqual([CONTROL_PLANE_UNITS]);
    expect(p.logger.lines.map((l) => l["msg"])).toEqual(["services.provisioned", "services.started"]);
  });

  test("files and modes: secrets 0600 in a 0700 directory", () => {
    const f = p.services.files;
    expect(readdirSync(f.servicesDir).sort()).toEqual([
      "join-service.env",
      "kms.env",
      "master-secret.json",
      "service-pki",
    ]);
    expect(statSync(f.servicesDir).mode & 0o777).toBe(0o700);
    for (const path of [f.masterSecret, f.kmsEnv, f.joinServiceEnv])
      expect({ path, mode: statSync(path).mode & 0o777 }).toEqual({ path, mode: 0o600 });
    const secret = parseMasterSecret(new Uint8Array(readFileSync(f.masterSecret)));
    expect(toHex(secret.key)).toBe(toHex(MASTER.key));
    expect(toHex(secret.salt)).toBe(toHex(MASTER.salt));
  });

  test("cluster state: the join configuration holds the init request's policy, salt, version, components", async () => {
    const state = openClusterState(`sqlite:${p.services.files.clusterState}`);
    try {
      const cfg = parseJoinConfigObject((await state.get("config", STATE_OBJECTS.joinConfig))!);
      expect(new TextDecoder().decode(serializePolicy(cfg.policy))).toBe(
        new TextDecoder().decode(serializePolicy(POLICY)),
      );
      expect(toHex(cfg.measurementSalt)).toBe(toHex(SALT));
      expect(parseComponentsObject(await state.get("config", STATE_OBJECTS.components))).toEqual({
        kubernetesVersion: "v1.31.13",
        components: COMPONENTS,
      });
    } finally {
      state.close();
    }
  });

  test("env files: the KMS on loopback, the JoinService pointed at it, the PKI, the state and metadata", () => {
    const f = p.services.files;
    expect(readEnvFile(f.kmsEnv)).toMatchObject({
      KMS_MODE: "cluster",
      KMS_HOST: "127.0.0.1",
      KMS_PORT: String(KMS_LOOPBACK_PORT),
      KMS_MASTER_SECRET_FILE: f.masterSecret,
    });
    expect(readEnvFile(f.joinServiceEnv)).toMatchObject({
      ASTERISM_STATE: `sqlite:${f.clusterState}`,
      ASTERISM_PKI_DIR: p.pkiDir,
      ASTERISM_KMS_URL: `https://127.0.0.1:${KMS_LOOPBACK_PORT}`,
      ASTERISM_API_SERVER_ENDPOINT: "10.0.2.100:6443",
      ASTERISM_METADATA_URL: "http://10.0.2.101:80",
    });
    const all = readFileSync(f.kmsEnv, "utf8") + readFileSync(f.joinServiceEnv, "utf8");
    expect(all).not.toContain(toBase64(MASTER.key));
  });

  test("the real KMS and JoinService start from these files; the KMS derives from the provisioned secret", async () => {
    const f = p.services.files;
    const kmsEnv = { ...readEnvFile(f.kmsEnv), KMS_PORT: "0" };
    const kms = startApp("kms", "kms", kmsEnv);
    const line = await kms.waitFor((l) => l["msg"] === "kms.listening");
    const kmsUrl = `https://127.0.0.1:${String(line["port"])}`;
    const jsEnv = readEnvFile(f.joinServiceEnv);
    const endpoints = join(p.stateDir, "join-service.endpoints.json");
    startApp("join-service", "join-service", {
      ...jsEnv,
      ASTERISM_KMS_URL: kmsUrl,
      ASTERISM_JOIN_LISTEN: "127.0.0.1:0",
      ASTERISM_HTTP_LISTEN: "127.0.0.1:0",
      ASTERISM_ENDPOINTS_FILE: endpoints,
      ASTERISM_POLICY_RELOAD_MS: "100",
    });
    const http = await endpointOf(endpoints, "http");
    await until("JoinService ready", async () =>
      (await fetch(`${http}/readyz`)).status === 200 ? true : undefined,
    );
    // The JoinService's credentials fetch a disk key; it is the one the master secret derives.
    const mtls = createMtlsFetch({
      caCertPem: readFileSync(jsEnv["ASTERISM_KMS_CA_FILE"]!, "utf8"),
      certPem: readFileSync(jsEnv["ASTERISM_KMS_CERT_FILE"]!, "utf8"),
      keyPem: readFileSync(jsEnv["ASTERISM_KMS_KEY_FILE"]!, "utf8"),
      serverIdentity: "asterism://kms",
    });
    const uuid = "0f0e0d0c-0b0a-4908-8706-050403020100";
    const res = await mtls(`${kmsUrl}/v1/data-keys`, {
      method: "POST",
      headers: { "content-type": "application/json", connection: "close" },
      body: JSON.stringify({ id: uuid, length: 32 }),
    });
    expect(res.status).toBe(200);
    const got = fromBase64(((await res.json()) as { key: string }).key);
    const want = await deriveKey({
      secret: MASTER.key.slice(),
      salt: MASTER.salt,
      purpose: "diskKey",
      id: uuid,
    });
    expect(toHex(got)).toBe(toHex(want));
  });

  test("never twice: a second provisioning on the same disk fails and starts nothing", async () => {
    let code: string | undefined;
    try {
      await p.services.provision({
        masterSecret: MASTER,
        measurementSalt: SALT,
        joinPolicy: POLICY,
        kubernetesVersion: "v1.31.13",
        components: [],
        apiServerEndpoint: "10.0.2.100:6443",
      });
    } catch (err) {
      code = isAsterismError(err) ? err.code : String(err);
    }
    expect(code).toBe("SERVICES_PROVISIONING_FAILED");
    expect(p.started.length).toBe(1);
  });
});

describe("checkJoinPolicy (before the node lock)", () => {
  const wire = (p: AttestationPolicy) => JSON.parse(new TextDecoder().decode(serializePolicy(p)));
  test.each([
    { name: "the policy the CLI validated init with", policy: wire(POLICY), code: undefined },
    { name: "missing", policy: undefined, code: "JOIN_POLICY_INVALID" },
    {
      name: "PCR 15 alone (admits any image)",
      policy: wire({ measurements: createMeasurements([[15, { expected: new Uint8Array(32) }]]) }),
      code: "JOIN_POLICY_INVALID",
    },
    {
      name: "image PCRs warn-only",
      policy: wire({ measurements: createMeasurements([[4, { expected: hex(4), warnOnly: true }]]) }),
      code: "JOIN_POLICY_INVALID",
    },
    {
      name: "unknown variant",
      policy: { variants: ["no-such-variant"], measurements: wire(POLICY).measurements },
      code: "JOIN_POLICY_INVALID",
    },
    {
      name: "48-byte values (not qemu-vtpm)",
      policy: { measurements: { "4": { expected: "ab".repeat(48), warnOnly: false } } },
      code: "JOIN_POLICY_INVALID",
    },
    {
      name: "variants not admitting qemu-vtpm",
      policy: { variants: ["azure-sev-snp"], measurements: wire(POLICY).measurements },
      code: "JOIN_POLICY_INVALID",
    },
  ])("$name", ({ policy, code }) => {
    let got: string | undefined;
    try {
      const parsed = checkJoinPolicy(policy);
      expect(parsed.measurements.get(4)?.expected).toBe(hex(4));
      expect(parseAttestationPolicy(serializePolicy(parsed))).toEqual(parsed);
    } catch (err) {
      got = isAsterismError(err) ? err.code : String(err);
    }
    expect(got).toBe(code);
  });
});

describe("environmentFile", () => {
  test.each([
    ["a value with a newline", { A: "x\nB=y" }],
    ["a space", { A: "x y" }],
    ["an expansion", { A: "$HOME" }],
    ["a quote", { A: '"x"' }],
    ["a lower-case name", { a: "x" }],
  ])("refuses %s", (_name, vars) => {
    expect(() => environmentFile(vars)).toThrow();
  });
  test("KEY=value lines", () => {
    expect(environmentFile({ A: "sqlite:/var/lib/asterism/x.sqlite", B: "https://127.0.0.1:9010" })).toBe(
      "A=sqlite:/var/lib/asterism/x.sqlite\nB=https://127.0.0.1:9010\n",
    );
  });
});
