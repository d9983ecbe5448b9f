import { ByteReader, ByteWriter } from "@asterism/bytes";
import { type Codec, CodecError, decode, decodePrefix, encode, struct, u8 } from "@asterism/codec";
import { TPM_RH, TPM_ST } from "./constants.ts";
import { TpmError } from "./errors.ts";
import { decodeRc, describeRc } from "./rc.ts";
import { TPM2B_AUTH, TPM2B_NONCE } from "./structures/basic.ts";
import { serializeTransport } from "./transport/serialize.ts";
import type { TpmTransport } from "./transport/types.ts";

/**
 * A TPM command as a typed object (house style §6, go-tpm `type Quote struct`): its code, how many
 * handles it takes and how many of those need an authorization session (the "@" handles of its Part 3
 * table), and the field tables of its parameters and response.
 */
export interface CommandSpec<P, R> {
  /** Spec name, e.g. `TPM2_Quote`. */
  readonly name: string;
  readonly code: number;
  readonly handles: number;
  readonly authHandles: number;
  readonly params: Codec<P>;
  readonly responseHandles: number;
  readonly response: Codec<R>;
}

/** Define a command (keeps the literal types of its tables). */
export function command<P, R>(spec: CommandSpec<P, R>): CommandSpec<P, R> {
  return spec;
}

/**
 * One authorization. `password` is TPM_RS_PW with the given authValue (empty by default: every key and
 * hierarchy this module creates has an empty authValue). `policy` uses a policy session satisfied
 * beforehand (PolicySecret) whose policy does not need an HMAC (Part 1 §19.7: no PolicyAuthValue).
 */
export type Session =
  | { readonly kind: "password"; readonly password?: Uint8Array }
  | { readonly kind: "policy"; readonly handle: number };

/** What the caller supplies for one execution. */
export interface Invocation<P> {
  readonly handles?: readonly number[];
  /** One per auth handle; defaults to empty password sessions. */
  readonly sessions?: readonly Session[];
  readonly params: P;
}

/** What a successful command returns. */
export interface Result<R> {
  readonly handles: readonly number[];
  readonly response: R;
}

/** Part 2 §10.13.2 TPMS_AUTH_RESPONSE: nonceTPM, sessionAttributes, hmac. */
const TPMS_AUTH_RESPONSE = struct("TPMS_AUTH_RESPONSE", {
  nonce: TPM2B_NONCE,
  sessionAttributes: u8,
  hmac: TPM2B_AUTH,
});

/** Part 2 §8.4 TPMA_SESSION.continueSession: keep policy sessions alive across the command. */
const CONTINUE_SESSION = 0x01;

/**
 * Build the command bytes (Part 1 §18.7 "Command Layout"): tag, commandSize, commandCode, handles,
 * [authorizationSize, TPMS_AUTH_COMMAND…], parameters.
 */
export function marshalCommand<P>(spec: CommandSpec<P, unknown>, inv: Invocation<P>): Uint8Array {
  const handles = inv.handles ?? [];
  if (handles.length !== spec.handles)
    throw new TpmError("INVALID_ARGUMENT", `${spec.name} takes ${spec.handles} handles`, {
      actual: String(handles.length),
    });
  const sessions: readonly Session[] =
    inv.sessions ?? Array.from({ length: spec.authHandles }, (): Session => ({ kind: "password" }));
  if (sessions.length !== spec.authHandles)
    throw new TpmError("INVALID_ARGUMENT", `${spec.name} needs ${spec.authHandles} sessions`, {
      actual: String(sessions.length),
    });
  let params: Uint8Array;
  try {
    params = encode(spec.params, inv.params);
  } catch (err) {
    throw new TpmError("INVALID_ARGUMENT", `Cannot marshal ${spec.name} parameters`, { cause: err });
  }
  const w = new ByteWriter();
  w.u16be(sessions.length ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS);
  w.u32be(0); // commandSize, patched below
  w.u32be(spec.code);
  for (const h of handles) w.u32be(h);
  if (sessions.length) {
    const auth = new ByteWriter();
    for (const s of sessions) {
      // Part 2 §10.13.1 TPMS_AUTH_COMMAND: sessionHandle, nonceCaller, sessionAttributes, hmac.
      auth.u32be(s.kind === "password" ? TPM_RH.RS_PW : s.handle);
      auth.u16be(0);
      auth.u8(s.kind === "policy" ? CONTINUE_SESSION : 0);
      const pw = s.kind === "password" ? (s.password ?? new Uint8Array(0)) : new Uint8Array(0);
      auth.u16be(pw.length);
      auth.bytes(pw);
    }
    const a = auth.finish();
    w.u32be(a.length);
    w.bytes(a);
  }
  w.bytes(params);
  const out = w.finish();
  new DataView(out.buffer, out.byteOffset).setUint32(2, out.length);
  return out;
}

