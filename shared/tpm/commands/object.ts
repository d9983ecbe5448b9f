import { type Infer, sized, sizedOf, struct, u16, u32 } from "@asterism/codec";
import { TPM_CC, TPM_RH } from "../constants.ts";
import { command, type Tpm } from "../execute.ts";
import { TPM2B_AUTH, TPM2B_DATA, TPM2B_DIGEST, TPM2B_NAME, TPML_PCR_SELECTION } from "../structures/basic.ts";
import { TPM2B_PUBLIC, type TPMT_PUBLIC } from "../structures/public.ts";

/** Part 2 §11.1.14 TPMS_SENSITIVE_CREATE: userAuth (TPM2B_AUTH), data (TPM2B_SENSITIVE_DATA, ≤ 128). */
export const TPMS_SENSITIVE_CREATE = struct("TPMS_SENSITIVE_CREATE", {
  userAuth: TPM2B_AUTH,
  data: sized(u16, { max: 128, name: "TPM2B_SENSITIVE_DATA" }),
});

/** Part 2 §11.1.15 TPM2B_SENSITIVE_CREATE. */
export const TPM2B_SENSITIVE_CREATE = sizedOf(u16, TPMS_SENSITIVE_CREATE, {
  max: 256,
  name: "TPM2B_SENSITIVE_CREATE",
});

/** Part 2 §10.7.3 TPMT_TK_CREATION: tag, hierarchy, digest. */
export const TPMT_TK_CREATION = struct("TPMT_TK_CREATION", {
  tag: u16,
  hierarchy: u32,
  digest: TPM2B_DIGEST,
});

/**
 * Part 3 §24.1 "TPM2_CreatePrimary": @primaryHandle; inSensitive, inPublic, outsideInfo, creationPCR →
 * objectHandle; outPublic, creationData (TPM2B_CREATION_DATA, kept raw), creationHash, creationTicket, name.
 */
export const TPM2_CreatePrimary = command({
  name: "TPM2_CreatePrimary",
  code: TPM_CC.CreatePrimary,
  handles: 1,
  authHandles: 1,
  params: struct("TPM2_CreatePrimary", {
    inSensitive: TPM2B_SENSITIVE_CREATE,
    inPublic: TPM2B_PUBLIC,
    outsideInfo: TPM2B_DATA,
    creationPCR: TPML_PCR_SELECTION,
  }),
  responseHandles: 1,
  response: struct("TPM2_CreatePrimary_Response", {
    outPublic: TPM2B_PUBLIC,
    creationData: sized(u16, { max: 1024, name: "TPM2B_CREATION_DATA" }),
    creationHash: TPM2B_DIGEST,
    creationTicket: TPMT_TK_CREATION,
    name: TPM2B_NAME,
  }),
});
export type CreatePrimaryResponse = Infer<typeof TPM2_CreatePrimary.response>;

/** Part 3 §12.4 "TPM2_ReadPublic": objectHandle → outPublic, name, qualifiedName. */
export const TPM2_ReadPublic = command({
  name: "TPM2_ReadPublic",
  code: TPM_CC.ReadPublic,
  handles: 1,
  authHandles: 0,
  params: struct("TPM2_ReadPublic", {}),
  responseHandles: 0,
  response: struct("TPM2_ReadPublic_Response", {
    outPublic: TPM2B_PUBLIC,
    name: TPM2B_NAME,
    qualifiedName: TPM2B_NAME,
  }),
});

/**
 * Part 3 §28.4 "TPM2_FlushContext": flushHandle is a *parameter* (not in the handle area), so the
 * command needs no authorization.
 */
export const TPM2_FlushContext = command({
  name: "TPM2_FlushContext",
  code: TPM_CC.FlushContext,
  handles: 0,
  authHandles: 0,
  params: struct("TPM2_FlushContext", { flushHandle: u32 }),
  responseHandles: 0,
  response: struct("TPM2_FlushContext_Response", {}),
});

/**
 * Part 3 §28.5 "TPM2_EvictControl": @auth (TPMI_RH_PROVISION, owner or platform), objectHandle;
 * persistentHandle. With a transient object it makes a persistent copy at `persistentHandle`; with a
 * persistent one it removes it.
 */
export const TPM2_EvictControl = command({
  name: "TPM2_EvictControl",
  code: TPM_CC.EvictControl,
  handles: 2,
  authHandles: 1,
  params: struct("TPM2_EvictControl", { persistentHandle: u32 }),
  responseHandles: 0,
  response: struct("TPM2_EvictControl_Response", {}),
});

/**
 * Persist a transient object at `persistentHandle` (owner range 0x81000000–0x817FFFFF), authorised by the
 * owner hierarchy with an empty password. The transient copy stays loaded: flush it.
 */
export async function evictControl(tpm: Tpm, objectHandle: number, persistentHandle: number): Promise<void> {
  await tpm.run(TPM2_EvictControl, {
    handles: [TPM_RH.OWNER, objectHandle],
    params: { persistentHandle },
  });
}

/** A loaded transient object. Call {@link flush} (or use {@link withObject}) when done. */
export interface LoadedObject {
  readonly handle: number;
  readonly public: TPMT_PUBLIC;
  /** TPM2B_NAME of the object: nameAlg ‖ H(TPMT_PUBLIC) (Part 1 §16). */
  readonly name: Uint8Array;
}

/** Create a primary object under `hierarchy` with an empty authValue. */
export async function createPrimary(
  tpm: Tpm,
  hierarchy: number,
  template: TPMT_PUBLIC,
): Promise<LoadedObject> {
  const { handles, response } = await tpm.run(TPM2_CreatePrimary, {
    handles: [hierarchy],
    params: {
      inSensitive: { userAuth: new Uint8Array(0), data: new Uint8Array(0) },
      inPublic: template,
      outsideInfo: new Uint8Array(0),
      creationPCR: [],
    },
  });
  return { handle: handles[0] as number, public: response.outPublic, name: response.name };
}

/** Read an object's public area and name. */
export async function readPublic(
  tpm: Tpm,
  handle: number,
): Promise<{ public: TPMT_PUBLIC; name: Uint8Array }> {
  const { response } = await tpm.run(TPM2_ReadPublic, { handles: [handle], params: {} });
  return { public: response.outPublic, name: response.name };
}

/** Flush a transient object or session (swtpm has no resource manager: every handle we create must go). */
export async function flush(tpm: Tpm, handle: number): Promise<void> {
  await tpm.run(TPM2_FlushContext, { params: { flushHandle: handle } });
}

/** Run `fn` with a loaded object and flush it afterwards, also on failure. */
export async function withObject<T>(
  tpm: Tpm,
  load: () => Promise<LoadedObject>,
  fn: (obj: LoadedObject) => Promise<T>,
): Promise<T> {
  const obj = await load();
  try {
    return await fn(obj);
  } finally {
    await flush(tpm, obj.handle);
  }
}
