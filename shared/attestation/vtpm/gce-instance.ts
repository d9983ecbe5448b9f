/**
 * The GCE instance identity Google writes into vTPM AK/EK certificates (X.509 extension
 * 1.3.6.1.4.1.11129.2.1.21). Because the certificate is signed by Google's EK/AK CA, this identity is
 * authenticated once the chain verifies — unlike Constellation's unsigned instance-info JSON.
 *
 * ```asn1
 * GceInstanceInfo ::= SEQUENCE {
 *   zone UTF8String, projectNumber INTEGER, projectId UTF8String,
 *   instanceId INTEGER, instanceName UTF8String,
 *   securityProperties [0] EXPLICIT GceSecurityProperties OPTIONAL }
 * GceSecurityProperties ::= SEQUENCE {
 *   securityVersion [0] EXPLICIT INTEGER OPTIONAL, isProduction [1] EXPLICIT BOOLEAN OPTIONAL,
 *   tpmDataAlwaysEncrypted [2] EXPLICIT BOOLEAN OPTIONAL, suspendResumeAlwaysDisabled [3] EXPLICIT BOOLEAN OPTIONAL,
 *   vmtdAlwaysDisabled [4] EXPLICIT BOOLEAN OPTIONAL, alwaysRunsInCvm [5] EXPLICIT BOOLEAN OPTIONAL }
 * ```
 * (layout as go-tpm-tools `server` parses it; verified against the vectors' certificates.)
 */
import {
  type Certificate,
  children,
  decodeUnsigned,
  findExtension,
  parseDer,
  TAG,
  type Tlv,
} from "@asterism/pki";
import { AttestationParseError } from "../errors.ts";

/** OID of Google's instance-information extension. */
export const GCE_INSTANCE_INFO_OID = "1.3.6.1.4.1.11129.2.1.21";

/** Instance identity from the AK certificate. Integers are decimal strings (they exceed 2^53). */
export interface GceInstanceInfo {
  readonly zone: string;
  readonly projectNumber: string;
  readonly projectId: string;
  readonly instanceId: string;
  readonly instanceName: string;
  readonly securityProperties?: {
    readonly securityVersion?: string;
    readonly isProduction?: boolean;
    readonly tpmDataAlwaysEncrypted?: boolean;
    readonly suspendResumeAlwaysDisabled?: boolean;
    readonly vmtdAlwaysDisabled?: boolean;
    readonly alwaysRunsInCvm?: boolean;
  };
}

const ACTION = "Cannot parse the GCE instance-info extension";

function bad(expected: string, actual?: string): never {
  throw new AttestationParseError("INVALID_EVIDENCE", ACTION, { expected, ...(actual ? { actual } : {}) });
}

function str(t: Tlv | undefined, what: string): string {
  if (
    t === undefined ||
    (t.tag !== TAG.UTF8_STRING && t.tag !== TAG.PRINTABLE_STRING && t.tag !== TAG.IA5_STRING)
  )
    bad(`${what} as a string`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(t.value);
  } catch {
    return bad(`${what} as UTF-8`);
  }
}

function int(t: Tlv | undefined, what: string): string {
  if (t === undefined) bad(`${what} as INTEGER`);
  return decodeUnsigned(t, what).toString();
}

function bool(t: Tlv, what: string): boolean {
  if (t.tag !== TAG.BOOLEAN || t.value.length !== 1 || (t.value[0] !== 0 && t.value[0] !== 0xff))
    bad(`${what} as a DER BOOLEAN`);
  return t.value[0] === 0xff;
}

const PROPS = [
  "securityVersion",
  "isProduction",
  "tpmDataAlwaysEncrypted",
  "suspendResumeAlwaysDisabled",
  "vmtdAlwaysDisabled",
  "alwaysRunsInCvm",
] as const;

/** Parse the extension value (DER). */
export function parseGceInstanceInfo(der: Uint8Array): GceInstanceInfo {
  let top: Tlv[];
  try {
    const root = parseDer(der);
    if (root.tag !== TAG.SEQUENCE) bad("a SEQUENCE");
    top = children(root);
  } catch (cause) {
    if (cause instanceof AttestationParseError) throw cause;
    throw new AttestationParseError("INVALID_EVIDENCE", ACTION, { expected: "DER", cause });
  }
  if (top.length < 5 || top.length > 6) bad("5 or 6 fields", String(top.length));
  try {
    const info = {
      zone: str(top[0], "zone"),
      projectNumber: int(top[1], "projectNumber"),
      projectId: str(top[2], "projectId"),
      instanceId: int(top[3], "instanceId"),
      instanceName: str(top[4], "instanceName"),
    };
    const sp = top[5];
    if (sp === undefined) return info;
    if (sp.tag !== 0xa0) bad("[0] securityProperties");
    const seq = children(sp)[0];
    if (seq === undefined || seq.tag !== TAG.SEQUENCE) bad("securityProperties SEQUENCE");
    const props: Record<string, string | boolean> = {};
    for (const field of children(seq)) {
      const n = field.tag - 0xa0;
      const name = PROPS[n];
      const inner = children(field)[0];
      if (name === undefined || inner === undefined) bad("securityProperties tags [0]..[5]");
      props[name] = n === 0 ? decodeUnsigned(inner, name).toString() : bool(inner, name);
    }
    return { ...info, securityProperties: props };
  } catch (cause) {
    if (cause instanceof AttestationParseError) throw cause;
    throw new AttestationParseError("INVALID_EVIDENCE", ACTION, {
      actual: cause instanceof Error ? cause.message : undefined,
      cause,
    });
  }
}

/** The instance info of a certificate, or undefined when it has no such extension. */
export function gceInstanceInfoOf(cert: Certificate): GceInstanceInfo | undefined {
  const ext = findExtension(cert, GCE_INSTANCE_INFO_OID);
  return ext ? parseGceInstanceInfo(ext.value) : undefined;
}
