import { struct, u16 } from "@asterism/codec";
import { TPM_CC } from "../constants.ts";
import { command, type Tpm } from "../execute.ts";
import { TPM2B_DIGEST } from "../structures/basic.ts";

/** Part 3 §16.1 "TPM2_GetRandom": `bytesRequested` → `randomBytes` (TPM2B_DIGEST, ≤ 64 bytes). */
export const TPM2_GetRandom = command({
  name: "TPM2_GetRandom",
  code: TPM_CC.GetRandom,
  handles: 0,
  authHandles: 0,
  params: struct("TPM2_GetRandom", { bytesRequested: u16 }),
  responseHandles: 0,
  response: struct("TPM2_GetRandom_Response", { randomBytes: TPM2B_DIGEST }),
});

/** Bound on GetRandom round trips: a TPM returning 0 bytes must not spin us forever. */
const MAX_ROUNDS = 1024;

/** Get `n` random bytes from the TPM (several calls when n exceeds the TPM's per-call limit). */
export async function getRandom(tpm: Tpm, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  for (let i = 0; got < n && i < MAX_ROUNDS; i++) {
    const { response } = await tpm.run(TPM2_GetRandom, { params: { bytesRequested: Math.min(64, n - got) } });
    const b = response.randomBytes.subarray(0, n - got);
    out.set(b, got);
    got += b.length;
  }
  if (got < n) throw new RangeError("TPM returned too few random bytes");
  return out;
}
