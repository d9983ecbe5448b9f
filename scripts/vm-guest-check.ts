#!/usr/bin/env bun
/**
 * Guest-side integration check of the node image (issue 11), by hand, before `mini up --vm` drives it:
 *
 *   bun scripts/vm-guest-check.ts [--image F] [--dir D] [--worker [--reboot] [--tampered]] [--keep]
 *
 * 1. metadata endpoint on 127.0.0.1 (in this process), reachable in the guests at 10.0.2.101:80;
 * 2. control-plane-0 VM (fw_cfg node name, 10.0.2.15): its bootstrapper reaches "waiting" with its
 *    identity, formats and maps the state disk (serial.log);
 * 3. the aTLS certificate the init endpoint presents is measured (the vTPM document with the real OVMF
 *    event log travels in it; BoringSSL refuses handshake messages above 100 KiB);
 * 4. init from the host with `initFirstNode` and the image's precomputed policy (PCR 15 = 0), which is
 *    also sent as `joinPolicy`; the KMS and JoinService must start in the guest (serial.log);
 * 5. with --worker: a worker VM (10.0.2.16) joins through control-plane-0's JoinService at
 *    10.0.2.100:9090;
 * 6. every node's VerificationService (forwarded 8080) verifies with PCR 15 = the cluster ID;
 * 7. with --reboot: the worker is reset (QMP system_reset, the vTPM resets with it), rejoins, unlocks and
 *    mounts its state disk, and verifies again;
 * 8. with --tampered: a second worker boots from a copy of the image with one command-line byte changed
 *    and control-plane-0's JoinService refuses it, naming the PCRs (its serial.log).
 *
 * Prints what it sees; exits non-zero on the first failure. VMs are stopped at the end unless --keep.
 */
import { closeSync, copyFileSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { connect } from "node:tls";
import { parseArgs } from "node:util";
import { encodeSniNonce } from "@asterism/atls";
import { toHex } from "@asterism/bytes";
import { precomputeImageMeasurements } from "@asterism/measured-boot";
import { createMeasurements } from "@asterism/measurements";
import { createMetadataClient, serveMetadata } from "@asterism/metadata";
import {
  GUEST_ADDRESSES,
  GUEST_PORTS,
  METADATA_GUEST_PORT,
  type NodeVm,
  nodeGuestIp,
  resetNodeVm,
  startNodeVm,
  stopNodeVm,
  waitForBootReport,
} from "@asterism/node-vm";
import { initFirstNode } from "../apps/cli/src/cluster/init.ts";
import { nodePolicy } from "../apps/cli/src/cluster/policy.ts";
import { verifyNode } from "../apps/cli/src/cluster/verify-client.ts";
import { generateConfig } from "../apps/cli/src/config/generate.ts";
import { parseConfig } from "../apps/cli/src/config/load.ts";

const repo = resolve(import.meta.dir, "..");
const { values } = parseArgs({
  options: {
    image: { type: "string", default: join(repo, "dist", "image", "asterism-node.raw") },
    dir: { type: "string", default: join(repo, "dist", "vm-check") },
    worker: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    reboot: { type: "boolean", default: false },
    tampered: { type: "boolean", default: false },
  },
});
const image = resolve(values.image ?? "");
const dir = resolve(values.dir ?? "");
const CLUSTER = "vmcheck";
const t0 = performance.now();
const say = (msg: string) =>
  process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);

/** JSON log lines an Asterism service printed on the VM's console. */
function serviceLines(serialLog: string, service?: string, since = 0): Record<string, unknown>[] {
  let text = "";
  try {
    text = readFileSync(serialLog).subarray(since).toString("utf8");
  } catch {
    return [];
  }
  const out: Record<string, unknown>[] = [];
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf('{"');
    if (at < 0) continue;
    try {
      const o = JSON.parse(line.slice(at)) as Record<string, unknown>;
      if (service === undefined || o["service"] === service) out.push(o);
    } catch {
      // a kernel or systemd line that happens to contain {"
    }
  }
  return out;
}

