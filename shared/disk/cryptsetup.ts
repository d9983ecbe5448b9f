import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiskError } from "./errors.ts";

/**
 * How LUKS key slots derive their keys. Production keeps cryptsetup's default (argon2id, memory-hard);
 * tests pass `{ pbkdf: "pbkdf2", iterations: 1000 }` because the default costs ~1 GB and seconds per slot.
 * Our keys are 32 random bytes from the KMS, so the PBKDF adds little security here either way.
 */
export interface PbkdfOptions {
  readonly pbkdf: "argon2id" | "pbkdf2";
  readonly iterations?: number;
}

/** Runs cryptsetup. Injected so the orchestration can be tested without the binary where needed. */
export interface CryptsetupRunner {
  run(args: readonly string[], stdin?: Uint8Array): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** The real cryptsetup binary. Keys only ever reach it through stdin or a private memory-backed file. */
export function systemCryptsetup(binary = "cryptsetup"): CryptsetupRunner {
  return {
    async run(args, stdin) {
      const p = Bun.spawn([binary, ...args], { stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([
        new Response(p.stdout).text(),
        new Response(p.stderr).text(),
        p.exited,
      ]);
      return { code, stdout, stderr };
    },
  };
}

/**
 * cryptsetup reads at most one key from stdin; adding a key needs two. The second goes into a file in a
 * fresh 0700 directory on /dev/shm (memory-backed, never on disk), removed as soon as cryptsetup exits.
 */
export async function withKeyFile<T>(key: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const base = process.platform === "linux" ? "/dev/shm" : tmpdir();
  const dir = mkdtempSync(join(base, "asterism-key-"));
  chmodSync(dir, 0o700);
  const path = join(dir, "key");
  try {
    writeFileSync(path, key, { mode: 0o600 });
    return await fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function pbkdfArgs(p: PbkdfOptions | undefined): string[] {
  if (!p) return [];
  return [
    "--pbkdf",
    p.pbkdf,
    ...(p.iterations === undefined ? [] : ["--pbkdf-force-iterations", String(p.iterations)]),
  ];
}

/** cryptsetup's exit code 2 means "no key available with this passphrase" (cryptsetup(8), RETURN CODES). */
export const EXIT_WRONG_KEY = 2;

export function failed(action: string, r: { code: number; stderr: string }): never {
  if (r.code === EXIT_WRONG_KEY)
    throw new DiskError("WRONG_KEY", action, {
      expected: "a key that opens a key slot",
      actual: "no slot opened",
    });
  throw new DiskError("CRYPTSETUP_FAILED", action, {
    actual: `exit ${r.code}: ${r.stderr.trim().slice(0, 300)}`,
  });
}
