/**
 * Test harness for the multi-process lifecycle tests: real service processes (`bun apps/<x>/src/main.ts`),
 * their JSON log lines, endpoints files, swtpm nodes and LUKS images. Everything listens on 127.0.0.1 with
 * free ports; every process is tracked and killed by `killAll()`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, type SwtpmInstance, startSwtpm } from "@asterism/testing";

/** A running service process and what it logged. */
export interface Proc {
  readonly name: string;
  readonly proc: ReturnType<typeof Bun.spawn>;
  readonly lines: Record<string, unknown>[];
  /** Raw stderr text (for leak checks). */
  raw(): string;
  waitFor(
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  exitCode(timeoutMs?: number): Promise<number | null>;
  kill(signal?: NodeJS.Signals | number): void;
}

const procs: Proc[] = [];

/**
 * Start `bun apps/<app>/src/main.ts` with `env` (plus PATH and HOME), or the compiled `dist/<app>` when
 * `LIFECYCLE_TEST_BINARIES=1` (run `bun run build` first), or the executable `binary` when given.
 */
export function startApp(
  name: string,
  app: string,
  env: Record<string, string>,
  opts: { readonly binary?: string } = {},
): Proc {
  const compiled = join(repoRoot, "dist", app);
  const argv =
    opts.binary !== undefined
      ? [opts.binary]
      : process.env["LIFECYCLE_TEST_BINARIES"] === "1" && existsSync(compiled)
        ? [compiled]
        : ["bun", join(repoRoot, "apps", app, "src", "main.ts")];
  const proc = Bun.spawn(argv, {
    cwd: repoRoot,
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/tmp", ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const lines: Record<string, unknown>[] = [];
  let raw = "";
  const waiters: {
    pred: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
      const text = decoder.decode(chunk, { stream: true });
      raw += text;
      buf += text;
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
        let obj: Record<string, unknown>;
        try {
          obj = JSON.parse(line) as Record<string, unknown>;
        } catch {
          obj = { msg: "(non-JSON)", text: line };
        }
        lines.push(obj);
        if (process.env["LIFECYCLE_TEST_LOGS"]) process.stderr.write(`[${name}] ${line}\n`);
        for (const w of [...waiters]) {
          if (w.pred(obj)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(obj);
          }
        }
      }
    }
  })();
  const p: Proc = {
    name,
    proc,
    lines,
    raw: () => raw,
    waitFor(pred, timeoutMs = 20_000) {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(
            new Error(
              `${name}: no matching log line within ${timeoutMs} ms; last: ${JSON.stringify(lines.slice(-5))}`,
            ),
          );
        }, timeoutMs);
        const w = {
          pred,
          resolve: (l: Record<string, unknown>) => {
            clearTimeout(t);
            resolve(l);
          },
        };
        waiters.push(w);
      });
    },
    async exitCode(timeoutMs = 30_000) {
      const r = await Promise.race([proc.exited, Bun.sleep(timeoutMs).then(() => "timeout" as const)]);
      if (r === "timeout")
        throw new Error(
          `${name} did not exit within ${timeoutMs} ms; last: ${JSON.stringify(lines.slice(-5))}`,
        );
      return r;
    },
    kill(signal = "SIGTERM") {
      if (proc.exitCode === null && !proc.killed) proc.kill(signal);
    },
  };
  procs.push(p);
  return p;
}

/** Every process started so far. */
export function allStarted(): readonly Proc[] {
  return procs;
}

/** The last process started under `name`. */
export function startedByName(name: string): Proc | undefined {
  return [...procs].reverse().find((p) => p.name === name);
}

/** Kill every process this harness started (SIGCONT first, in case one was stopped). */
export async function killAll(): Promise<void> {
  for (const p of procs) {
    try {
      p.proc.kill("SIGCONT");
      p.proc.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  await Promise.all(procs.map((p) => Promise.race([p.proc.exited, Bun.sleep(3000)])));
}

/** Poll until `f` returns a value (bounded). */
export async function until<T>(
  what: string,
  f: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await f();
    if (v !== undefined) return v;
    await Bun.sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Read an endpoints file once it names `key`. */
export function endpointOf(path: string, key: string, timeoutMs?: number): Promise<string> {
  return until(
    `${key} in ${path}`,
    () => {
      try {
        return (JSON.parse(readFileSync(path, "utf8")) as Record<string, string>)[key];
      } catch {
        return undefined;
      }
    },
    timeoutMs,
  );
}

/** One simulated node: its swtpm, run directory and state-disk image. */
export interface TestNode {
  readonly name: string;
  readonly role: "control-plane" | "worker";
  readonly swtpm: SwtpmInstance;
  readonly runDir: string;
  readonly disk: string;
  readonly endpointsFile: string;
}

export async function createTestNode(dir: string, name: string, role: TestNode["role"]): Promise<TestNode> {
  const runDir = join(dir, name);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const disk = join(dir, `${name}.img`);
  writeFileSync(disk, new Uint8Array(0));
  if (Bun.spawnSync(["truncate", "-s", "20M", disk]).exitCode !== 0) throw new Error("truncate failed");
  return {
    name,
    role,
    swtpm: await startSwtpm(),
    runDir,
    disk,
    endpointsFile: join(runDir, "endpoints.json"),
  };
}

/** The bootstrapper's environment for `node` (free ports, local installer, fast LUKS, fast backoff). */
export function bootstrapperEnv(node: TestNode, metadataUrl: string, extra: Record<string, string> = {}) {
  return {
    ASTERISM_TPM: `swtpm:127.0.0.1:${node.swtpm.port}`,
    ASTERISM_METADATA_URL: metadataUrl,
    ASTERISM_NODE_NAME: node.name,
    ASTERISM_STATE_DISK: node.disk,
    ASTERISM_RUN_DIR: node.runDir,
    ASTERISM_INIT_LISTEN: "127.0.0.1:0",
    ASTERISM_RECOVERY_LISTEN: "127.0.0.1:0",
    ASTERISM_ENDPOINTS_FILE: node.endpointsFile,
    ASTERISM_KUBERNETES_INSTALLER: "local",
    ASTERISM_LUKS_PBKDF: "pbkdf2:1000",
    ASTERISM_DEVICE_MAPPER: "none",
    ASTERISM_JOIN_BACKOFF_MS: "100,800",
    ASTERISM_JOIN_TIMEOUT_MS: "60000",
    ...extra,
  };
}

/** status.json of a node. */
export function statusOf(node: TestNode): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(join(node.runDir, "status.json"), "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