async function waitForLine(
  vm: NodeVm,
  what: string,
  pred: (l: Record<string, unknown>) => boolean,
  timeoutMs: number,
  since = 0,
): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const hit = serviceLines(vm.serialLog, undefined, since).find(pred);
    if (hit) return hit;
    const fatal = serviceLines(vm.serialLog, undefined, since).find((l) => l["msg"] === "bootstrapper.fatal");
    if (fatal) throw new Error(`${vm.name}: ${JSON.stringify(fatal)}`);
    if (Date.now() > end) throw new Error(`${vm.name}: timed out waiting for ${what}`);
    await Bun.sleep(1000);
  }
}

/** The init endpoint's certificate as the client receives it: DER size and the document extension. */
async function measureCertificate(port: number): Promise<{ der: number } | { error: string }> {
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  return await new Promise((ok) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      servername: encodeSniNonce(nonce),
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
      ALPNProtocols: ["http/1.1"],
    });
    socket.setTimeout(120_000, () => {
      socket.destroy();
      ok({ error: "timeout" });
    });
    socket.once("secureConnect", () => {
      const raw = socket.getPeerCertificate(true)?.raw;
      socket.destroy();
      ok({ der: raw?.length ?? 0 });
    });
    socket.once("error", (e: Error & { code?: string }) => ok({ error: `${e.code ?? ""} ${e.message}` }));
  });
}

/** A copy of the image with `panic=30` → `panic=31` in the UKI's command line (PCRs 4, 9, 11 change). */
function tamperedCopy(src: string, dst: string): void {
  copyFileSync(src, dst);
  const bytes = readFileSync(dst);
  const needle = Buffer.from("console=ttyS0 panic=30 ");
  const at = bytes.indexOf(needle);
  if (at < 0 || bytes.indexOf(needle, at + 1) >= 0) throw new Error("command line not found exactly once");
  const fd = openSync(dst, "r+");
  try {
    writeSync(fd, Buffer.from("1"), 0, 1, at + needle.length - 2);
  } finally {
    closeSync(fd);
  }
}

const vms: NodeVm[] = [];
const md = await serveMetadata({
  launcherToken: "vm-guest-check-token-0123456789",
  host: "127.0.0.1",
  port: 0,
});
const token = "vm-guest-check-token-0123456789";
const mdClient = createMetadataClient({ url: md.url });
const initSecret = crypto.getRandomValues(new Uint8Array(32));
await mdClient.setInitSecretHash(
  token,
  await Bun.password.hash(initSecret, { algorithm: "bcrypt", cost: 10 }),
);
const metadataForward = {
  guestAddress: GUEST_ADDRESSES.metadata,
  guestPort: METADATA_GUEST_PORT,
  hostPort: Number(new URL(md.url).port),
};
const forwarded = Object.values(GUEST_PORTS).map((guestPort) => ({ guestPort }));

