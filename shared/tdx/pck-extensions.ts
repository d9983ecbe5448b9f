import { toHex } from "@asterism/bytes";
import {
  DerError,
  oidToString,
  readAll,
  readOne,
  smallUint,
  TAG_ENUMERATED,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_OID,
  TAG_SEQUENCE,
  type Tlv,
} from "./der.ts";
import { TdxVerifyError } from "./errors.ts";

/** `SGX Extensions` of PCK certificates (Intel "SGX PCK Certificate and CRL Profile", §1.3.5). */
export const OID_SGX_EXTENSIONS = "1.2.840.113741.1.13.1";
const OID_PPID = `${OID_SGX_EXTENSIONS}.1`;
const OID_TCB = `${OID_SGX_EXTENSIONS}.2`;
const OID_PCEID = `${OID_SGX_EXTENSIONS}.3`;
const OID_FMSPC = `${OID_SGX_EXTENSIONS}.4`;
const OID_SGX_TYPE = `${OID_SGX_EXTENSIONS}.5`;

/** The SGX extension values TCB evaluation needs. */
export interface PckExtensions {
  /** PPID (16 bytes), hex. */
  readonly ppid: string;
  /** `SGX TCB Comp01 SVN` … `Comp16 SVN` (OIDs .2.1–.2.16). */
  readonly sgxTcbComponents: readonly number[];
  /** `PCESVN` (OID .2.17). */
  readonly pceSvn: number;
  /** `CPUSVN` (OID .2.18), 16 bytes hex. */
  readonly cpuSvn: string;
  /** `PCE-ID` (2 bytes), lower-case hex. */
  readonly pceId: string;
  /** `FMSPC` (6 bytes), lower-case hex. */
  readonly fmspc: string;
  /** `SGX Type` (0 Standard, 1 Scalable, 2 Scalable with Integrity). */
  readonly sgxType: number;
}

function bad(why: string, cause?: unknown): never {
  throw new TdxVerifyError(
    "PCK_EXTENSION_INVALID",
    `Cannot read the PCK certificate's SGX extensions: ${why}`,
    {
      cause,
    },
  );
}

function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t === undefined || t.tag !== tag) bad(`${what}: expected tag 0x${tag.toString(16)}`);
  return t;
}

function octets(t: Tlv | undefined, len: number, what: string): string {
  const o = expectTag(t, TAG_OCTET_STRING, what);
  if (o.content.length !== len) bad(`${what}: expected ${len} bytes, got ${o.content.length}`);
  return toHex(o.content);
}

/**
 * Read the SGX extension value (the extnValue OCTET STRING's content):
 * ```asn1
 * SGXExtensions ::= SEQUENCE OF SEQUENCE { extnId OBJECT IDENTIFIER, value ANY }
 * TCB ::= SEQUENCE SIZE (18) OF SEQUENCE { OBJECT IDENTIFIER, INTEGER | OCTET STRING }
 * ```
 * Each required member (PPID, TCB, PCE-ID, FMSPC, SGX Type) must appear exactly once; unknown members
 * (PlatformInstanceID, Configuration on multi-package platforms) are skipped.
 */
export function parsePckExtensions(extnValue: Uint8Array): PckExtensions {
  try {
    const top = expectTag(readOne(extnValue), TAG_SEQUENCE, "SGXExtensions");
    const seen = new Map<string, Tlv>();
    for (const item of readAll(top.content, 16)) {
      const [id, value, ...rest] = readAll(expectTag(item, TAG_SEQUENCE, "SGXExtension").content, 2);
      if (rest.length > 0 || value === undefined) bad("member is not (OID, value)");
      const oid = oidToString(expectTag(id, TAG_OID, "extnId").content);
      if (seen.has(oid)) bad(`duplicate member ${oid}`);
      seen.set(oid, value);
    }
    const tcb = readAll(expectTag(seen.get(OID_TCB), TAG_SEQUENCE, "TCB").content, 18);
    const comps = new Map<string, Tlv>();
    for (const c of tcb) {
      const [id, value] = readAll(expectTag(c, TAG_SEQUENCE, "TCB component").content, 2);
      if (value === undefined) bad("TCB component without value");
      const oid = oidToString(expectTag(id, TAG_OID, "TCB component id").content);
      if (comps.has(oid)) bad(`duplicate TCB component ${oid}`);
      comps.set(oid, value);
    }
    const sgxTcbComponents: number[] = [];
    for (let i = 1; i <= 16; i++) {
      const svn = smallUint(expectTag(comps.get(`${OID_TCB}.${i}`), TAG_INTEGER, `TCB component ${i}`));
      if (svn > 255) bad(`TCB component ${i} out of range`);
      sgxTcbComponents.push(svn);
    }
    const pceSvn = smallUint(expectTag(comps.get(`${OID_TCB}.17`), TAG_INTEGER, "PCESVN"));
    if (pceSvn > 0xffff) bad("PCESVN out of range");
    return {
      ppid: octets(seen.get(OID_PPID), 16, "PPID"),
      sgxTcbComponents,
      pceSvn,
      cpuSvn: octets(comps.get(`${OID_TCB}.18`), 16, "CPUSVN"),
      pceId: octets(seen.get(OID_PCEID), 2, "PCE-ID"),
      fmspc: octets(seen.get(OID_FMSPC), 6, "FMSPC"),
      sgxType: smallUint(expectTag(seen.get(OID_SGX_TYPE), TAG_ENUMERATED, "SGX Type")),
    };
  } catch (err) {
    if (err instanceof TdxVerifyError) throw err;
    if (err instanceof DerError) bad(err.message, err);
    throw err;
  }
}
