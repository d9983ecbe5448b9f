import { connect, type Socket } from "node:net";
import { TransportError } from "../errors.ts";
import { ResponseAssembler } from "./frame.ts";
import type { ClosableTpmTransport } from "./types.ts";

/** Options of {@link connectTcp}. */
export interface TcpOptions {
  readonly host: string;
  readonly port: number;
  /** Per-command timeout; a TPM command that takes longer is treated as a dead channel. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Open a TCP connection and resolve once it is established (bounded by the timeout). */
export function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(
        new TransportError("TIMEOUT", `Cannot connect to ${host}:${port}`, { expected: `< ${timeoutMs} ms` }),
      );
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(timer);
      s.off("error", onError);
      resolve(s);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(new TransportError("CONNECT_FAILED", `Cannot connect to ${host}:${port}`, { cause: err }));
    };
    s.once("error", onError);
  });
}

/**
 * A raw TPM command stream over TCP (swtpm's `--server type=tcp` port carries bare TPM commands and
 * responses). One command at a time: callers go through {@link serializeTransport} or `createTpm`.
 */
export async function connectTcp(opts: TcpOptions): Promise<ClosableTpmTransport> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const sock = await openSocket(opts.host, opts.port, timeoutMs);
  return streamTransport(sock, timeoutMs);
}

/** Wrap a connected duplex socket carrying raw TPM frames. */
export function streamTransport(sock: Socket, timeoutMs = DEFAULT_TIMEOUT_MS): ClosableTpmTransport {
  const asm = new ResponseAssembler();
  let waiter: { resolve: (b: Uint8Array) => void; reject: (e: unknown) => void } | undefined;
  let failure: TransportError | undefined;
  let closed = false;

  const settle = () => {
    const w = waiter;
    if (!w) return;
    try {
      const r = asm.take();
      if (r) {
        waiter = undefined;
        w.resolve(r);
      }
    } catch (err) {
      waiter = undefined;
      failure = err as TransportError;
      sock.destroy();
      w.reject(err);
    }
  };
  const fail = (err: TransportError) => {
    failure ??= err;
    const w = waiter;
    waiter = undefined;
    w?.reject(failure);
  };
  sock.on("data", (chunk: Buffer) => {
    asm.push(new Uint8Array(chunk));
    settle();
  });
  sock.on("error", (err) => fail(new TransportError("IO_FAILED", "TPM socket failed", { cause: err })));
  sock.on("close", () => fail(new TransportError("CLOSED", "TPM socket closed by peer")));

  return {
    send(command) {
      if (closed) return Promise.reject(new TransportError("CLOSED", "TPM transport already closed"));
      if (failure) return Promise.reject(failure);
      if (waiter) return Promise.reject(new TransportError("IO_FAILED", "Concurrent send on one TPM socket"));
      if (asm.pending !== 0) {
        // Unsolicited bytes mean the stream is out of step; never pair them with this command.
        sock.destroy();
        return Promise.reject(new TransportError("FRAMING", "Unsolicited bytes on TPM socket"));
      }
      return new Promise<Uint8Array>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          failure = new TransportError("TIMEOUT", "TPM did not answer", { expected: `< ${timeoutMs} ms` });
          sock.destroy();
          reject(failure);
        }, timeoutMs);
        waiter = {
          resolve: (b) => {
            clearTimeout(timer);
            resolve(b);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        sock.write(command);
      });
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => {
        if (sock.destroyed) return resolve();
        sock.once("close", () => resolve());
        sock.end();
        // A peer that never acknowledges the FIN must not keep us waiting.
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 1000).unref();
      });
    },
  };
}