try {
  say(`image ${image}`);
  const imageBytes = new Uint8Array(readFileSync(image));
  const precomputed = precomputeImageMeasurements(imageBytes).measurements;
  const measurements = createMeasurements(
    Object.entries(precomputed).map(([i, e]) => [Number(i), { expected: e.expected }] as const),
  );
  const config = parseConfig(
    generateConfig({ provider: "qemu", variant: "qemu-vtpm", name: CLUSTER, measurements }),
  );
  const policy = nodePolicy(config, undefined);
  say(`policy: PCRs ${[...policy.measurements.keys()].join(",")} (precomputed from the image, PCR 15 = 0)`);

  const cpName = `${CLUSTER}-control-plane-0`;
  await mdClient.putInstance(token, cpName, { role: "control-plane", ips: [nodeGuestIp(0)] });
  const cp = await startNodeVm({
    name: "control-plane-0",
    image,
    dir: join(dir, "control-plane-0"),
    nodeName: cpName,
    guestIp: nodeGuestIp(0),
    hostForwards: forwarded,
    guestForwards: [metadataForward],
  });
  vms.push(cp);
  const port = (p: number) => cp.ports.get(p) ?? 0;
  say(
    `control-plane-0 started (serial ${cp.serialLog}); forwards ${JSON.stringify(Object.fromEntries(cp.ports))}`,
  );
  const report = await waitForBootReport(cp.reportLog, 8 * 60_000);
  say(
    `boot report: root ${report.facts.get("root-verity")}, event log ${report.eventLog?.length ?? 0} bytes`,
  );
  const identity = await waitForLine(
    cp,
    "bootstrapper identity",
    (l) => l["msg"] === "bootstrapper.identity",
    5 * 60_000,
  );
  say(`identity: ${JSON.stringify(identity)}`);
  const disk = await waitForLine(cp, "state disk", (l) => l["msg"] === "bootstrapper.disk", 5 * 60_000);
  say(`state disk: ${JSON.stringify(disk)}`);
  const waiting = await waitForLine(
    cp,
    "waiting",
    (l) => l["msg"] === "bootstrapper.phase" && l["phase"] === "waiting",
    5 * 60_000,
  );
  say(`phase: ${JSON.stringify(waiting)}`);
  await waitForLine(
    cp,
    "init listener",
    (l) => l["msg"] === "bootstrapper.listening" && l["listener"] === "init",
    60_000,
  );

  const cert = await measureCertificate(port(GUEST_PORTS.init));
  say(
    `aTLS certificate of the init endpoint: ${JSON.stringify(cert)} (BoringSSL cap 102400 bytes per handshake message)`,
  );

  const master = {
    key: crypto.getRandomValues(new Uint8Array(32)),
    salt: crypto.getRandomValues(new Uint8Array(32)),
  };
  const measurementSalt = crypto.getRandomValues(new Uint8Array(32));
  const init = await initFirstNode({
    endpoint: `https://127.0.0.1:${port(GUEST_PORTS.init)}`,
    config,
    initSecret,
    masterSecret: master,
    measurementSalt,
    policy,
    controlPlaneEndpoint: `${GUEST_ADDRESSES.controlPlane}:6443`,
    waitForEndpointMs: 60_000,
    retryIntervalMs: 2000,
    responseTimeoutMs: 5 * 60_000,
  });
  const clusterId = init.clusterId;
  say(`init: cluster ${toHex(clusterId)}; kubernetes ${JSON.stringify(init.kubernetes)}`);
  for (const l of serviceLines(cp.serialLog, "bootstrapper").filter((x) =>
    ["disk.mapped", "state.formatted", "state.mounted", "services.provisioned", "services.started"].includes(
      String(x["msg"]),
    ),
  ))
    say(`  guest: ${JSON.stringify(l)}`);
  const kms = await waitForLine(cp, "KMS", (l) => l["msg"] === "kms.listening", 3 * 60_000);
  say(`KMS: ${JSON.stringify(kms)}`);
  const js = await waitForLine(
    cp,
    "JoinService",
    (l) => l["msg"] === "join-service.listening" && l["listener"] === "join",
    3 * 60_000,
  );
  say(`JoinService: ${JSON.stringify(js)}`);
  await mdClient.putInstance(token, cpName, {
    role: "control-plane",
    ips: [nodeGuestIp(0)],
    endpoints: { join: `https://${GUEST_ADDRESSES.controlPlane}:${GUEST_PORTS.join}` },
  });
  for (let i = 0; ; i++) {
    const r = await fetch(`http://127.0.0.1:${port(GUEST_PORTS.joinHttp)}/readyz`).catch(() => undefined);
    if (r?.status === 200) break;
    if (i > 60) throw new Error("JoinService not ready");
    await Bun.sleep(2000);
  }
  say("JoinService ready (join configuration loaded, PKI loaded)");

  const nodes: [string, NodeVm][] = [["control-plane-0", cp]];
  if (values.worker) {
    const wName = `${CLUSTER}-worker-0`;
    await mdClient.putInstance(token, wName, { role: "worker", ips: [nodeGuestIp(1)] });
    const toCp = Object.values(GUEST_PORTS).map((guestPort) => ({
      guestAddress: GUEST_ADDRESSES.controlPlane,
      guestPort,
      hostPort: port(guestPort),
    }));
    const w = await startNodeVm({
      name: "worker-0",
      image,
      dir: join(dir, "worker-0"),
      nodeName: wName,
      guestIp: nodeGuestIp(1),
      hostForwards: [{ guestPort: GUEST_PORTS.verify }, { guestPort: GUEST_PORTS.bootstrapperStatus }],
      guestForwards: [metadataForward, ...toCp],
    });
    vms.push(w);
    nodes.push(["worker-0", w]);
    say(`worker-0 started (serial ${w.serialLog})`);
    const done = await waitForLine(w, "join", (l) => l["msg"] === "bootstrapper.done", 10 * 60_000);
    say(`worker-0: ${JSON.stringify(done)}`);
    for (const l of serviceLines(w.serialLog, "bootstrapper").filter((x) =>
      ["disk.mapped", "state.formatted", "state.mounted"].includes(String(x["msg"])),
    ))
      say(`  guest: ${JSON.stringify(l)}`);
  }

  const verifyPolicy = nodePolicy(config, clusterId);
  const verify = async (name: string, vm: NodeVm) => {
    const url = `http://127.0.0.1:${vm.ports.get(GUEST_PORTS.verify)}`;
    let verdict = await verifyNode({ url, policy: verifyPolicy }).catch((e: unknown) => ({
      valid: false,
      message: String(e),
    }));
    for (let i = 0; !verdict.valid && i < 60; i++) {
      await Bun.sleep(2000);
      verdict = await verifyNode({ url, policy: verifyPolicy }).catch((e: unknown) => ({
        valid: false,
        message: String(e),
      }));
    }
    say(`verify ${name}: ${verdict.valid ? "valid, PCR 15 = cluster ID" : JSON.stringify(verdict)}`);
    if (!verdict.valid) throw new Error(`${name} does not verify`);
  };
  for (const [name, vm] of nodes) await verify(name, vm);

  const worker = nodes[1]?.[1];
  if (values.reboot && worker !== undefined) {
    const since = statSync(worker.serialLog).size;
    await resetNodeVm(worker.dir);
    say("worker-0 reset (QMP system_reset; the vTPM resets with the machine)");
    const done = await waitForLine(
      worker,
      "rejoin",
      (l) => l["msg"] === "bootstrapper.done",
      10 * 60_000,
      since,
    );
    say(`worker-0 after reboot: ${JSON.stringify(done)}`);
    for (const l of serviceLines(worker.serialLog, "bootstrapper", since).filter((x) =>
      ["bootstrapper.disk", "disk.unlocked", "disk.mapped", "state.formatted", "state.mounted"].includes(
        String(x["msg"]),
      ),
    ))
      say(`  guest: ${JSON.stringify(l)}`);
    await verify("worker-0 (rebooted)", worker);
  }

  if (values.tampered && worker !== undefined) {
    const tampered = join(dir, "tampered.raw");
    tamperedCopy(image, tampered);
    const name = `${CLUSTER}-worker-1`;
    await mdClient.putInstance(token, name, { role: "worker", ips: [nodeGuestIp(2)] });
    const since = statSync(cp.serialLog).size;
    const bad = await startNodeVm({
      name: "worker-1",
      image: tampered,
      dir: join(dir, "worker-1"),
      nodeName: name,
      guestIp: nodeGuestIp(2),
      guestForwards: [
        metadataForward,
        ...Object.values(GUEST_PORTS).map((guestPort) => ({
          guestAddress: GUEST_ADDRESSES.controlPlane,
          guestPort,
          hostPort: port(guestPort),
        })),
      ],
    });
    vms.push(bad);
    say("worker-1 started from the tampered image (panic=31)");
    const refused = await waitForLine(
      cp,
      "refusal",
      (l) => l["msg"] === "join.atls_rejected" && l["mismatchedPcrs"] !== undefined,
      10 * 60_000,
      since,
    );
    say(`control-plane-0 JoinService: ${JSON.stringify(refused)}`);
    const retry = serviceLines(bad.serialLog, "bootstrapper").find((l) => l["msg"] === "join.retry");
    if (retry) say(`worker-1: ${JSON.stringify(retry)}`);
  }
  say("all checks passed");
} catch (err) {
  say(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  if (values.keep) {
    say("--keep: VMs and the metadata endpoint stay up until Ctrl-C");
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  }
  await Promise.all(vms.map((vm) => stopNodeVm(vm.dir, 5000)));
  await md.close();
}
