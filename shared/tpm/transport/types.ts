/**
 * The one interface every TPM transport implements (house style §14; go-tpm `transport.TPM`): send a
 * complete command, receive the complete response. Framing, power-on and locking live behind it.
 */
export interface TpmTransport {
  send(command: Uint8Array): Promise<Uint8Array>;
}

/** A transport that owns an OS resource (socket, file descriptor). */
export interface ClosableTpmTransport extends TpmTransport {
  /** Release the connection. Idempotent. swtpm serves one client at a time, so close before others use it. */
  close(): Promise<void>;
}

/**
 * Largest response accepted. Part 2 §13 MAX_RESPONSE_SIZE is 4096 on common TPMs; twice that guards
 * against a peer claiming gigabytes in the header.
 */
export const MAX_RESPONSE_SIZE = 8192;

/** Every TPM response starts with tag (2), responseSize (4), responseCode (4) — Part 1 §18.8. */
export const HEADER_SIZE = 10;
