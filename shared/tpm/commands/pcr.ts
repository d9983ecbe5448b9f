import { sized, struct, u16, u32 } from "@asterism/codec";
import { TPM_CC } from "../constants.ts";
import { TpmError } from "../errors.ts";
import { command, type Tpm } from "../execute.ts";
import {
  type PcrSelection,
  TPML_DIGEST,
  TPML_DIGEST_VALUES,
  TPML_PCR_SELECTION,
  type TPMT_HA,
} from "../structures/basic.ts";

/** PCR values per bank: hash algorithm (TPM_ALG_ID) → PCR index → value. */
export type PcrBanks = Map<number, Map<number, Uint8Array>>;

/** Part 3 §22.4 "TPM2_PCR_Read": pcrSelectionIn → pcrUpdateCounter, pcrSelectionOut, pcrValues. */
export const TPM2_PCR_Read = command({
  name: "TPM2_PCR_Read",
  code: TPM_CC.PCR_Read,
  handles: 0,
  authHandles: 0,
  params: struct("TPM2_PCR_Read", { pcrSelectionIn: TPML_PCR_SELECTION }),
  responseHandles: 0,
  response: struct("TPM2_PCR_Read_Response", {
    pcrUpdateCounter: u32,
    pcrSelectionOut: TPML_PCR_SELECTION,
    pcrValues: TPML_DIGEST,
  }),
});

/** Part 3 §22.2 "TPM2_PCR_Extend": @pcrHandle; digests (TPML_DIGEST_VALUES). */
export const TPM2_PCR_Extend = command({
  name: "TPM2_PCR_Extend",
  code: TPM_CC.PCR_Extend,
  handles: 1,
  authHandles: 1,
  params: struct("TPM2_PCR_Extend", { digests: TPML_DIGEST_VALUES }),
  responseHandles: 0,
  response: struct("TPM2_PCR_Extend_Response", {}),
});

/** Part 3 §22.3 "TPM2_PCR_Event": @pcrHandle; eventData (TPM2B_EVENT, ≤ 1024) → digests. */
export const TPM2_PCR_Event = command({
  name: "TPM2_PCR_Event",
  code: TPM_CC.PCR_Event,
  handles: 1,
  authHandles: 1,
  params: struct("TPM2_PCR_Event", { eventData: sized(u16, { max: 1024, name: "TPM2B_EVENT" }) }),
  responseHandles: 0,
  response: struct("TPM2_PCR_Event_Response", { digests: TPML_DIGEST_VALUES }),
});

/** Bound on PCR_Read round trips (a TPM that returns nothing must not loop us forever). */
const MAX_READ_ROUNDS = 64;

/**
 * Read the selected PCRs. A TPM returns at most 8 digests per call (Part 3 §22.4), so this repeats
 * with what is still missing; a PCR the TPM will not return is an error, not a silent gap.
 */
export async function readPcrs(tpm: Tpm, selection: readonly PcrSelection[]): Promise<PcrBanks> {
  const out: PcrBanks = new Map();
  const missing = new Map(selection.map((s) => [s.hash, new Set(s.pcrSelect)]));
  for (let round = 0; round < MAX_READ_ROUNDS; round++) {
    const want = [...missing]
      .filter(([, s]) => s.size)
      .map(([hash, s]) => ({ hash, pcrSelect: [...s].sort((a, b) => a - b) }));
    if (!want.length) return out;
    const { response } = await tpm.run(TPM2_PCR_Read, { params: { pcrSelectionIn: want } });
    const values = [...response.pcrValues];
    let progressed = false;
    for (const sel of response.pcrSelectionOut) {
      for (const pcr of sel.pcrSelect) {
        const v = values.shift();
        if (!v)
          throw new TpmError("RESPONSE_MALFORMED", "TPM2_PCR_Read returned fewer digests than selected");
        if (!out.has(sel.hash)) out.set(sel.hash, new Map());
        out.get(sel.hash)?.set(pcr, v);
        if (missing.get(sel.hash)?.delete(pcr)) progressed = true;
      }
    }
    if (!progressed)
      throw new TpmError("UNSUPPORTED", "TPM2_PCR_Read returned none of the requested PCRs", {
        actual: JSON.stringify(want),
      });
  }
  throw new TpmError("RESPONSE_MALFORMED", "TPM2_PCR_Read did not complete");
}

/** Extend `pcr` in each bank given (one digest per bank; the TPM rejects banks it does not have). */
export async function extendPcr(tpm: Tpm, pcr: number, digests: readonly TPMT_HA[]): Promise<void> {
  await tpm.run(TPM2_PCR_Extend, { handles: [pcr], params: { digests: [...digests] } });
}

/** Hash `data` in every active bank and extend `pcr` with it (TPM2_PCR_Event); returns the digests. */
export async function pcrEvent(tpm: Tpm, pcr: number, data: Uint8Array): Promise<TPMT_HA[]> {
  const { response } = await tpm.run(TPM2_PCR_Event, { handles: [pcr], params: { eventData: data } });
  return response.digests;
}
