import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { NodeVmError } from "./errors.ts";
import { manufactureTpm, type TpmCa } from "./manufacture.ts";
import { qmpCommand } from "./qmp.ts";

/** OVMF build without Secure Boot or SMM requirements (Debian `ovmf`, 4 MiB flash layout). */
export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS_TEMPLATE = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/** A guest TCP port reachable from the host at 127.0.0.1:hostPort (QEMU user-mode `hostfwd`). */
export interface HostForward {
  readonly guestPort: number;
  /** 0 (default) picks a free loopback port. */
  readonly hostPort?: number;
}

/**
 * A guest address the node can dial that QEMU connects to a host loopback port (`guestfwd`), which is
 * how one VM reaches another's forwarded port while `restrict=on` keeps it off every other network.
 * Each guest connection runs one `socat` relay to `127.0.0.1:hostPort` ({@link GUEST_FORWARD_RELAY}).
 */
export interface GuestForward {
  /** An address inside 10.0.2.0/24 that is not the gateway, e.g. 10.0.2.100. */
  readonly guestAddress: string;
  readonly guestPort: number;
  readonly hostPort: number;
}

/** Options of {@link startNodeVm}. */
export interface NodeVmOptions {
  /** Node name (`[a-z0-9-]{1,32}`), shown in `ps` and used for the default directory. */
  readonly name: string;
  /** The node image (GPT raw disk from `bun image/build.ts`); attached read-only. */
  readonly image: string;
  /** Per-VM directory: OVMF variables, swtpm state, state disk, serial log, sockets, pid files. */
  readonly dir: string;
  /** Size of the state disk, created sparse on first start (default 1 GiB). Kept across reboots. */
  readonly stateDiskBytes?: number;
  readonly memoryMiB?: number;
  readonly cpus?: number;
  readonly hostForwards?: readonly HostForward[];
  readonly guestForwards?: readonly GuestForward[];
  /** Accelerator; default {@link defaultAccel}. */
  readonly accel?: "kvm" | "tcg";
  /**
   * The node's name as the guest reads it from QEMU fw_cfg (`opt/asterism/node-name`, a Kubernetes
   * node name: DNS label). Not a trust input: the node's identity comes from metadata and PCR 16.
   */
  readonly nodeName?: string;
  /** The address the VM's DHCP server hands the guest (`dhcpstart`), 10.0.2.15-99; default 10.0.2.15. */
  readonly guestIp?: string;
  /**
   * Manufacture the vTPM with EK and platform certificates from a per-VM CA on first start
   * ({@link manufactureTpm}); default true. Without it the TPM has endorsement seeds but no certificates.
   */
  readonly ekCertificates?: boolean;
}

/**
 * KVM when it can run firmware, else TCG. On hosts whose KVM is PVM (`kvm_pvm`, as on our CI machines)
 * KVM only runs PVM-enlightened 64-bit guests: OVMF's 32-bit SEC phase stops with "KVM internal error,
 * emulation failure". `ASTERISM_VM_ACCEL=kvm|tcg` overrides the choice.
 */
export function defaultAccel(): "kvm" | "tcg" {
  const env = process.env["ASTERISM_VM_ACCEL"];
  if (env === "kvm" || env === "tcg") return env;
  return existsSync("/dev/kvm") && !existsSync("/sys/module/kvm_pvm") ? "kvm" : "tcg";
}

/** A running VM (QEMU daemonised, one swtpm beside it). */
export interface NodeVm {
  readonly name: string;
  readonly dir: string;
  readonly serialLog: string;
  /** The second serial port (ttyS1): the image's boot report, and nothing else writes there. */
  readonly reportLog: string;
  readonly qemuPid: number;
  readonly swtpmPid: number;
  /** guest port → host loopback port. */
  readonly ports: ReadonlyMap<number, number>;
  /** The CA of the vTPM's EK certificates, if manufactured. */
  readonly tpmCa: TpmCa | undefined;
}

