import * as pkcs11js from "pkcs11js";
import { KekError } from "./errors.ts";
import { createKekRing, type KekRing, type KeyEncryptionKey } from "./kek.ts";

/** Where the KEK lives and how to log in. */
export interface Pkcs11KekOptions {
  /** Path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  readonly libraryPath: string;
  /** Label of the token holding the KEKs (as given to `softhsm2-util --init-token --label`). */
  readonly tokenLabel: string;
  /** User PIN. Never logged. */
  readonly pin: string;
  /** KEK object label prefix; version N is labelled `<prefix>N`. */
  readonly labelPrefix?: string;
  /**
   * How long (ms) the list of KEK versions is trusted before {@link Pkcs11KekProvider.ring} re-reads it
   * from the token, so a running KMS picks up a version another process (`kms rotate-kek`) created.
   * Default 10 s.
   */
  readonly refreshMs?: number;
  /** Clock for the refresh interval (ms). */
  readonly nowMs?: () => number;
}

/** KEKs on a PKCS#11 token, one AES-256 key object per version. */
export interface Pkcs11KekProvider {
  /** Versions found on the token, ascending. */
  versions(): number[];
  /** Re-read the KEK objects from the token now. */
  refresh(): void;
  /**
   * Touch the token (read the newest KEK's label, or the session state when there is none); throws
   * `HSM_UNAVAILABLE` when it does not answer. Used for readiness.
   */
  ping(): void;
  /** A ring over every version on the token; the highest one is current. */
  ring(): KekRing;
  /**
   * Generate the next KEK version on the token (AES-256, sensitive, never extractable, wrap/unwrap
   * only) and return it. Rotation then rewraps data keys with it ({@link rotateDataKeys}).
   */
  createVersion(): KeyEncryptionKey;
  /** Log out, close the session and finalize the module. Later calls fail with `HSM_UNAVAILABLE`. */
  close(): void;
}

const DEFAULT_PREFIX = "asterism-kek-v";

// PKCS#11 v2.40 §5.1 return values we branch on.
const CKR_GENERAL_ERROR = 0x05;
const CKR_DEVICE_ERROR = 0x30;
const CKR_DEVICE_REMOVED = 0x32;
const CKR_ENCRYPTED_DATA_INVALID = 0x40;
const CKR_PIN_INCORRECT = 0xa0;
const CKR_PIN_LOCKED = 0xa4;
const CKR_SESSION_CLOSED = 0xb0;
const CKR_SESSION_HANDLE_INVALID = 0xb3;
const CKR_TOKEN_NOT_PRESENT = 0xe0;
const CKR_USER_ALREADY_LOGGED_IN = 0x100;
const CKR_USER_NOT_LOGGED_IN = 0x101;
const CKR_WRAPPED_KEY_INVALID = 0x110;
const CKR_WRAPPED_KEY_LEN_RANGE = 0x112;
const CKR_CRYPTOKI_NOT_INITIALIZED = 0x190;
const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;

/** Failures after which a fresh session may succeed (token re-inserted, session dropped). */
const RECONNECTABLE = new Set([
  CKR_DEVICE_ERROR,
  CKR_DEVICE_REMOVED,
  CKR_SESSION_CLOSED,
  CKR_SESSION_HANDLE_INVALID,
  CKR_TOKEN_NOT_PRESENT,
  CKR_USER_NOT_LOGGED_IN,
  CKR_CRYPTOKI_NOT_INITIALIZED,
]);
/** What tokens return when an RFC 3394 integrity check fails (SoftHSM2 2.6 says GENERAL_ERROR). */
const UNWRAP_INTEGRITY = new Set([
  CKR_GENERAL_ERROR,
  CKR_ENCRYPTED_DATA_INVALID,
  CKR_WRAPPED_KEY_INVALID,
  CKR_WRAPPED_KEY_LEN_RANGE,
]);
/** Bound on KEK objects listed from a token. */
const MAX_KEK_OBJECTS = 256;

