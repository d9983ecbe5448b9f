import { bytesEqual, fromHex, toHex } from "@asterism/bytes";
import type { QeIdentity, TcbStatus, TdxTcbInfo } from "./collateral.ts";
import { TdxVerifyError } from "./errors.ts";
import type { PckExtensions } from "./pck-extensions.ts";
import type { SgxReportBody, TdReportBody } from "./structures.ts";

/** TCB statuses accepted when the caller says nothing: only a fully patched platform. */
export const DEFAULT_ACCEPTED_TCB_STATUSES: readonly TcbStatus[] = ["UpToDate"];

/** Outcome of evaluating the platform against TCB info. */
export interface TcbEvaluation {
  /** Status of the first TCB level the platform meets. */
  readonly status: TcbStatus;
  readonly tcbDate: string;
  readonly advisoryIDs: readonly string[];
  /** For TDX 1.5 TCB info with module identities: the module identity id and its level's status. */
  readonly tdxModule?: { readonly id: string; readonly status: TcbStatus; readonly tcbDate: string };
}

function masked(a: Uint8Array, mask: Uint8Array): Uint8Array {
  return a.map((x, i) => x & (mask[i] ?? 0));
}

function checkAccepted(
  status: TcbStatus,
  accepted: readonly TcbStatus[],
  code: "TCB_STATUS_UNACCEPTABLE" | "QE_TCB_STATUS_UNACCEPTABLE",
  what: string,
): void {
  // Revoked is never acceptable, whatever a policy lists.
  if (status === "Revoked" || !accepted.includes(status))
    throw new TdxVerifyError(code, `${what} TCB status is not accepted`, {
      expected: `one of ${accepted.filter((s) => s !== "Revoked").join(", ") || "(none)"}`,
      actual: status,
    });
}

/**
 * Evaluate the platform TCB against TDX TCB Info v3 as Intel's Quote Verification Library does:
 * 1. FMSPC and PCE ID of the PCK certificate must equal the TCB info's (hex, case-insensitive).
 * 2. The TDX module (MRSIGNERSEAM, SEAM attributes under mask) must match `tdxModule`, or — for TCB info
 *    with `tdxModuleIdentities` and a TEE_TCB_SVN whose byte 1 (module major version) is non-zero — the
 *    identity `TDX_<byte1>`, whose first level with isvsvn ≤ TEE_TCB_SVN[0] gives the module status.
 * 3. The first TCB level (Intel orders them best first) whose 16 SGX components and PCESVN are ≤ the
 *    PCK certificate's and whose 16 TDX components are ≤ TEE_TCB_SVN (bytes 2–15 only when the module
 *    identity was evaluated in step 2) gives the status; none met → `TCB_LEVEL_NOT_FOUND`.
 * 4. Status (and module status) must be in `accepted`; `Revoked` never is.
 */
export function evaluateTcb(
  body: TdReportBody,
  pck: PckExtensions,
  tcbInfo: TdxTcbInfo,
  accepted: readonly TcbStatus[] = DEFAULT_ACCEPTED_TCB_STATUSES,
): TcbEvaluation {
  if (tcbInfo.fmspc.toLowerCase() !== pck.fmspc.toLowerCase())
    throw new TdxVerifyError("COLLATERAL_MISMATCH", "TCB info is for another platform (FMSPC)", {
      expected: pck.fmspc,
      actual: tcbInfo.fmspc.toLowerCase(),
    });
  if (tcbInfo.pceId.toLowerCase() !== pck.pceId.toLowerCase())
    throw new TdxVerifyError("COLLATERAL_MISMATCH", "TCB info is for another platform (PCE ID)", {
      expected: pck.pceId,
      actual: tcbInfo.pceId.toLowerCase(),
    });

  const teeTcbSvn = body.teeTcbSvn;
  const moduleMajor = teeTcbSvn[1] ?? 0;
  const useModuleIdentity = tcbInfo.tdxModuleIdentities !== undefined && moduleMajor > 0;
  let tdxModule: TcbEvaluation["tdxModule"];
  if (useModuleIdentity) {
    const id = `TDX_${moduleMajor.toString(16).padStart(2, "0").toUpperCase()}`;
    const identity = tcbInfo.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === id);
    if (identity === undefined)
      throw new TdxVerifyError("TDX_MODULE_MISMATCH", "TCB info has no identity for this TDX module", {
        expected: id,
        actual: (tcbInfo.tdxModuleIdentities ?? []).map((m) => m.id).join(", "),
      });
    checkModule(body, identity, `TDX module identity ${id}`);
    const level = identity.tcbLevels.find((l) => (teeTcbSvn[0] ?? 0) >= l.tcb.isvsvn);
    if (level === undefined)
      throw new TdxVerifyError("TCB_LEVEL_NOT_FOUND", `No TCB level of TDX module ${id} is met`, {
        actual: `TDX module SVN ${teeTcbSvn[0] ?? 0}`,
      });
    checkAccepted(level.tcbStatus, accepted, "TCB_STATUS_UNACCEPTABLE", `TDX module ${id}`);
    tdxModule = { id, status: level.tcbStatus, tcbDate: level.tcbDate };
  } else {
    checkModule(body, tcbInfo.tdxModule, "TDX module");
  }

  const from = useModuleIdentity ? 2 : 0;
  const level = tcbInfo.tcbLevels.find(
    (l) =>
      l.tcb.sgxtcbcomponents.every((c, i) => (pck.sgxTcbComponents[i] ?? 0) >= c.svn) &&
      pck.pceSvn >= l.tcb.pcesvn &&
      l.tcb.tdxtcbcomponents.every((c, i) => i < from || (teeTcbSvn[i] ?? 0) >= c.svn),
  );
  if (level === undefined)
    throw new TdxVerifyError(
      "TCB_LEVEL_NOT_FOUND",
      "No matching TCB level: platform TCB is below every level",
      {
        actual: `SGX SVNs [${pck.sgxTcbComponents.join(",")}], PCESVN ${pck.pceSvn}, TEE_TCB_SVN ${toHex(teeTcbSvn)}`,
      },
    );
  checkAccepted(level.tcbStatus, accepted, "TCB_STATUS_UNACCEPTABLE", "Platform");
  return {
    status: level.tcbStatus,
    tcbDate: level.tcbDate,
    advisoryIDs: level.advisoryIDs ?? [],
    ...(tdxModule === undefined ? {} : { tdxModule }),
  };
}