/**
 * Parse a response (Part 1 §18.8 "Response Layout"). A non-zero responseCode becomes {@link TpmError}
 * `TPM_RC` with the decoded code; anything that does not parse is `RESPONSE_MALFORMED`.
 */
export function unmarshalResponse<R>(
  spec: CommandSpec<unknown, R>,
  sessionCount: number,
  bytes: Uint8Array,
): Result<R> {
  try {
    const r = new ByteReader(bytes);
    const tag = r.u16be();
    const size = r.u32be();
    const code = r.u32be();
    if (size !== bytes.length) throw malformed(spec, "responseSize", String(bytes.length), String(size));
    if (code !== 0) {
      const rc = decodeRc(code);
      throw new TpmError("TPM_RC", `${spec.name} failed with ${describeRc(rc)}`, { rc });
    }
    const wantTag = sessionCount ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS;
    if (tag !== wantTag) throw malformed(spec, "tag", `0x${wantTag.toString(16)}`, `0x${tag.toString(16)}`);
    const handles: number[] = [];
    for (let i = 0; i < spec.responseHandles; i++) handles.push(r.u32be());
    let paramBytes: Uint8Array;
    if (sessionCount) {
      const paramSize = r.u32be();
      paramBytes = r.bytes(paramSize);
      let rest = r.rest();
      for (let i = 0; i < sessionCount; i++) rest = decodePrefix(TPMS_AUTH_RESPONSE, rest).rest;
      if (rest.length) throw malformed(spec, "auth area", "end of response", `${rest.length} extra bytes`);
    } else {
      paramBytes = r.rest();
    }
    return { handles, response: decode(spec.response, paramBytes) };
  } catch (err) {
    if (err instanceof TpmError) throw err;
    throw new TpmError("RESPONSE_MALFORMED", `Cannot parse ${spec.name} response`, {
      ...(err instanceof CodecError ? { actual: err.message } : {}),
      cause: err,
    });
  }
}

function malformed(spec: CommandSpec<unknown, unknown>, what: string, expected: string, actual: string) {
  return new TpmError("RESPONSE_MALFORMED", `${spec.name} response ${what} wrong`, { expected, actual });
}

/** Run one command: marshal, send, parse. */
export async function execute<P, R>(
  transport: TpmTransport,
  spec: CommandSpec<P, R>,
  inv: Invocation<P>,
): Promise<Result<R>> {
  const cmd = marshalCommand(spec, inv);
  const sessions = inv.sessions?.length ?? spec.authHandles;
  return unmarshalResponse(spec, sessions, await transport.send(cmd));
}

/** A TPM: a serialized transport plus `run`. Create with {@link createTpm}. */
export interface Tpm {
  readonly transport: TpmTransport;
  run<P, R>(spec: CommandSpec<P, R>, inv: Invocation<P>): Promise<Result<R>>;
}

/**
 * Wrap a transport so that commands are serialized and typed.
 *
 * @example
 * const tpm = createTpm(await connectSwtpm({ host: "127.0.0.1", port, ctrlPort }));
 * const { response } = await tpm.run(TPM2_GetRandom, { params: { bytesRequested: 16 } });
 */
export function createTpm(transport: TpmTransport): Tpm {
  const t = serializeTransport(transport);
  return { transport: t, run: (spec, inv) => execute(t, spec, inv) };
}
