/** TCG event types used in the precomputed logs (TCG PC Client PFP 1.05 §10.4.1). */
export const EventType = {
  EV_SEPARATOR: 0x00000004,
  EV_EVENT_TAG: 0x00000006,
  EV_IPL: 0x0000000d,
  EV_EFI_BOOT_SERVICES_APPLICATION: 0x80000003,
  EV_EFI_ACTION: 0x80000007,
} as const;

/** One predicted extend of a PCR: what is measured and the SHA-256 digest extended. */
export interface PredictedEvent {
  readonly pcr: number;
  readonly type: number;
  /** What the event stands for, for people reading a policy diff (`.cmdline section`, …). */
  readonly description: string;
  readonly digest: Uint8Array;
}

export function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(new Bun.CryptoHasher("sha256").update(data).digest());
}

/** TPM2_PCR_Extend for the SHA-256 bank: new = SHA-256(old ‖ digest). */
export function extend(pcr: Uint8Array, digest: Uint8Array): Uint8Array {
  return new Uint8Array(new Bun.CryptoHasher("sha256").update(pcr).update(digest).digest());
}

/** Replay events onto all-zero PCRs (after TPM2_Startup(CLEAR), PCRs 0–16 and 23 are zero). */
export function replay(events: readonly PredictedEvent[], pcrs: readonly number[]): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const p of pcrs) out.set(p, new Uint8Array(32));
  for (const e of events) {
    const cur = out.get(e.pcr);
    if (cur !== undefined) out.set(e.pcr, extend(cur, e.digest));
  }
  return out;
}
