import { ByteWriter } from "@asterism/bytes";
import { encode } from "@asterism/codec";
import { TpmError } from "./errors.ts";
import { digest, hashInfo } from "./hash.ts";
import { TPMT_PUBLIC } from "./structures/public.ts";

/**
 * An object's Name (TPM 2.0 Part 1 §16 "Names"): nameAlg (UINT16) ‖ H_nameAlg(TPMT_PUBLIC). This is what
 * TPMS_ATTEST.qualifiedSigner and MakeCredential's objectName refer to.
 */
export function objectName(pub: TPMT_PUBLIC): Uint8Array {
  const h = hashInfo(pub.nameAlg);
  if (!h)
    throw new TpmError("UNSUPPORTED", "Cannot compute Name", {
      expected: "nameAlg SHA-1/256/384/512",
      actual: `0x${pub.nameAlg.toString(16)}`,
    });
  return new ByteWriter()
    .u16be(pub.nameAlg)
    .bytes(digest(h, encode(TPMT_PUBLIC, pub)))
    .finish();
}