/**
 * What QEMU runs per guest connection of a guest forward (`guestfwd=…-cmd:`), with the connection as
 * its stdin and stdout. Why not `guestfwd=…-tcp:127.0.0.1:PORT`: that form opens ONE connection when
 * QEMU starts (QEMU fails to start if nothing listens yet) and carries a single stream for the VM's
 * lifetime, so neither a service that starts later nor a second TLS connection would work. socat's
 * own log goes to /dev/null: libslirp also hands it the connection as stderr, and a diagnostic must
 * never land in the guest's byte stream.
 */
export const GUEST_FORWARD_RELAY = "socat -lf /dev/null - TCP:127.0.0.1:";

const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** RFC 1123 label, as Kubernetes node names (and so no comma, which QEMU's option syntax would split on). */
const NODE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const GUEST_ADDRESS = /^10\.0\.2\.(\d{1,3})$/;
/** The fw_cfg file the image's bootstrapper reads the node name from (`/sys/firmware/qemu_fw_cfg/by_name/…`). */
export const FW_CFG_NODE_NAME = "opt/asterism/node-name";

/** Ports this process handed out recently: the kernel may give a just-closed port to the next bind(0). */
const issuedPorts = new Set<number>();
const MAX_REMEMBERED_PORTS = 512;

function bindZero(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === "object" && addr !== null ? ok(addr.port) : fail(new Error("no port")),
      );
    });
  });
}

/**
 * A free TCP port on 127.0.0.1 (bind port 0, read it, close), never one this process handed out
 * recently. Another process can still take it before QEMU binds it: {@link startNodeVm} retries that.
 */
export async function freeLoopbackPort(): Promise<number> {
  for (let i = 0; i < 16; i++) {
    const port = await bindZero();
    if (issuedPorts.has(port)) continue;
    if (issuedPorts.size >= MAX_REMEMBERED_PORTS) issuedPorts.clear();
    issuedPorts.add(port);
    return port;
  }
  throw new NodeVmError("START_FAILED", "Cannot find a free loopback port", {
    expected: "a port not in use",
  });
}

/** QEMU's refusal when a `hostfwd` port was taken between choosing and binding it. */
const HOSTFWD_TAKEN = /Could not set up host forwarding rule/;
/** Attempts at starting QEMU with freshly chosen forward ports. */
const HOSTFWD_ATTEMPTS = 4;

function paths(dir: string) {
  return {
    vars: join(dir, "OVMF_VARS.fd"),
    tpmState: join(dir, "tpm"),
    tpmSock: join(dir, "swtpm.sock"),
    tpmPid: join(dir, "swtpm.pid"),
    tpmLog: join(dir, "swtpm.log"),
    qemuPid: join(dir, "qemu.pid"),
    qmp: join(dir, "qmp.sock"),
    serial: join(dir, "serial.log"),
    report: join(dir, "boot-report.log"),
    state: join(dir, "state.raw"),
    info: join(dir, "vm.json"),
  };
}

function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
}

/** True if `pid` runs and its command line mentions `dir` (so a recycled pid is never ours). */
export function isOurs(pid: number | undefined, dir: string): boolean {
  if (pid === undefined) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir);
  } catch {
    return false;
  }
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new NodeVmError("START_FAILED", `Cannot start VM: ${what}`, {});
    await Bun.sleep(50);
  }
}

function spawnChecked(argv: string[], what: string): void {
  const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0)
    throw new NodeVmError("START_FAILED", `Cannot start ${what}`, {
      expected: "exit 0",
      actual: `exit ${p.exitCode}: ${p.stderr.toString().trim().slice(-500)}`,
    });
}

function hostOf(address: string, what: string, min: number, max: number): number {
  const m = GUEST_ADDRESS.exec(address);
  const host = m ? Number(m[1]) : Number.NaN;
  if (!(host >= min && host <= max))
    throw new NodeVmError("INVALID_OPTIONS", "Cannot start VM", {
      expected: `${what} in 10.0.2.${min}-${max}`,
      actual: address,
    });
  return host;
}

