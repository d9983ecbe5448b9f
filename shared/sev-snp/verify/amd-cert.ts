import {
  type Certificate,
  decodeOid,
  decodeUnsigned,
  type Extension,
  OID,
  PkiError,
  parseDer,
  TAG,
} from "@asterism/pki";
import { type Product, productFromName } from "../abi/product.ts";
import type { TcbParts } from "../abi/tcb.ts";
import { SnpVerifyError } from "../errors.ts";

/**
 * AMD's X.509 extensions on VCEK/VLEK certificates (AMD "Versioned Chip Endorsement Key (VCEK) Certificate
 * and KDS Interface Specification", pub. 57230, Table 8; VLEK: pub. 58369). All live under
 * 1.3.6.1.4.1.3704.1 and, except hwID, hold a DER value (INTEGER or IA5String) inside the extnValue OCTET STRING.
 */
export const AMD_OID = {
  structVersion: "1.3.6.1.4.1.3704.1.1",
  productName: "1.3.6.1.4.1.3704.1.2",
  blSPL: "1.3.6.1.4.1.3704.1.3.1",
  teeSPL: "1.3.6.1.4.1.3704.1.3.2",
  snpSPL: "1.3.6.1.4.1.3704.1.3.3",
  spl4: "1.3.6.1.4.1.3704.1.3.4",
  spl5: "1.3.6.1.4.1.3704.1.3.5",
  spl6: "1.3.6.1.4.1.3704.1.3.6",
  spl7: "1.3.6.1.4.1.3704.1.3.7",
  ucodeSPL: "1.3.6.1.4.1.3704.1.3.8",
  /** Turin only: the FMC SPL. */
  fmcSPL: "1.3.6.1.4.1.3704.1.3.9",
  /** VCEK only: the chip's hardware ID, raw bytes (64 on Milan/Genoa, 8 on Turin). */
  hwID: "1.3.6.1.4.1.3704.1.4",
  /** VLEK only: the cloud service provider the VLEK was issued to, e.g. "CN=cc-us-east-2.amazonaws.com". */
  cspID: "1.3.6.1.4.1.3704.1.5",
} as const;

/** What an AMD endorsement key certificate says about the key: kind, product, TCB and identity. */
export interface AmdEndorsementKey {
  readonly kind: "vcek" | "vlek";
  readonly structVersion: number;
  /** E.g. "Milan-B0", "Genoa", "Turin". */
  readonly productName: string;
  readonly product: Product;
  /** The TCB this key was derived for (fmc present on Turin). */
  readonly tcb: TcbParts;
  /** VCEK: the chip ID the key belongs to. */
  readonly hwId: Uint8Array | undefined;
  /** VLEK: the provider the key was issued to. */
  readonly cspId: string | undefined;
}

function invalid(action: string, expected: string, actual: string, cause?: unknown): SnpVerifyError {
  return new SnpVerifyError("CERT_INVALID", action, { expected, actual, ...(cause ? { cause } : {}) });
}

function ext(exts: readonly Extension[], oid: string): Extension | undefined {
  return exts.find((e) => e.oid === oid);
}

function intValue(exts: readonly Extension[], oid: string, name: string, max: number): number | undefined {
  const e = ext(exts, oid);
  if (e === undefined) return undefined;
  let n: bigint;
  try {
    n = decodeUnsigned(parseDer(e.value), name);
  } catch (cause) {
    throw invalid(`Cannot read AMD extension ${name}`, "a DER INTEGER", "malformed", cause);
  }
  if (n > BigInt(max)) throw invalid(`Cannot read AMD extension ${name}`, `at most ${max}`, String(n));
  return Number(n);
}

function ia5Value(exts: readonly Extension[], oid: string, name: string): string | undefined {
  const e = ext(exts, oid);
  if (e === undefined) return undefined;
  try {
    const t = parseDer(e.value);
    if (t.tag !== TAG.IA5_STRING) throw new PkiError("DER_INVALID", "not IA5String", {});
    const s = new TextDecoder().decode(t.value);
    // IA5 is 7-bit ASCII; printable only, so names cannot carry control characters into logs.
    if (!/^[\x20-\x7e]{1,128}$/.test(s)) throw new PkiError("DER_INVALID", "not printable ASCII", {});
    return s;
  } catch (cause) {
    throw invalid(`Cannot read AMD extension ${name}`, "a printable IA5String", "malformed", cause);
  }
}