function checkModule(
  body: TdReportBody,
  m: { mrsigner: string; attributes: string; attributesMask: string },
  what: string,
): void {
  if (!bytesEqual(body.mrSignerSeam, fromHex(m.mrsigner)))
    throw new TdxVerifyError("TDX_MODULE_MISMATCH", `${what}: MRSIGNERSEAM differs`, {
      expected: m.mrsigner.toLowerCase(),
      actual: toHex(body.mrSignerSeam),
    });
  const mask = fromHex(m.attributesMask);
  if (!bytesEqual(masked(body.seamAttributes, mask), masked(fromHex(m.attributes), mask)))
    throw new TdxVerifyError("TDX_MODULE_MISMATCH", `${what}: SEAM attributes differ under mask`, {
      expected: `${m.attributes.toLowerCase()} (mask ${m.attributesMask.toLowerCase()})`,
      actual: toHex(body.seamAttributes),
    });
}

/** Outcome of matching the QE report against the QE identity. */
export interface QeTcbEvaluation {
  readonly status: TcbStatus;
  readonly tcbDate: string;
  readonly isvSvn: number;
}

/**
 * Match the QE report against Intel's TD_QE identity: MRSIGNER and ISVPRODID equal; MISCSELECT and
 * ATTRIBUTES equal under their masks; then the first TCB level with isvsvn ≤ the QE's ISVSVN gives the QE
 * TCB status, which must be accepted (`Revoked` never is).
 */
export function evaluateQeIdentity(
  qe: SgxReportBody,
  identity: QeIdentity,
  accepted: readonly TcbStatus[] = DEFAULT_ACCEPTED_TCB_STATUSES,
): QeTcbEvaluation {
  const mismatch = (what: string, expected: string, actual: string): never => {
    throw new TdxVerifyError("QE_IDENTITY_MISMATCH", `QE report does not match the QE identity (${what})`, {
      expected,
      actual,
    });
  };
  if (!bytesEqual(qe.mrSigner, fromHex(identity.mrsigner)))
    mismatch("MRSIGNER", identity.mrsigner.toLowerCase(), toHex(qe.mrSigner));
  if (qe.isvProdId !== identity.isvprodid)
    mismatch("ISVPRODID", String(identity.isvprodid), String(qe.isvProdId));
  // PCS documents miscselect/miscselectMask as a "hex-encoded byte array (4 bytes)": read it in the
  // report's storage order, as ATTRIBUTES is. (Real identities use 00000000/FFFFFFFF, which is the same in
  // either byte order.)
  const le = (h: string) => new DataView(fromHex(h).buffer).getUint32(0, true);
  const miscMask = le(identity.miscselectMask);
  if ((qe.miscSelect & miscMask) >>> 0 !== (le(identity.miscselect) & miscMask) >>> 0)
    mismatch("MISCSELECT", identity.miscselect.toLowerCase(), qe.miscSelect.toString(16).padStart(8, "0"));
  const attrMask = fromHex(identity.attributesMask);
  if (!bytesEqual(masked(qe.attributes, attrMask), masked(fromHex(identity.attributes), attrMask)))
    mismatch("ATTRIBUTES", identity.attributes.toLowerCase(), toHex(qe.attributes));
  const level = identity.tcbLevels.find((l) => qe.isvSvn >= l.tcb.isvsvn);
  if (level === undefined)
    throw new TdxVerifyError("QE_TCB_LEVEL_NOT_FOUND", "No matching QE TCB level found", {
      actual: `QE ISVSVN ${qe.isvSvn}`,
    });
  checkAccepted(level.tcbStatus, accepted, "QE_TCB_STATUS_UNACCEPTABLE", "QE");
  return { status: level.tcbStatus, tcbDate: level.tcbDate, isvSvn: qe.isvSvn };
}
