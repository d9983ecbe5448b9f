import { TransportError } from "../errors.ts";
import { connectTcp, openSocket } from "./socket.ts";
import type { ClosableTpmTransport } from "./types.ts";

/**
 * swtpm control-channel commands (swtpm `include/swtpm/tpm_ioctl.h`, "CMD_*" for the socket interface):
 * a 4-byte big-endian command code, its payload, and a 4-byte big-endian TPM result in reply.
 */
export const SWTPM_CTRL = { GET_CAPABILITY: 1, INIT: 2, SHUTDOWN: 3, STOP: 14 } as const;

/** Where a swtpm listens. `ctrlPort` is the control channel (tpm2-tools' swtpm TCTI assumes port + 1). */
export interface SwtpmAddress {
  readonly host: string;
  readonly port: number;
  readonly ctrlPort: number;
}

/** Options of {@link connectSwtpm}. */
export interface SwtpmOptions extends SwtpmAddress {
  /**
   * Send CMD_INIT on the control channel first (TPM power-on / _TPM_Init). Default true. Only do this on
   * a TPM nobody else uses: it resets PCRs and flushes all transient objects and sessions.
   */
  readonly powerOn?: boolean;
  readonly timeoutMs?: number;
}

/** Send one control command and return swtpm's 4-byte result (0 = success). */
export async function swtpmCtrl(
  addr: { host: string; ctrlPort: number },
  cmd: number,
  payload: Uint8Array = new Uint8Array(0),
  timeoutMs = 10_000,
): Promise<number> {
  const sock = await openSocket(addr.host, addr.ctrlPort, timeoutMs);
  try {
    const frame = new Uint8Array(4 + payload.length);
    new DataView(frame.buffer).setUint32(0, cmd);
    frame.set(payload, 4);
    return await new Promise<number>((resolve, reject) => {
      let buf = new Uint8Array(0);
      const timer = setTimeout(
        () => reject(new TransportError("TIMEOUT", `swtpm control command ${cmd} unanswered`)),
        timeoutMs,
      );
      sock.on("data", (chunk: Buffer) => {
        const next = new Uint8Array(buf.length + chunk.length);
        next.set(buf);
        next.set(chunk, buf.length);
        buf = next;
        if (buf.length >= 4) {
          clearTimeout(timer);
          resolve(new DataView(buf.buffer).getUint32(0));
        }
      });
      sock.on("error", (err) => {
        clearTimeout(timer);
        reject(new TransportError("IO_FAILED", "swtpm control channel failed", { cause: err }));
      });
      sock.on("close", () => {
        clearTimeout(timer);
        reject(new TransportError("CLOSED", `swtpm control channel closed before answering ${cmd}`));
      });
      sock.write(frame);
    });
  } finally {
    sock.destroy();
  }
}

/**
 * Connect to swtpm's TCP command port, powering the TPM on first through the control port. TPM2_Startup
 * is sent by `openSwtpm` (it needs the command layer).
 */
export async function connectSwtpm(opts: SwtpmOptions): Promise<ClosableTpmTransport> {
  if (opts.powerOn ?? true) {
    const rc = await swtpmCtrl(opts, SWTPM_CTRL.INIT, new Uint8Array(4), opts.timeoutMs);
    if (rc !== 0)
      throw new TransportError("CTRL_FAILED", "swtpm CMD_INIT failed", {
        expected: "0",
        actual: `0x${rc.toString(16)}`,
      });
  }
  return connectTcp({
    host: opts.host,
    port: opts.port,
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
  });
}
