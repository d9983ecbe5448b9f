import { fromHex } from "@asterism/bytes";
import * as v from "valibot";
import { TdxParseError } from "./errors.ts";

const hex = (bytes: number) =>
  v.pipe(v.string(), v.regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `${bytes} bytes of hex`));
const hexDer = v.pipe(v.string(), v.regex(/^(?:[0-9a-fA-F]{2})+$/, "hex DER"), v.maxLength(2 * 1024 * 1024));
const pem = v.pipe(v.string(), v.includes("-----BEGIN CERTIFICATE-----"), v.maxLength(64 * 1024));
const pcsJson = v.pipe(v.string(), v.minLength(2), v.maxLength(1024 * 1024));

/**
 * Collateral for one platform, as Intel PCS serves it (the pieces go-tdx-guest, QVL and Constellation
 * also pass around). Every field is required:
 * - `tcb_info`: the PCS `GET /tdx/certification/v4/tcb?fmspc=` body, exactly as served (JSON text with
 *   `"tcbInfo"` and `"signature"`); the signature covers the `tcbInfo` member's text.
 * - `tcb_info_signature`: that signature, hex of raw r‖s (64 bytes); must equal the body's `signature`.
 * - `tcb_info_issuer_chain`: PEM, TCB signing certificate then root (PCS header `TCB-Info-Issuer-Chain`).
 * - `qe_identity`, `qe_identity_signature`, `qe_identity_issuer_chain`: the same for
 *   `GET /tdx/certification/v4/qe/identity` (member `enclaveIdentity`).
 * - `pck_crl`: the PCK CA CRL, hex DER; `pck_crl_issuer_chain`: PEM, PCK CA then root.
 * - `root_ca_crl`: the Intel SGX Root CA CRL, hex DER.
 */
export const CollateralSchema = v.strictObject({
  tcb_info: pcsJson,
  tcb_info_signature: hex(64),
  tcb_info_issuer_chain: pem,
  qe_identity: pcsJson,
  qe_identity_signature: hex(64),
  qe_identity_issuer_chain: pem,
  pck_crl: hexDer,
  pck_crl_issuer_chain: pem,
  root_ca_crl: hexDer,
});
export type Collateral = v.InferOutput<typeof CollateralSchema>;

/** Validate a collateral JSON value (already parsed); throws {@link TdxParseError} `COLLATERAL_MALFORMED`. */
export function parseCollateral(json: unknown): Collateral {
  const r = v.safeParse(CollateralSchema, json);
  if (!r.success) {
    const issue = r.issues[0];
    throw new TdxParseError("COLLATERAL_MALFORMED", "Cannot parse TDX collateral", {
      expected: issue?.expected ?? "the collateral schema",
      actual: `${v.getDotPath(issue) ?? "<root>"}: ${issue?.message ?? "invalid"}`,
    });
  }
  return r.output;
}

/** Every TCB status Intel defines (PCS API v4, TCB Info "tcbStatus"). */
export const TCB_STATUSES = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
  "Revoked",
] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];

const isoTime = v.pipe(
  v.string(),
  v.regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/, "an RFC 3339 UTC time"),
  v.check((s) => !Number.isNaN(Date.parse(s)), "a valid date"),
);
const svn = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(255));
const u16 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffff));
const component = v.object({ svn, category: v.optional(v.string()), type: v.optional(v.string()) });
const components = v.pipe(v.array(component), v.length(16));
const status = v.picklist(TCB_STATUSES);
const advisoryIDs = v.optional(v.pipe(v.array(v.string()), v.maxLength(256)));

/** A TDX TCB level (TCB Info v3 "tcbLevels" item). */
const TdxTcbLevelSchema = v.object({
  tcb: v.object({ sgxtcbcomponents: components, pcesvn: u16, tdxtcbcomponents: components }),
  tcbDate: isoTime,
  tcbStatus: status,
  advisoryIDs,
});

/** "tdxModuleIdentities" item (TCB Info v3 for TDX 1.5 platforms). */
const TdxModuleIdentitySchema = v.object({
  id: v.pipe(v.string(), v.regex(/^TDX_[0-9A-Fa-f]{2}$/)),
  mrsigner: hex(48),
  attributes: hex(8),
  attributesMask: hex(8),
  tcbLevels: v.pipe(
    v.array(v.object({ tcb: v.object({ isvsvn: svn }), tcbDate: isoTime, tcbStatus: status, advisoryIDs })),
    v.minLength(1),
    v.maxLength(256),
  ),
});

/** Intel PCS TDX TCB Info, version 3 ("id": "TDX"). Unknown members are ignored. */
export const TdxTcbInfoSchema = v.object({
  id: v.literal("TDX"),
  version: v.literal(3),
  issueDate: isoTime,
  nextUpdate: isoTime,
  fmspc: hex(6),
  pceId: hex(2),
  tcbType: v.number(),
  tcbEvaluationDataNumber: v.number(),
  tdxModule: v.object({ mrsigner: hex(48), attributes: hex(8), attributesMask: hex(8) }),
  tdxModuleIdentities: v.optional(v.pipe(v.array(TdxModuleIdentitySchema), v.maxLength(64))),
  tcbLevels: v.pipe(v.array(TdxTcbLevelSchema), v.minLength(1), v.maxLength(1024)),
});
export type TdxTcbInfo = v.InferOutput<typeof TdxTcbInfoSchema>;

/** Intel PCS Enclave Identity v2 for the TD quoting enclave ("id": "TD_QE"). */
export const QeIdentitySchema = v.object({
  id: v.literal("TD_QE"),
  version: v.literal(2),
  issueDate: isoTime,
  nextUpdate: isoTime,
  tcbEvaluationDataNumber: v.number(),
  miscselect: hex(4),
  miscselectMask: hex(4),
  attributes: hex(16),
  attributesMask: hex(16),
  mrsigner: hex(32),
  isvprodid: u16,
  tcbLevels: v.pipe(
    v.array(v.object({ tcb: v.object({ isvsvn: u16 }), tcbDate: isoTime, tcbStatus: status, advisoryIDs })),
    v.minLength(1),
    v.maxLength(256),
  ),
});
export type QeIdentity = v.InferOutput<typeof QeIdentitySchema>;

/** Validate a parsed PCS member with `schema`; failures are `COLLATERAL_MALFORMED`. */
export function parseWith<S extends v.GenericSchema>(
  schema: S,
  json: unknown,
  what: string,
): v.InferOutput<S> {
  const r = v.safeParse(schema, json);
  if (!r.success) {
    const issue = r.issues[0];
    throw new TdxParseError("COLLATERAL_MALFORMED", `Cannot parse ${what}`, {
      expected: issue?.expected ?? "the schema",
      actual: `${v.getDotPath(issue) ?? "<root>"}: ${issue?.message ?? "invalid"}`,
    });
  }
  return r.output;
}

/** Hex to bytes for values the schema already checked. */
export function hexBytes(s: string): Uint8Array {
  return fromHex(s);
}
