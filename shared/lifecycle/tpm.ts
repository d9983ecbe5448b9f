import {
  type ClosableTpmTransport,
  connectSwtpm,
  createTpm,
  openTpmDevice,
  type Tpm,
  type TpmTransport,
} from "@asterism/tpm";
import * as v from "valibot";
import { LifecycleError } from "./errors.ts";

/** Where a node's TPM is: a swtpm command port (already powered on) or a character device. */
export type TpmSpec =
  | { readonly kind: "swtpm"; readonly host: string; readonly port: number }
  | { readonly kind: "device"; readonly path: string };

/**
 * Parse `ASTERISM_TPM`: `swtpm:<host>:<port>` (loopback only) or an absolute device path such as
 * `/dev/tpmrm0`.
 */
export function parseTpmSpec(s: string): TpmSpec {
  const m = /^swtpm:(127\.0\.0\.1|localhost|\[::1\]):(\d{1,5})$/.exec(s);
  if (m) {
    const port = Number(m[2]);
    if (port > 0 && port < 65536)
      return { kind: "swtpm", host: m[1] === "[::1]" ? "::1" : (m[1] as string), port };
  }
  if (/^\/dev\/tpm(rm)?\d+$/.test(s)) return { kind: "device", path: s };
  throw new LifecycleError("CONFIG_INVALID", "Cannot parse ASTERISM_TPM", {
    expected: "swtpm:127.0.0.1:<port> or /dev/tpmrm<N>",
    actual: JSON.stringify(s.slice(0, 80)),
  });
}

/** valibot schema of `ASTERISM_TPM` (see {@link parseTpmSpec}), shared by every binary that talks to the TPM. */
export const TpmSpecSchema = v.pipe(
  v.string(),
  v.check((s) => {
    try {
      parseTpmSpec(s);
      return true;
    } catch {
      return false;
    }
  }, "must be swtpm:127.0.0.1:<port> or /dev/tpmrm<N>"),
  v.transform((s): TpmSpec => parseTpmSpec(s)),
);

/** A TPM whose connection can be released. */
export interface NodeTpm extends Tpm {
  close(): Promise<void>;
}

/** Default idle time after which an on-demand swtpm connection is closed so other processes get their turn. */
export const DEFAULT_TPM_IDLE_MS = 25;

/**
 * A transport that connects on the first command and disconnects after `idleMs` without commands.
 * swtpm serves one client connection at a time (toolchain.md §4): the bootstrapper and the
 * VerificationService of one node share its swtpm by holding the connection only while they use it.
 * One command at a time (createTpm serializes).
 */
export function onDemandTransport(
  connect: () => Promise<ClosableTpmTransport>,
  idleMs = DEFAULT_TPM_IDLE_MS,
): ClosableTpmTransport {
  let conn: Promise<ClosableTpmTransport> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const drop = () => {
    const c = conn;
    conn = undefined;
    return c?.then(
      (t) => t.close(),
      () => undefined,
    );
  };
  return {
    async send(command) {
      clearTimeout(timer);
      conn ??= connect();
      let t: ClosableTpmTransport;
      try {
        t = await conn;
      } catch (err) {
        conn = undefined;
        throw err;
      }
      try {
        return await t.send(command);
      } catch (err) {
        await drop();
        throw err;
      } finally {
        if (conn !== undefined) {
          timer = setTimeout(() => void drop(), idleMs);
          timer.unref?.();
        }
      }
    },
    async close() {
      clearTimeout(timer);
      await drop();
    },
  };
}

/**
 * Open the node's TPM. A swtpm is reached on demand (never powered on here: booting is the platform's job,
 * see {@link bootLocalNode}); a device stays open (the kernel's resource manager multiplexes it).
 */
export async function openNodeTpm(
  spec: TpmSpec,
  opts: { idleMs?: number; timeoutMs?: number } = {},
): Promise<NodeTpm> {
  let transport: TpmTransport & { close(): Promise<void> };
  if (spec.kind === "swtpm") {
    transport = onDemandTransport(
      () =>
        connectSwtpm({
          host: spec.host,
          port: spec.port,
          ctrlPort: spec.port + 1,
          powerOn: false,
          timeoutMs: opts.timeoutMs ?? 30_000,
        }),
      opts.idleMs,
    );
  } else {
    transport = await openTpmDevice(spec.path);
  }
  const tpm = createTpm(transport);
  return { ...tpm, close: () => transport.close() };
}
