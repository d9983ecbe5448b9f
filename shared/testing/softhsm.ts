import { dlopen, FFIType } from "bun:ffi";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The Debian softhsm2 package's PKCS#11 module. */
export const SOFTHSM_LIBRARY = "/usr/lib/softhsm/libsofthsm2.so";

/** A freshly initialized SoftHSM2 token in its own temp directory. */
export interface SoftHsmToken {
  /** Directory holding the token's object files (delete it to make the token vanish). */
  readonly tokenDir: string;
  /** Path of the token's `softhsm2.conf`; SoftHSM reads `SOFTHSM2_CONF` at `C_Initialize`. */
  readonly confPath: string;
  /** `{ SOFTHSM2_CONF }`, to merge into a child process's env. */
  readonly env: { readonly SOFTHSM2_CONF: string };
  readonly libraryPath: string;
  readonly label: string;
  readonly pin: string;
  /**
   * Point this process's native environment at the token, so an in-process `C_Initialize` finds it.
   * Needed because Bun's `process.env` assignments never reach the C `environ` that SoftHSM's
   * `getenv("SOFTHSM2_CONF")` reads (measured on Bun 1.4.5); this calls libc `setenv` through bun:ffi.
   * Call it before the module is first initialized in the process.
   */
  useInProcess(): void;
  /** Delete the token directory. */
  cleanup(): void;
}

/**
 * Create a SoftHSM2 token with `softhsm2-util --init-token --free` under a private temp dir (never the
 * system token store). The caller sets `process.env.SOFTHSM2_CONF = token.confPath` before loading the
 * module in-process, or passes `token.env` to a child process.
 */
export function createSoftHsmToken(label = "asterism-test", pin = "1234", soPin = "5678"): SoftHsmToken {
  const dir = mkdtempSync(join(tmpdir(), "asterism-softhsm-"));
  const tokens = join(dir, "tokens");
  const confPath = join(dir, "softhsm2.conf");
  mkdirSync(tokens, { mode: 0o700 });
  writeFileSync(
    confPath,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  const env = { SOFTHSM2_CONF: confPath };
  const r = Bun.spawnSync(
    ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPin],
    { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`softhsm2-util --init-token failed (${r.exitCode}): ${r.stderr.toString().trim()}`);
  }
  return {
    tokenDir: tokens,
    confPath,
    env,
    libraryPath: SOFTHSM_LIBRARY,
    label,
    pin,
    useInProcess: () => {
      process.env["SOFTHSM2_CONF"] = confPath;
      nativeSetenv("SOFTHSM2_CONF", confPath);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function nativeSetenv(name: string, value: string): void {
  const libc = dlopen("libc.so.6", {
    setenv: { args: [FFIType.cstring, FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
  });
  try {
    const rc = libc.symbols.setenv(Buffer.from(`${name}\0`), Buffer.from(`${value}\0`), 1);
    if (rc !== 0) throw new Error(`setenv(${name}) failed`);
  } finally {
    libc.close();
  }
}
