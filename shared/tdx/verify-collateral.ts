import { fromHex } from "@asterism/bytes";
import type { X509Certificate, X509Crl } from "@peculiar/x509";
import { verifyP256 } from "./_internal.ts";
import {
  type Collateral,
  parseCollateral,
  parseWith,
  type QeIdentity,
  QeIdentitySchema,
  type TdxTcbInfo,
  TdxTcbInfoSchema,
} from "./collateral.ts";
import { TdxParseError, TdxVerifyError } from "./errors.ts";
import { topLevelMembers } from "./json-member.ts";
import {
  checkNotRevoked,
  ecdsaKeyOf,
  parseCertificatesPem,
  parseCrl,
  verifyChain,
  verifyCrl,
} from "./pck-chain.ts";

/** Collateral whose signatures and chains were checked; time windows are re-checked at every use. */
export interface VerifiedCollateral {
  readonly tcbInfo: TdxTcbInfo;
  readonly qeIdentity: QeIdentity;
  readonly pckCrl: X509Crl;
  readonly rootCrl: X509Crl;
  /** The CA that issued `pckCrl` (PCK Platform or Processor CA), checked against the PCK leaf's issuer. */
  readonly pckCrlIssuer: X509Certificate;
  /** Non-fatal findings, e.g. an expired collateral-signing certificate accepted by option. */
  readonly warnings: readonly string[];
}

/** Options of {@link verifyCollateral}. */
export interface CollateralOptions {
  readonly root: X509Certificate;
  readonly now: Date;
  /**
   * Accept TCB-info / QE-identity / CRL signing certificates outside their validity, as long as the
   * signature verifies with their key and they chain to the root (reported in `warnings`). Intel
   * re-issues these certificates for the same key (the v5 sample's TCB info, issued 2026-02, arrives
   * with a signing certificate that expired 2025-05-21). Default false: `COLLATERAL_SIGNER_EXPIRED`.
   */
  readonly allowExpiredCollateralSigner?: boolean;
}

const COLLATERAL_CHAIN = {
  invalid: "COLLATERAL_CHAIN_INVALID",
  expired: "COLLATERAL_SIGNER_EXPIRED",
} as const;

async function verifySignedMember(
  body: string,
  member: string,
  signatureHex: string,
  chainPem: string,
  opts: CollateralOptions,
  rootCrl: X509Crl | undefined,
  what: string,
): Promise<{ json: unknown; warnings: string[] }> {
  if (!/^[0-9a-fA-F]{128}$/.test(signatureHex))
    throw new TdxParseError("COLLATERAL_MALFORMED", `Cannot parse ${what} signature`, {
      expected: "64 bytes of hex (raw r‖s)",
      actual: `${signatureHex.length} characters`,
    });
  const members = topLevelMembers(body, what);
  const raw = members.get(member);
  if (raw === undefined)
    throw new TdxParseError("COLLATERAL_MALFORMED", `Cannot parse ${what}`, {
      expected: `member "${member}"`,
    });
  const embedded = members.get("signature");
  if (embedded !== undefined) {
    const s: unknown = JSON.parse(embedded);
    if (typeof s !== "string" || s.toLowerCase() !== signatureHex.toLowerCase())
      throw new TdxParseError("COLLATERAL_MALFORMED", `Cannot use ${what}`, {
        expected: "the body's signature to equal the separate signature field",
        actual: "a different value",
      });
  }
  const chain = parseCertificatesPem(chainPem, `${what} issuer chain`);
  const expired = await verifyChain(chain, opts.root, {
    now: opts.now,
    codes: COLLATERAL_CHAIN,
    what: `${what} issuer`,
    allowExpired: opts.allowExpiredCollateralSigner ?? false,
  });
  const signer = chain[0] as X509Certificate;
  if (rootCrl !== undefined)
    for (const c of chain) if (c.subject !== opts.root.subject) checkNotRevoked(rootCrl, c);
  const ok = await verifyP256(
    await ecdsaKeyOf(signer, "COLLATERAL_SIGNATURE_INVALID"),
    fromHex(signatureHex),
    new TextEncoder().encode(raw),
  );
  if (!ok) throw new TdxVerifyError("COLLATERAL_SIGNATURE_INVALID", `${what} signature does not verify`);
  return {
    json: JSON.parse(raw),
    warnings: expired.map(
      (s) => `${what} signing certificate "${s}" is outside its validity (accepted by option)`,
    ),
  };
}