function required<T>(v: T | undefined, name: string): T {
  if (v === undefined)
    throw invalid("Cannot read AMD endorsement key certificate", `extension ${name}`, "absent");
  return v;
}

/**
 * Decode the AMD extensions of a VCEK/VLEK certificate's extension list. Pure parsing of the extension
 * values (the certificate's signature is checked elsewhere). Throws {@link SnpVerifyError} `CERT_INVALID`.
 */
export function parseAmdExtensions(
  exts: readonly Extension[],
  commonName: string | undefined,
): AmdEndorsementKey {
  const kind = commonName === "SEV-VCEK" ? "vcek" : commonName === "SEV-VLEK" ? "vlek" : undefined;
  if (kind === undefined)
    throw invalid(
      "Cannot identify AMD endorsement key",
      'CN "SEV-VCEK" or "SEV-VLEK"',
      JSON.stringify(commonName),
    );
  const productName = required(ia5Value(exts, AMD_OID.productName, "productName"), "productName");
  const product = productFromName(productName);
  if (product === undefined)
    throw invalid(
      "Cannot read AMD extension productName",
      "Milan*, Genoa* or Turin*",
      JSON.stringify(productName),
    );
  const spl = (oid: string, name: string) => required(intValue(exts, oid, name, 255), name);
  const fmc = intValue(exts, AMD_OID.fmcSPL, "fmcSPL", 255);
  if ((product === "turin") !== (fmc !== undefined))
    throw invalid(
      "Cannot read AMD TCB extensions",
      product === "turin" ? "fmcSPL on a Turin key" : "no fmcSPL outside Turin",
      fmc === undefined ? "absent" : "present",
    );
  const tcb: TcbParts = {
    bootloader: spl(AMD_OID.blSPL, "blSPL"),
    tee: spl(AMD_OID.teeSPL, "teeSPL"),
    snp: spl(AMD_OID.snpSPL, "snpSPL"),
    microcode: spl(AMD_OID.ucodeSPL, "ucodeSPL"),
    ...(fmc === undefined ? {} : { fmc }),
  };
  const hwIdExt = ext(exts, AMD_OID.hwID)?.value;
  const cspId = ia5Value(exts, AMD_OID.cspID, "cspID");
  if (kind === "vcek") {
    const want = product === "turin" ? 8 : 64;
    if (hwIdExt === undefined || hwIdExt.length !== want)
      throw invalid(
        "Cannot read VCEK hwID",
        `${want} bytes`,
        hwIdExt === undefined ? "absent" : `${hwIdExt.length} bytes`,
      );
    if (cspId !== undefined) throw invalid("Cannot read VCEK", "no cspID extension", "cspID present");
  } else {
    if (cspId === undefined) throw invalid("Cannot read VLEK", "a cspID extension", "absent");
    if (hwIdExt !== undefined) throw invalid("Cannot read VLEK", "no hwID extension", "hwID present");
  }
  return {
    kind,
    structVersion: intValue(exts, AMD_OID.structVersion, "structVersion", 0xffff) ?? 0,
    productName,
    product,
    tcb,
    hwId: hwIdExt === undefined ? undefined : hwIdExt.slice(),
    cspId,
  };
}

/**
 * Decode an AMD VCEK/VLEK certificate: AMD extensions, and the key must be ECDSA P-384 (the only key type
 * that can verify a report with SIGNATURE_ALGO 1).
 */
export function parseAmdEndorsementKey(cert: Certificate): AmdEndorsementKey {
  const alg = cert.publicKeyAlgorithm;
  const curve = alg.params?.tag === TAG.OID ? decodeOidSafe(alg.params) : undefined;
  if (alg.oid !== OID.ecPublicKey || curve !== OID.secp384r1)
    throw invalid("Cannot use AMD endorsement key", "an ECDSA P-384 key", `${alg.oid} ${curve ?? ""}`.trim());
  return parseAmdExtensions(cert.extensions, cert.subject.commonName);
}

function decodeOidSafe(t: Parameters<typeof decodeOid>[0]): string | undefined {
  try {
    return decodeOid(t);
  } catch {
    return undefined;
  }
}
