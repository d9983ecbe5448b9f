import { createCipheriv, createHmac } from "node:crypto";
import { ByteWriter, concat, toBase64Url } from "@asterism/bytes";
import { encode } from "@asterism/codec";
import type { Credential } from "./attestation.ts";
import { TPM_ALG } from "./constants.ts";
import { TpmError } from "./errors.ts";
import { hashInfo } from "./hash.ts";
import { kdfa, kdfe } from "./kdf.ts";
import { eccParams, rsaParams, TPMS_ECC_POINT, type TPMT_PUBLIC } from "./structures/public.ts";
import { curveSize, fixedWidth } from "./verify/crypto-key.ts";

const CURVE_NAMES: Record<number, "P-256" | "P-384" | "P-521"> = { 3: "P-256", 4: "P-384", 5: "P-521" };

function unsupported(what: string): TpmError {
  return new TpmError("UNSUPPORTED", `Cannot make a credential: ${what}`);
}

/**
 * TPM2_MakeCredential in software (TPM 2.0 Part 1 §24 "Credential Protection"; Part 3 §12.6), for a
 * verifier that has the EK public key but no TPM. Only a TPM holding that EK *and* an object named
 * `akName` can recover `credential` with TPM2_ActivateCredential, which is how a verifier learns that an
 * AK lives in the same TPM as a certified EK.
 *
 * - seed: RSA EK → random, RSA-OAEP(nameAlg, label "IDENTITY") encrypted; ECC EK → ephemeral ECDH,
 *   seed = KDFe(nameAlg, Z, "IDENTITY", ephemeral.x, ek.x) and `secret` is the ephemeral point.
 * - symKey = KDFa(nameAlg, seed, "STORAGE", akName, "", EK symmetric keyBits);
 *   encIdentity = AES-CFB(symKey, IV = 0, TPM2B_DIGEST(credential)).
 * - HMACkey = KDFa(nameAlg, seed, "INTEGRITY", "", "", digest bits);
 *   credentialBlob = TPM2B_DIGEST(HMAC(HMACkey, encIdentity ‖ akName)) ‖ encIdentity.
 *
 * @example
 * const cred = await makeCredentialSoftware(ekPublic, secret32, akName);
 * // … send cred to the node; it answers activateCredential(tpm, { ak, ek, credential: cred })
 */
export async function makeCredentialSoftware(
  ek: TPMT_PUBLIC,
  credential: Uint8Array,
  akName: Uint8Array,
): Promise<Credential> {
  const h = hashInfo(ek.nameAlg);
  if (!h) throw unsupported("EK nameAlg");
  if (credential.length > h.size)
    throw new TpmError("INVALID_ARGUMENT", "Credential longer than the EK's digest");
  const parms = (rsaParams(ek)?.parms ?? eccParams(ek)?.parms)?.symmetric;
  if (
    !parms ||
    parms.algorithm !== TPM_ALG.AES ||
    parms.mode !== TPM_ALG.CFB ||
    typeof parms.keyBits !== "number"
  )
    throw unsupported("EK symmetric must be AES-CFB");
  let seed: Uint8Array;
  let secret: Uint8Array;
  const rsa = rsaParams(ek);
  const ecc = eccParams(ek);
  if (rsa) {
    seed = crypto.getRandomValues(new Uint8Array(h.size));
    const e = rsa.parms.exponent === 0 ? 65537 : rsa.parms.exponent;
    const eb = new ByteWriter().u32be(e).finish();
    let i = 0;
    while (eb[i] === 0) i++;
    const key = await crypto.subtle.importKey(
      "jwk",
      { kty: "RSA", n: toBase64Url(rsa.modulus), e: toBase64Url(eb.subarray(i)) },
      { name: "RSA-OAEP", hash: h.webcrypto },
      false,
      ["encrypt"],
    );
    const label = new TextEncoder().encode("IDENTITY\0");
    secret = new Uint8Array(
      await crypto.subtle.encrypt({ name: "RSA-OAEP", label }, key, seed as BufferSource),
    );
  } else if (ecc) {
    const crv = CURVE_NAMES[ecc.parms.curveID];
    const size = curveSize(ecc.parms.curveID);
    if (!crv || !size) throw unsupported("EK curve");
    const ekX = fixedWidth(ecc.point.x, size, "EK x");
    const ekKey = await crypto.subtle.importKey(
      "jwk",
      { kty: "EC", crv, x: toBase64Url(ekX), y: toBase64Url(fixedWidth(ecc.point.y, size, "EK y")) },
      { name: "ECDH", namedCurve: crv },
      false,
      [],
    );
    const eph = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: crv }, true, [
      "deriveBits",
    ])) as CryptoKeyPair;
    const z = new Uint8Array(
      await crypto.subtle.deriveBits({ name: "ECDH", public: ekKey }, eph.privateKey, size * 8),
    );
    const jwk = await crypto.subtle.exportKey("jwk", eph.publicKey);
    const ephX = new Uint8Array(Buffer.from(jwk.x ?? "", "base64url"));
    const ephY = new Uint8Array(Buffer.from(jwk.y ?? "", "base64url"));
    seed = kdfe(h, z, "IDENTITY", ephX, ekX, h.size * 8);
    secret = encode(TPMS_ECC_POINT, { x: ephX, y: ephY });
  } else {
    throw unsupported("EK type");
  }
  const symKey = kdfa(h, seed, "STORAGE", akName, new Uint8Array(0), parms.keyBits);
  const plain = new ByteWriter().u16be(credential.length).bytes(credential).finish();
  const cipher = createCipheriv(`aes-${parms.keyBits}-cfb`, symKey, new Uint8Array(16));
  const encIdentity = new Uint8Array(Buffer.concat([cipher.update(plain), cipher.final()]));
  const hmacKey = kdfa(h, seed, "INTEGRITY", new Uint8Array(0), new Uint8Array(0), h.size * 8);
  const outerHmac = new Uint8Array(createHmac(h.name, hmacKey).update(encIdentity).update(akName).digest());
  const credentialBlob = concat(new ByteWriter().u16be(outerHmac.length).finish(), outerHmac, encIdentity);
  return { credentialBlob, secret };
}