/**
 * The `-netdev user,…` value: no route anywhere (`restrict=on`), the guest's DHCP address, the host
 * forwards (`hostPorts`: guest port → 127.0.0.1 port, already chosen) and the guest forwards.
 */
export function userNetdev(opts: NodeVmOptions, hostPorts: ReadonlyMap<number, number>): string {
  const netdev = ["user", "id=net0", "restrict=on", "net=10.0.2.0/24"];
  if (opts.guestIp !== undefined) {
    hostOf(opts.guestIp, "guest address", 15, 99);
    netdev.push(`dhcpstart=${opts.guestIp}`);
  }
  for (const [guestPort, hostPort] of hostPorts)
    netdev.push(`hostfwd=tcp:127.0.0.1:${hostPort}-:${guestPort}`);
  for (const g of opts.guestForwards ?? []) {
    hostOf(g.guestAddress, "guest forward address", 3, 254);
    if (!Number.isInteger(g.hostPort) || g.hostPort < 1 || g.hostPort > 65535)
      throw new NodeVmError("INVALID_OPTIONS", "Cannot start VM", {
        expected: "guest forward to a host port 1-65535",
        actual: String(g.hostPort),
      });
    netdev.push(`guestfwd=tcp:${g.guestAddress}:${g.guestPort}-cmd:${GUEST_FORWARD_RELAY}${g.hostPort}`);
  }
  return netdev.join(",");
}

/**
 * The QEMU command line of a node VM in `dir` (pure, so tests check it without booting): q35 without
 * SMM, OVMF with a private variable store, the vTPM on swtpm's socket (CRB interface), the image
 * read-only and the state disk as virtio disks, two serial ports to files, the user-mode network,
 * the node name in fw_cfg, QMP, daemonised with a pid file.
 */
