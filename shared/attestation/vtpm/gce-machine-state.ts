/**
 * GCE platform facts recorded by Google's virtual firmware in PCR 0 (go-tpm-tools `PlatformState`):
 * - EV_S_CRTM_VERSION: UTF-16LE "GCE Virtual Firmware v<N>" → firmware version N;
 * - EV_NONHOST_INFO: "GCE NonHostInfo\0" followed by one byte, the confidential-computing technology.
 *
 * Only meaningful for an event log that replayed to the quoted PCR 0 (see verifyVtpmEvidence).
 */
import { EV, type EventLog } from "@asterism/tpm";

/** go-tpm-tools `GCEConfidentialTechnology`. */
export const GCE_TECHNOLOGY = { NONE: 0, AMD_SEV: 1, AMD_SEV_ES: 2, INTEL_TDX: 3, AMD_SEV_SNP: 4 } as const;

const TECH_NAMES = new Map<number, string>(Object.entries(GCE_TECHNOLOGY).map(([k, v]) => [v, k]));

/** Facts read from PCR 0 events. */
export interface GceMachineState {
  /** Firmware version, or undefined when no GCE CRTM version event exists. */
  readonly firmwareVersion?: number;
  /** Technology name (e.g. "AMD_SEV"), or undefined when no NonHostInfo event exists. */
  readonly technology?: string;
}

const NONHOST_SIGNATURE = "GCE NonHostInfo\0";
const FIRMWARE_PREFIX = "GCE Virtual Firmware v";

/** Read the GCE machine state from a verified event log. */
export function gceMachineState(log: EventLog): GceMachineState {
  let firmwareVersion: number | undefined;
  let technology: string | undefined;
  for (const e of log.events) {
    if (e.pcrIndex !== 0) continue;
    if (e.eventType === EV.S_CRTM_VERSION && e.data.length % 2 === 0) {
      const s = new TextDecoder("utf-16le").decode(e.data).replace(/\0+$/, "");
      if (s.startsWith(FIRMWARE_PREFIX)) {
        const n = Number(s.slice(FIRMWARE_PREFIX.length));
        if (Number.isSafeInteger(n)) firmwareVersion = n;
      }
    } else if (e.eventType === EV.NONHOST_INFO && e.data.length > NONHOST_SIGNATURE.length) {
      const sig = new TextDecoder("latin1").decode(e.data.subarray(0, NONHOST_SIGNATURE.length));
      if (sig === NONHOST_SIGNATURE) {
        const t = e.data[NONHOST_SIGNATURE.length] as number;
        technology = TECH_NAMES.get(t) ?? `UNKNOWN_${t}`;
      }
    }
  }
  return {
    ...(firmwareVersion !== undefined ? { firmwareVersion } : {}),
    ...(technology ? { technology } : {}),
  };
}