/** Throw `COLLATERAL_EXPIRED` unless issueDate ≤ now ≤ nextUpdate. */
export function checkWindow(issueDate: string, nextUpdate: string, now: Date, what: string): void {
  const from = new Date(issueDate);
  const to = new Date(nextUpdate);
  if (now < from || now > to)
    throw new TdxVerifyError("COLLATERAL_EXPIRED", `${what} has expired or is not yet valid`, {
      expected: `${issueDate} ≤ now ≤ ${nextUpdate}`,
      actual: now.toISOString(),
    });
}

/** Re-check every time window of already verified collateral at `now`. */
export function checkCollateralCurrent(c: VerifiedCollateral, now: Date): void {
  checkWindow(c.tcbInfo.issueDate, c.tcbInfo.nextUpdate, now, "tcbInfo");
  checkWindow(c.qeIdentity.issueDate, c.qeIdentity.nextUpdate, now, "QE identity");
  for (const [crl, what] of [
    [c.rootCrl, "root CA CRL"],
    [c.pckCrl, "PCK CRL"],
  ] as const) {
    const next = crl.nextUpdate;
    if (next === undefined || now < crl.thisUpdate || now > next)
      throw new TdxVerifyError("COLLATERAL_EXPIRED", `${what} is not current`, {
        expected: `${crl.thisUpdate.toISOString()} ≤ now ≤ ${next?.toISOString() ?? "(no nextUpdate)"}`,
        actual: now.toISOString(),
      });
  }
}

/**
 * Verify collateral independently of any quote (so it can be verified once and cached): the root CRL is
 * signed by the root; the PCK CRL by its issuer chain's CA, itself not revoked; TCB info and QE identity
 * are signed (over their member's exact text) by a signer chaining to the root and not revoked; all are
 * within their validity at `now`.
 *
 * @see Intel "SGX and TDX DCAP ECDSA Attestation: PCS API v4" for the documents and issuer chains.
 */
export async function verifyCollateral(
  input: Collateral,
  opts: CollateralOptions,
): Promise<VerifiedCollateral> {
  // Re-validate: callers may hand over objects they built themselves rather than parsed JSON.
  const col = parseCollateral(input);
  const rootCrl = parseCrl(fromHex(col.root_ca_crl), "root CA CRL");
  await verifyCrl(rootCrl, opts.root, opts.now, "root CA CRL");

  const pckCrlChain = parseCertificatesPem(col.pck_crl_issuer_chain, "PCK CRL issuer chain");
  const crlExpired = await verifyChain(pckCrlChain, opts.root, {
    now: opts.now,
    codes: COLLATERAL_CHAIN,
    what: "PCK CRL issuer",
    allowExpired: opts.allowExpiredCollateralSigner ?? false,
  });
  const pckCrlIssuer = pckCrlChain[0] as X509Certificate;
  for (const c of pckCrlChain) if (c.subject !== opts.root.subject) checkNotRevoked(rootCrl, c);
  const pckCrl = parseCrl(fromHex(col.pck_crl), "PCK CRL");
  await verifyCrl(pckCrl, pckCrlIssuer, opts.now, "PCK CRL");

  const tcb = await verifySignedMember(
    col.tcb_info,
    "tcbInfo",
    col.tcb_info_signature,
    col.tcb_info_issuer_chain,
    opts,
    rootCrl,
    "tcbInfo",
  );
  const tcbInfo = parseWith(TdxTcbInfoSchema, tcb.json, "tcbInfo");
  checkWindow(tcbInfo.issueDate, tcbInfo.nextUpdate, opts.now, "tcbInfo");

  const qe = await verifySignedMember(
    col.qe_identity,
    "enclaveIdentity",
    col.qe_identity_signature,
    col.qe_identity_issuer_chain,
    opts,
    rootCrl,
    "QE identity",
  );
  const qeIdentity = parseWith(QeIdentitySchema, qe.json, "QE identity");
  checkWindow(qeIdentity.issueDate, qeIdentity.nextUpdate, opts.now, "QE identity");

  return {
    tcbInfo,
    qeIdentity,
    pckCrl,
    rootCrl,
    pckCrlIssuer,
    warnings: [
      ...crlExpired.map((s) => `PCK CRL issuer "${s}" is outside its validity (accepted by option)`),
      ...tcb.warnings,
      ...qe.warnings,
    ],
  };
}