function ckr(err: unknown): number | undefined {
  return err instanceof pkcs11js.Pkcs11Error ? err.code : undefined;
}

function ckrName(err: unknown): string {
  return err instanceof pkcs11js.Pkcs11Error ? err.message.split(":")[0] || "CKR" : "not a PKCS#11 error";
}

/**
 * Open the token and find the KEK versions on it. Wrapping uses CKM_AES_KEY_WRAP (RFC 3394) with our own
 * 8-byte-aligned framing: SoftHSM2 2.6.1's CKM_AES_KEY_WRAP_PAD unwrap returns the padded length, so the
 * padded mechanism cannot give back the exact key length there.
 *
 * @throws KekError `HSM_UNAVAILABLE` (library, slot or token missing), `HSM_LOGIN_FAILED` (PIN refused).
 */
export function openPkcs11Keks(options: Pkcs11KekOptions): Pkcs11KekProvider {
  return new Pkcs11Keks(options);
}

class Pkcs11Keks implements Pkcs11KekProvider {
  private readonly p11 = new pkcs11js.PKCS11();
  private readonly prefix: string;
  private session: Buffer | undefined;
  private closed = false;
  /** False when another provider in this process initialized the module first (it then finalizes it). */
  private ownsInit = true;
  private readonly handles = new Map<number, Buffer>();
  private loadedAt = 0;
  private readonly refreshMs: number;
  private readonly nowMs: () => number;

  constructor(private readonly options: Pkcs11KekOptions) {
    this.prefix = options.labelPrefix ?? DEFAULT_PREFIX;
    this.refreshMs = options.refreshMs ?? 10_000;
    this.nowMs = options.nowMs ?? Date.now;
    try {
      this.p11.load(options.libraryPath);
    } catch (cause) {
      throw new KekError("HSM_UNAVAILABLE", "Cannot load PKCS#11 module", {
        expected: "a loadable PKCS#11 library",
        actual: options.libraryPath,
        cause,
      });
    }
    try {
      this.p11.C_Initialize();
    } catch (err) {
      if (ckr(err) !== CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        throw new KekError("HSM_UNAVAILABLE", "Cannot initialize PKCS#11 module", { actual: ckrName(err) });
      }
      this.ownsInit = false;
    }
    try {
      this.connect();
    } catch (err) {
      this.finalize();
      throw err;
    }
  }

  private connect(): void {
    const slot = this.findSlot();
    let session: Buffer;
    try {
      session = this.p11.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
    } catch (err) {
      throw new KekError("HSM_UNAVAILABLE", "Cannot open PKCS#11 session", { actual: ckrName(err) });
    }
    try {
      this.p11.C_Login(session, pkcs11js.CKU_USER, this.options.pin);
    } catch (err) {
      const code = ckr(err);
      // ALREADY_LOGGED_IN: PKCS#11 login state is per process, so another provider in this process
      // already logged in (and the PIN was checked then).
      if (code !== CKR_USER_ALREADY_LOGGED_IN) {
        try {
          this.p11.C_CloseSession(session);
        } catch {
          // The session is useless either way.
        }
        if (code !== undefined && code >= CKR_PIN_INCORRECT && code <= CKR_PIN_LOCKED) {
          throw new KekError("HSM_LOGIN_FAILED", `Cannot log in to token "${this.options.tokenLabel}"`, {
            actual: ckrName(err),
          });
        }
        throw new KekError("HSM_UNAVAILABLE", "Cannot log in to PKCS#11 token", { actual: ckrName(err) });
      }
    }
    this.session = session;
    try {
      this.loadHandles();
    } catch (err) {
      throw this.mapError(err, "HSM_UNAVAILABLE");
    }
  }

