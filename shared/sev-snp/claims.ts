import { toHex } from "@asterism/bytes";
import { decodePlatformInfo } from "./abi/policy.ts";
import type { TcbParts } from "./abi/tcb.ts";
import type { SnpValidationResult } from "./validate/validate.ts";
import type { VerifiedSnpReport } from "./verify/verifier.ts";

/** JSON-ready claims of a verified report (hex for bytes, decimal strings for u64), for results and EAR. */
export interface SnpClaims {
  readonly product: string;
  readonly signer: "vcek" | "vlek";
  readonly reportVersion: number;
  readonly measurement: string;
  readonly reportData: string;
  readonly hostData: string;
  readonly idKeyDigest: string;
  readonly authorKeyDigest: string;
  readonly familyId: string;
  readonly imageId: string;
  readonly chipId: string;
  readonly reportId: string;
  readonly guestSvn: number;
  readonly vmpl: number;
  readonly guestPolicy: Readonly<Record<string, number>>;
  readonly platformInfo: Readonly<Record<string, boolean>>;
  readonly firmware: { readonly current: string; readonly committed: string };
  readonly tcb: {
    readonly current: TcbParts;
    readonly reported: TcbParts;
    readonly committed: TcbParts;
    readonly launch: TcbParts;
    readonly certified: TcbParts;
  };
  readonly endorsementKey: { readonly productName: string; readonly hwId?: string; readonly cspId?: string };
  readonly chain: readonly string[];
  readonly warnings: readonly string[];
}

/** Render a verified report (and its validation warnings) as {@link SnpClaims}. */
export function snpClaims(v: VerifiedSnpReport, validation?: SnpValidationResult): SnpClaims {
  const r = v.report;
  const { reservedMbo: _mbo, ...guestPolicy } = r.policy;
  return {
    product: v.product,
    signer: v.signer,
    reportVersion: r.version,
    measurement: toHex(r.measurement),
    reportData: toHex(r.reportData),
    hostData: toHex(r.hostData),
    idKeyDigest: toHex(r.idKeyDigest),
    authorKeyDigest: toHex(r.authorKeyDigest),
    familyId: toHex(r.familyId),
    imageId: toHex(r.imageId),
    chipId: toHex(r.chipId),
    reportId: toHex(r.reportId),
    guestSvn: r.guestSvn,
    vmpl: r.vmpl,
    guestPolicy,
    platformInfo: decodePlatformInfo(r.platformInfo),
    firmware: {
      current: `${r.currentMajor}.${r.currentMinor}.${r.currentBuild}`,
      committed: `${r.committedMajor}.${r.committedMinor}.${r.committedBuild}`,
    },
    tcb: { ...v.tcb, certified: v.endorsementKey.tcb },
    endorsementKey: {
      productName: v.endorsementKey.productName,
      ...(v.endorsementKey.hwId ? { hwId: toHex(v.endorsementKey.hwId) } : {}),
      ...(v.endorsementKey.cspId ? { cspId: v.endorsementKey.cspId } : {}),
    },
    chain: v.chain,
    warnings: validation?.warnings ?? [],
  };
}