/**
 * Verify only a TCB info document (signature over its member text and issuer chain, validity at `now`),
 * for checks that need no other collateral (the v5 vector ships TCB info without a matching QE identity).
 */
export async function verifyTcbInfo(
  body: string,
  signatureHex: string,
  issuerChainPem: string,
  rootCrl: X509Crl | undefined,
  opts: CollateralOptions,
): Promise<{ tcbInfo: TdxTcbInfo; warnings: string[] }> {
  const tcb = await verifySignedMember(
    body,
    "tcbInfo",
    signatureHex,
    issuerChainPem,
    opts,
    rootCrl,
    "tcbInfo",
  );
  const tcbInfo = parseWith(TdxTcbInfoSchema, tcb.json, "tcbInfo");
  checkWindow(tcbInfo.issueDate, tcbInfo.nextUpdate, opts.now, "tcbInfo");
  return { tcbInfo, warnings: tcb.warnings };
}

/** Options of {@link createVerifiedCollateralSource}. */
export interface VerifiedCollateralSourceOptions {
  /** Where raw collateral comes from (a PCS client, a bundle). */
  readonly getCollateral: (req: { fmspc: string; ca: "platform" | "processor" }) => Promise<Collateral>;
  readonly root: X509Certificate;
  readonly now: () => Date;
  readonly allowExpiredCollateralSigner?: boolean;
  /** Bound on cached platforms (FMSPC × CA). Default 256. */
  readonly max?: number;
}

/**
 * Wrap a raw collateral source so each platform's collateral is verified once and reused until its
 * earliest nextUpdate (TCB info, QE identity, CRLs). Failed verifications are not cached.
 */
export function createVerifiedCollateralSource(
  opts: VerifiedCollateralSourceOptions,
): (req: { fmspc: string; ca: "platform" | "processor" }) => Promise<VerifiedCollateral> {
  const cache = new Map<string, { value: VerifiedCollateral; until: number }>();
  const max = opts.max ?? 256;
  return async (req) => {
    const key = `${req.fmspc.toLowerCase()}:${req.ca}`;
    const now = opts.now();
    const hit = cache.get(key);
    if (hit !== undefined && now.getTime() <= hit.until) return hit.value;
    const value = await verifyCollateral(await opts.getCollateral(req), {
      root: opts.root,
      now,
      allowExpiredCollateralSigner: opts.allowExpiredCollateralSigner ?? false,
    });
    const until = Math.min(
      Date.parse(value.tcbInfo.nextUpdate),
      Date.parse(value.qeIdentity.nextUpdate),
      value.pckCrl.nextUpdate?.getTime() ?? 0,
      value.rootCrl.nextUpdate?.getTime() ?? 0,
    );
    cache.delete(key);
    cache.set(key, { value, until });
    if (cache.size > max) {
      const first = cache.keys().next();
      if (!first.done) cache.delete(first.value);
    }
    return value;
  };
}