  private findSlot(): Buffer {
    let slots: Buffer[];
    try {
      slots = this.p11.C_GetSlotList(true);
    } catch (err) {
      throw new KekError("HSM_UNAVAILABLE", "Cannot list PKCS#11 slots", { actual: ckrName(err) });
    }
    for (const slot of slots) {
      try {
        if (this.p11.C_GetTokenInfo(slot).label.trimEnd() === this.options.tokenLabel) return slot;
      } catch {
        // A slot whose token vanished between the two calls: try the others.
      }
    }
    throw new KekError("HSM_UNAVAILABLE", "Cannot find PKCS#11 token", {
      expected: `a token labelled "${this.options.tokenLabel}"`,
      actual: `${slots.length} slots without it`,
    });
  }

  private loadHandles(): void {
    const s = this.requireSession();
    const next = new Map<number, Buffer>();
    this.p11.C_FindObjectsInit(s, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
    ]);
    let found: Buffer[];
    try {
      found = this.p11.C_FindObjects(s, MAX_KEK_OBJECTS);
    } finally {
      this.p11.C_FindObjectsFinal(s);
    }
    const re = new RegExp(`^${this.prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([1-9][0-9]{0,8})$`);
    for (const h of found) {
      const [attr] = this.p11.C_GetAttributeValue(s, h, [{ type: pkcs11js.CKA_LABEL }]);
      const label = attr?.value instanceof Buffer ? attr.value.toString("utf8") : "";
      const m = re.exec(label);
      if (m?.[1] === undefined) continue;
      const version = Number(m[1]);
      if (next.has(version)) {
        throw new KekError("KEK_NOT_FOUND", "Ambiguous key-encryption key on token", {
          expected: `one object labelled "${label}"`,
          actual: "several",
        });
      }
      next.set(version, h);
    }
    // Swap only after a complete listing, so a failure keeps the previous view.
    this.handles.clear();
    for (const [v, h] of next) this.handles.set(v, h);
    this.loadedAt = this.nowMs();
  }

  private requireSession(): Buffer {
    if (this.closed || this.session === undefined) {
      throw new KekError("HSM_UNAVAILABLE", "PKCS#11 session is closed");
    }
    return this.session;
  }

  /** Run `op` with a session; on a connection-type failure reconnect once (bounded) and retry. */
  private withSession<T>(op: (s: Buffer) => T): T {
    try {
      return op(this.requireSession());
    } catch (err) {
      const code = ckr(err);
      if (code === undefined || !RECONNECTABLE.has(code) || this.closed) throw err;
      this.session = undefined;
      try {
        this.connect();
      } catch (cause) {
        throw cause instanceof KekError
          ? cause
          : new KekError("HSM_UNAVAILABLE", "Cannot reconnect to PKCS#11 token", { cause });
      }
      return op(this.requireSession());
    }
  }

  versions(): number[] {
    if (this.closed) throw new KekError("HSM_UNAVAILABLE", "PKCS#11 session is closed");
    return [...this.handles.keys()].sort((a, b) => a - b);
  }

  refresh(): void {
    try {
      this.withSession(() => this.loadHandles());
    } catch (err) {
      throw this.mapError(err, "HSM_UNAVAILABLE");
    }
  }

  ping(): void {
    try {
      this.withSession((s) => {
        const newest = Math.max(0, ...this.handles.keys());
        if (newest === 0) this.p11.C_GetSessionInfo(s);
        else this.p11.C_GetAttributeValue(s, this.handleOf(newest), [{ type: pkcs11js.CKA_LABEL }]);
      });
    } catch (err) {
      throw this.mapError(err, "HSM_UNAVAILABLE");
    }
  }

  ring(): KekRing {
    if (this.nowMs() - this.loadedAt > this.refreshMs) this.refresh();
    const versions = this.versions();
    if (versions.length === 0) {
      throw new KekError("KEK_NOT_FOUND", "Cannot find key-encryption key on token", {
        expected: `an AES key labelled "${this.prefix}<version>"`,
        actual: "none",
      });
    }
    return createKekRing(versions.map((v) => this.kek(v)));
  }

  createVersion(): KeyEncryptionKey {
    const version = Math.max(0, ...this.versions()) + 1;
    const handle = this.withSession((s) =>
      this.p11.C_GenerateKey(s, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_LABEL, value: `${this.prefix}${version}` },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_WRAP, value: true },
        { type: pkcs11js.CKA_UNWRAP, value: true },
        { type: pkcs11js.CKA_ENCRYPT, value: false },
        { type: pkcs11js.CKA_DECRYPT, value: false },
        { type: pkcs11js.CKA_SIGN, value: false },
        { type: pkcs11js.CKA_VERIFY, value: false },
      ]),
    );
    this.handles.set(version, handle);
    return this.kek(version);
  }

  private handleOf(version: number): Buffer {
    const h = this.handles.get(version);
    if (h === undefined) {
      throw new KekError("UNKNOWN_KEK_VERSION", "Cannot find key-encryption key", {
        actual: String(version),
      });
    }
    return h;
  }

  private kek(version: number): KeyEncryptionKey {
    // Data keys pass through the token as short-lived session objects: extractable, not sensitive,
    // destroyed right after the wrap or the read-back.
    const carrier = [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
      { type: pkcs11js.CKA_TOKEN, value: false },
      { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: false },
    ];
    const mech = { mechanism: pkcs11js.CKM_AES_KEY_WRAP };
    return {
      version,
      wrap: async (payload) => {
        try {
          return this.withSession((s) => {
            const obj = this.p11.C_CreateObject(s, [
              ...carrier,
              // A view, not a copy: the caller wipes the payload right after wrapping.
              {
                type: pkcs11js.CKA_VALUE,
                value: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
              },
            ]);
            try {
              const out = this.p11.C_WrapKey(
                s,
                mech,
                this.handleOf(version),
                obj,
                Buffer.alloc(payload.length + 8),
              );
              return new Uint8Array(out);
            } finally {
              this.p11.C_DestroyObject(s, obj);
            }
          });
        } catch (err) {
          throw this.mapError(err, "WRAP_FAILED", version);
        }
      },
      unwrap: async (wrapped) => {
        try {
          return this.withSession((s) => {
            const obj = this.p11.C_UnwrapKey(s, mech, this.handleOf(version), Buffer.from(wrapped), carrier);
            try {
              const [attr] = this.p11.C_GetAttributeValue(s, obj, [{ type: pkcs11js.CKA_VALUE }]);
              if (!(attr?.value instanceof Buffer)) {
                throw new KekError("UNWRAP_FAILED", `Cannot read unwrapped key (KEK v${version})`);
              }
              const out = new Uint8Array(attr.value);
              attr.value.fill(0);
              return out;
            } finally {
              this.p11.C_DestroyObject(s, obj);
            }
          });
        } catch (err) {
          throw this.mapError(
            err,
            UNWRAP_INTEGRITY.has(ckr(err) ?? -1) ? "UNWRAP_FAILED" : "HSM_UNAVAILABLE",
            version,
          );
        }
      },
    };
  }

  private mapError(
    err: unknown,
    code: "WRAP_FAILED" | "UNWRAP_FAILED" | "HSM_UNAVAILABLE",
    version?: number,
  ): KekError {
    if (err instanceof KekError) return err;
    const c = ckr(err);
    const mapped = c !== undefined && RECONNECTABLE.has(c) ? "HSM_UNAVAILABLE" : code;
    const what =
      version === undefined ? "PKCS#11 operation failed" : `PKCS#11 operation with KEK v${version} failed`;
    return new KekError(mapped, what, { actual: ckrName(err) });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.session !== undefined) {
      try {
        this.p11.C_Logout(this.session);
        this.p11.C_CloseSession(this.session);
      } catch {
        // Closing is best effort; the module is finalized next anyway.
      }
    }
    this.session = undefined;
    this.finalize();
  }

  private finalize(): void {
    if (!this.ownsInit) return;
    try {
      this.p11.C_Finalize();
    } catch {
      // Already finalized (another provider in this process) — nothing to undo.
    }
  }
}
