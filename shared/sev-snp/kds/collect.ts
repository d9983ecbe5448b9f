import type { Certificate } from "@asterism/pki";
import { SIGNING_KEY } from "../abi/policy.ts";
import { type Product, productFromCpuid } from "../abi/product.ts";
import type { AttestationReport } from "../abi/report.ts";
import { decodeTcb } from "../abi/tcb.ts";
import { SnpVerifyError } from "../errors.ts";
import type { SnpEvidence } from "../verify/verifier.ts";
import type { KdsClient } from "./client.ts";

/** What the attested side supplied alongside its report (all optional). */
export interface SuppliedCertificates {
  /** VCEK or VLEK, DER or PEM (from the host's certificate table, Azure THIM, the document). */
  readonly endorsementKey?: Uint8Array;
  /** ASK/ASVK (and maybe an ARK, which is only ever compared, never trusted). */
  readonly chain?: Uint8Array | readonly Certificate[];
}

/**
 * Assemble {@link SnpEvidence} the way Constellation's certificate precedence works (constellation VECTORS.md
 * V1 "Certificate-source precedence"): the VCEK from the attested side if present, otherwise from KDS
 * (by CHIP_ID and REPORTED_TCB); the ASK/ASVK from the attested side if present, otherwise KDS's
 * `cert_chain` — and the ARK never from either: verification always anchors at the trusted roots.
 *
 * A VLEK cannot be fetched from KDS; a VLEK-signed report without one is `CERT_INVALID`.
 *
 * @example
 * const evidence = await collectSnpEvidence(report, { endorsementKey: fromHost }, kds, "milan");
 * const verified = await verifier.verify(evidence, { now });
 */
export async function collectSnpEvidence(
  report: AttestationReport,
  supplied: SuppliedCertificates,
  kds: KdsClient,
  product?: Product,
): Promise<SnpEvidence> {
  const p =
    product ?? ("cpuidFamId" in report ? productFromCpuid(report.cpuidFamId, report.cpuidModId) : undefined);
  const kind = report.signerInfo.signingKey === SIGNING_KEY.VLEK ? "vlek" : "vcek";
  let endorsementKey = supplied.endorsementKey;
  if (endorsementKey === undefined) {
    if (kind === "vlek")
      throw new SnpVerifyError("CERT_INVALID", "Cannot obtain the VLEK", {
        expected: "a VLEK supplied with the report (KDS does not serve VLEKs)",
        actual: "none",
      });
    if (p === undefined)
      throw new SnpVerifyError("PRODUCT_UNKNOWN", "Cannot fetch the VCEK", {
        expected: "a product (version 2 reports carry no CPUID)",
      });
    endorsementKey = await kds.getVcek(p, report.chipId, decodeTcb(report.reportedTcb, p));
  }
  let chain = supplied.chain;
  if (chain === undefined && p !== undefined) {
    // KDS serves ASK/ASVK then ARK; keep only the intermediate: the ARK comes from our roots.
    const [intermediate] = await kds.getCertChain(p, kind);
    if (intermediate !== undefined) chain = [intermediate];
  }
  return { report, endorsementKey, ...(chain === undefined ? {} : { chain }) };
}