export function qemuArgv(
  opts: NodeVmOptions,
  dir: string,
  hostPorts: ReadonlyMap<number, number>,
  accel: "kvm" | "tcg",
): string[] {
  if (opts.nodeName !== undefined && !NODE_NAME.test(opts.nodeName))
    throw new NodeVmError("INVALID_OPTIONS", "Cannot start VM", {
      expected: "node name: a DNS label of at most 63 characters",
      actual: opts.nodeName,
    });
  const p = paths(dir);
  return [
    "qemu-system-x86_64",
    "-name",
    `asterism-${opts.name},process=asterism-${opts.name}`,
    "-machine",
    `q35,accel=${accel},smm=off`,
    "-cpu",
    // TCG's "max" model has AVX2 (QEMU ≥ 7.2), which the compiled Bun bootstrapper needs.
    accel === "kvm" ? "host" : "max",
    "-m",
    String(opts.memoryMiB ?? 1024),
    "-smp",
    String(opts.cpus ?? 1),
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-serial",
    `file:${p.serial}`,
    "-serial",
    `file:${p.report}`,
    "-drive",
    `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
    "-drive",
    `if=pflash,format=raw,unit=1,file=${p.vars}`,
    "-chardev",
    `socket,id=chrtpm,path=${p.tpmSock}`,
    "-tpmdev",
    "emulator,id=tpm0,chardev=chrtpm",
    "-device",
    "tpm-crb,tpmdev=tpm0",
    "-drive",
    `file=${resolve(opts.image)},format=raw,if=none,id=os,readonly=on`,
    "-device",
    "virtio-blk-pci,drive=os,bootindex=0",
    "-drive",
    `file=${p.state},format=raw,if=none,id=state,discard=unmap`,
    "-device",
    "virtio-blk-pci,drive=state,serial=asterism-state",
    "-netdev",
    userNetdev(opts, hostPorts),
    "-device",
    "virtio-net-pci,netdev=net0,romfile=",
    ...(opts.nodeName === undefined ? [] : ["-fw_cfg", `name=${FW_CFG_NODE_NAME},string=${opts.nodeName}`]),
    "-qmp",
    `unix:${p.qmp},server=on,wait=off`,
    "-pidfile",
    p.qemuPid,
    "-daemonize",
  ];
}

/**
 * Boot a node VM: q35 + KVM + OVMF (a private copy of the variable store), a fresh `swtpm` on the
 * per-VM TPM state directory (swtpm exits when QEMU stops, so each boot starts its own), the image as a
 * read-only virtio disk, a per-VM state disk, user-mode networking restricted to the given loopback
 * forwards, and the serial console in `serial.log`. Both processes are daemonised with pid files so a
 * later process can stop them ({@link stopNodeVm}).
 */
export async function startNodeVm(opts: NodeVmOptions): Promise<NodeVm> {
  if (!NAME.test(opts.name))
    throw new NodeVmError("INVALID_OPTIONS", "Cannot start VM", {
      expected: "name [a-z0-9-]{1,32}",
      actual: opts.name,
    });
  const dir = resolve(opts.dir);
  const image = resolve(opts.image);
  if (!existsSync(image))
    throw new NodeVmError("INVALID_OPTIONS", "Cannot start VM", {
      expected: "an existing image",
      actual: image,
    });
  const accel = opts.accel ?? defaultAccel();
  if (accel === "kvm" && !existsSync("/dev/kvm"))
    throw new NodeVmError("START_FAILED", "Cannot start VM", { expected: "/dev/kvm", actual: "absent" });
  if ((opts.guestForwards ?? []).length > 0 && Bun.which("socat") === null)
    throw new NodeVmError("START_FAILED", "Cannot start VM", {
      expected: "socat in PATH (guest forwards relay through it; scripts/apt-packages.txt)",
      actual: "absent",
    });
  const choosePorts = async () => {
    const ports = new Map<number, number>();
    for (const f of opts.hostForwards ?? []) ports.set(f.guestPort, f.hostPort || (await freeLoopbackPort()));
    return ports;
  };
  let ports = await choosePorts();
  // Built (and so checked) before anything starts.
  let argv = qemuArgv(opts, dir, ports, accel);

  const p = paths(dir);
  mkdirSync(p.tpmState, { recursive: true });
  if (isOurs(readPid(p.qemuPid), dir))
    throw new NodeVmError("ALREADY_RUNNING", "Cannot start VM", {
      expected: `no VM in ${dir}`,
      actual: "running",
    });
  const tpmCa = (opts.ekCertificates ?? true) ? await manufactureTpm(dir, p.tpmState) : undefined;
  if (!existsSync(p.vars)) copyFileSync(OVMF_VARS_TEMPLATE, p.vars);
  if (!existsSync(p.state)) {
    writeFileSync(p.state, "");
    truncateSync(p.state, opts.stateDiskBytes ?? 1024 * 1024 * 1024);
  }
  for (const f of [p.tpmSock, p.qmp, p.qemuPid, p.tpmPid, p.serial, p.report]) rmSync(f, { force: true });

  let swtpmPid: number | undefined;
  for (let attempt = 1; ; attempt++) {
    spawnChecked(
      [
        "swtpm",
        "socket",
        "--tpm2",
        "--tpmstate",
        `dir=${p.tpmState}`,
        "--ctrl",
        `type=unixio,path=${p.tpmSock}`,
        "--log",
        `file=${p.tpmLog},level=1`,
        "--pid",
        `file=${p.tpmPid}`,
        "--daemon",
      ],
      "swtpm",
    );
    await waitFor("swtpm socket", () => existsSync(p.tpmSock), 5000);
    swtpmPid = readPid(p.tpmPid);
    const started = swtpmPid;

    try {
      spawnChecked(argv, "qemu");
      await waitFor("qemu pid file", () => readPid(p.qemuPid) !== undefined, 10_000);
    } catch (err) {
      if (isOurs(started, dir) && started !== undefined) process.kill(started, "SIGTERM");
      // A chosen forward port was taken by someone else before QEMU bound it: choose again (bounded).
      const autoPorts = (opts.hostForwards ?? []).some((f) => !f.hostPort);
      if (
        autoPorts &&
        attempt < HOSTFWD_ATTEMPTS &&
        err instanceof Error &&
        HOSTFWD_TAKEN.test(err.message)
      ) {
        await waitFor("swtpm to stop", () => !isOurs(started, dir), 5000).catch(() => undefined);
        for (const f of [p.tpmSock, p.tpmPid]) rmSync(f, { force: true });
        ports = await choosePorts();
        argv = qemuArgv(opts, dir, ports, accel);
        continue;
      }
      throw err;
    }
    break;
  }
  const vm: NodeVm = {
    name: opts.name,
    dir,
    serialLog: p.serial,
    reportLog: p.report,
    qemuPid: readPid(p.qemuPid) ?? 0,
    swtpmPid: swtpmPid ?? 0,
    ports,
    tpmCa,
  };
  writeFileSync(
    p.info,
    `${JSON.stringify({ name: vm.name, image, ports: Object.fromEntries(ports) }, null, 2)}\n`,
  );
  return vm;
}

/** Whether the VM in `dir` runs: both pids alive and ours. */
export function nodeVmStatus(dir: string): { qemu: boolean; swtpm: boolean } {
  const p = paths(resolve(dir));
  return { qemu: isOurs(readPid(p.qemuPid), resolve(dir)), swtpm: isOurs(readPid(p.tpmPid), resolve(dir)) };
}

/**
 * Stop the VM in `dir`: ACPI power-down through QMP, then `quit` after `graceMs`, then SIGKILL; swtpm
 * follows QEMU, or gets SIGTERM. Only the pids recorded in `dir` are signalled. Leaves the state disk,
 * TPM state and OVMF variables (a later start is a reboot).
 */
export async function stopNodeVm(dir: string, graceMs = 10_000): Promise<void> {
  const d = resolve(dir);
  const p = paths(d);
  const qemu = readPid(p.qemuPid);
  if (isOurs(qemu, d)) {
    await qmpCommand(p.qmp, "system_powerdown").catch(() => undefined);
    const end = Date.now() + graceMs;
    while (isOurs(qemu, d) && Date.now() < end) await Bun.sleep(100);
    if (isOurs(qemu, d)) await qmpCommand(p.qmp, "quit").catch(() => undefined);
    const end2 = Date.now() + 3000;
    while (isOurs(qemu, d) && Date.now() < end2) await Bun.sleep(100);
    if (isOurs(qemu, d) && qemu !== undefined) process.kill(qemu, "SIGKILL");
  }
  const tpm = readPid(p.tpmPid);
  const end3 = Date.now() + 3000;
  while (isOurs(tpm, d) && Date.now() < end3) await Bun.sleep(100);
  if (isOurs(tpm, d) && tpm !== undefined) process.kill(tpm, "SIGTERM");
  const end4 = Date.now() + 3000;
  while (isOurs(tpm, d) && Date.now() < end4) await Bun.sleep(100);
  if (isOurs(tpm, d) && tpm !== undefined) process.kill(tpm, "SIGKILL");
  for (const f of [p.tpmSock, p.qmp, p.qemuPid, p.tpmPid]) rmSync(f, { force: true });
}

/**
 * Reset the VM in `dir` as a power cycle would (QMP `system_reset`): the guest reboots at once from
 * the firmware, and the vTPM is reset with the machine (QEMU's TPM backend sends swtpm CMD_INIT), so
 * every PCR starts again from its reset value. Disk, TPM state and OVMF variables are kept.
 */
export async function resetNodeVm(dir: string): Promise<void> {
  const d = resolve(dir);
  const p = paths(d);
  if (!isOurs(readPid(p.qemuPid), d))
    throw new NodeVmError("NOT_RUNNING", "Cannot reset VM", {
      expected: `a VM running in ${d}`,
      actual: "none",
    });
  await qmpCommand(p.qmp, "system_reset");
}
