import { open } from "node:fs/promises";
import { TransportError } from "../errors.ts";
import { responseSize } from "./frame.ts";
import { type ClosableTpmTransport, HEADER_SIZE, MAX_RESPONSE_SIZE } from "./types.ts";

/** The part of a file handle the device transport uses (node:fs/promises FileHandle fits; so do stubs). */
export interface TpmDeviceFile {
  write(buffer: Uint8Array): Promise<{ bytesWritten: number }>;
  read(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/** The kernel's resource-managed TPM (flushes our transient objects when we close). */
export const TPMRM_DEVICE = "/dev/tpmrm0";
/** The raw TPM device (exclusive; no resource manager). */
export const TPM_DEVICE = "/dev/tpm0";

/** Bound on partial reads per response (the Linux driver returns a whole response in one read). */
const MAX_READS = 64;

/**
 * Linux TPM character device transport: write one whole command, read the response. The driver
 * delivers a response in a single read(2), but short reads are handled (bounded) all the same.
 */
export function deviceTransport(file: TpmDeviceFile): ClosableTpmTransport {
  let closed = false;
  return {
    async send(command) {
      if (closed) throw new TransportError("CLOSED", "TPM device already closed");
      try {
        const { bytesWritten } = await file.write(command);
        if (bytesWritten !== command.length)
          throw new TransportError("IO_FAILED", "Short write to TPM device", {
            expected: String(command.length),
            actual: String(bytesWritten),
          });
        const buf = new Uint8Array(MAX_RESPONSE_SIZE);
        let got = 0;
        let want = HEADER_SIZE;
        for (let i = 0; got < want; i++) {
          if (i >= MAX_READS) throw new TransportError("FRAMING", "TPM device response never completed");
          const { bytesRead } = await file.read(buf, got, buf.length - got);
          if (bytesRead === 0)
            throw new TransportError("FRAMING", "TPM device response ended early", {
              expected: `${want} bytes`,
              actual: `${got} bytes`,
            });
          got += bytesRead;
          if (got >= HEADER_SIZE) want = responseSize(buf.subarray(0, HEADER_SIZE));
        }
        if (got !== want)
          throw new TransportError("FRAMING", "TPM device returned bytes beyond the response", {
            expected: `${want} bytes`,
            actual: `${got} bytes`,
          });
        return buf.slice(0, want);
      } catch (err) {
        if (err instanceof TransportError) throw err;
        throw new TransportError("IO_FAILED", "TPM device I/O failed", { cause: err });
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await file.close();
    },
  };
}

/** Open `/dev/tpmrm0` (default) or `/dev/tpm0`. */
export async function openTpmDevice(path: string = TPMRM_DEVICE): Promise<ClosableTpmTransport> {
  try {
    return deviceTransport(await open(path, "r+"));
  } catch (err) {
    throw new TransportError("CONNECT_FAILED", `Cannot open TPM device ${path}`, { cause: err });
  }
}
