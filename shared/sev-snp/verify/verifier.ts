import { bytesEqual, toBase64, toHex } from "@asterism/bytes";
import {
  type Certificate,
  certificatesFromPemOrDer,
  checkNotRevoked,
  checkValidity,
  importVerifyKey,
  parseCertificate,
  parseCrl,
  verifyCrl,
  verifyIssuedBy,
} from "@asterism/pki";
import { SIGNING_KEY } from "../abi/policy.ts";
import { type Product, productFromCpuid } from "../abi/product.ts";
import { type AttestationReport, parseReport } from "../abi/report.ts";
import { decodeTcb, formatTcb, type TcbParts, tcbEqual } from "../abi/tcb.ts";
import { SnpVerifyError } from "../errors.ts";
import { type AmdEndorsementKey, parseAmdEndorsementKey } from "./amd-cert.ts";
import {
  type AmdTrustRoots,
  asVerifyError,
  builtInAmdRoots,
  classifyChain,
  parseAmdChain,
  type SuppliedChain,
} from "./chain.ts";
import { verifyReportSignature } from "./report-signature.ts";

/** The evidence to verify: a report, the key certificate that signed it, and optionally the chain. */
export interface SnpEvidence {
  /** The report bytes (exactly 0x4A0) or an already parsed report (re-parsed from its `raw` bytes). */
  readonly report: Uint8Array | AttestationReport;
  /** The VCEK or VLEK certificate, DER or PEM. */
  readonly endorsementKey: Uint8Array;
  /**
   * ASK/ASVK (and optionally ARK) as PEM, or already parsed. Absent: the built-in ASK/ASVK for the product.
   * A supplied ARK is compared with the trusted one and never trusted by itself.
   */
  readonly chain?: Uint8Array | readonly Certificate[];
}

/** Per-call options of {@link SnpVerifier.verify}. */
export interface SnpVerifyOptions {
  /** The verification clock (injected; certificates are checked for validity at this time). */
  readonly now: Date;
  /**
   * The expected product. Absent: taken from the report's CPUID (version 3+) or the key certificate's
   * productName. When several sources exist they must agree.
   */
  readonly product?: Product;
  /**
   * The exact productName the VCEK/VLEK must carry, product and stepping (e.g. "Milan-B0"). Absent: any
   * stepping of the product. (go-sev-guest's "expected product stepping" check.)
   */
  readonly productName?: string;
  /** AMD's CRL (DER, KDS `/…/crl`) for the product and key kind; when given, the ASK/ASVK must not be revoked. */
  readonly crl?: Uint8Array;
}

/** Options of {@link createSnpVerifier}. */
export interface SnpVerifierOptions {
  /** Trust roots by product. Absent: {@link builtInAmdRoots}. */
  readonly trustedRoots?: AmdTrustRoots;
  /** Most verified chains kept (each ~5 KiB of certificates); the oldest is evicted first. */
  readonly cacheSize?: number;
}

/** The verified facts: an authentic report, its product, signer and the certified TCB. */
export interface VerifiedSnpReport {
  readonly report: AttestationReport;
  readonly product: Product;
  readonly signer: "vcek" | "vlek";
  /** What the VCEK/VLEK certificate states (TCB, hwID or cspID, productName). */
  readonly endorsementKey: AmdEndorsementKey;
  /** The report's TCB_VERSIONs decoded for the product. */
  readonly tcb: {
    readonly current: TcbParts;
    readonly reported: TcbParts;
    readonly committed: TcbParts;
    readonly launch: TcbParts;
  };
  /** Subjects of the chain that verified, leaf first. */
  readonly chain: readonly string[];
}

/** A verifier with a cache of verified certificate chains. */
export interface SnpVerifier {
  verify(evidence: SnpEvidence, opts: SnpVerifyOptions): Promise<VerifiedSnpReport>;
}

interface VerifiedChain {
  readonly leaf: Certificate;
  readonly intermediate: Certificate;
  readonly ark: Certificate;
  readonly info: AmdEndorsementKey;
  readonly key: CryptoKey;
}

const DEFAULT_CACHE_SIZE = 256;

function signerOf(report: AttestationReport): "vcek" | "vlek" {
  const k = report.signerInfo.signingKey;
  if (k === SIGNING_KEY.VCEK) return "vcek";
  if (k === SIGNING_KEY.VLEK) return "vlek";
  throw new SnpVerifyError("SIGNER_UNSUPPORTED", "Cannot verify SNP report", {
    expected: "SIGNING_KEY 0 (VCEK) or 1 (VLEK)",
    actual: `SIGNING_KEY ${k}${k === SIGNING_KEY.NONE ? " (none: the report is unsigned)" : " (reserved)"}`,
  });
}

function resolveProduct(
  report: AttestationReport,
  leaf: AmdEndorsementKey,
  expected: Product | undefined,
): Product {
  let fromCpuid: Product | undefined;
  if ("cpuidFamId" in report) {
    fromCpuid = productFromCpuid(report.cpuidFamId, report.cpuidModId);
    if (fromCpuid === undefined)
      throw new SnpVerifyError("PRODUCT_UNKNOWN", "Cannot determine product from report CPUID", {
        expected: "family 19h (Milan/Genoa) or 1Ah (Turin)",
        actual: `family 0x${report.cpuidFamId.toString(16)} model 0x${report.cpuidModId.toString(16)}`,
      });
  }
  const sources: [string, Product | undefined][] = [
    ["expected product", expected],
    ["report CPUID", fromCpuid],
    [`certificate productName ${JSON.stringify(leaf.productName)}`, leaf.product],
  ];
  const known = sources.filter((s): s is [string, Product] => s[1] !== undefined);
  const first = known[0];
  if (first === undefined)
    throw new SnpVerifyError("PRODUCT_UNKNOWN", "Cannot determine the SEV-SNP product", {
      expected: "a product option, a v3+ report or a certificate productName",
    });
  for (const [what, p] of known)
    if (p !== first[1])
      throw new SnpVerifyError("PRODUCT_MISMATCH", "SEV-SNP product sources disagree", {
        expected: `${first[0]}: ${first[1]}`,
        actual: `${what}: ${p}`,
      });
  return first[1];
}

function parseLeaf(der: Uint8Array): { cert: Certificate; info: AmdEndorsementKey } {
  let cert: Certificate;
  try {
    const certs = certificatesFromPemOrDer(der);
    if (certs.length !== 1)
      throw new SnpVerifyError("CERT_INVALID", "Cannot read VCEK/VLEK certificate", {
        expected: "exactly one certificate",
        actual: String(certs.length),
      });
    cert = parseCertificate(certs[0] as Uint8Array);
  } catch (err) {
    throw asVerifyError(err, "Cannot read VCEK/VLEK certificate");
  }
  return { cert, info: parseAmdEndorsementKey(cert) };
}

/**
 * Build a verifier: report signature (ECDSA P-384), chain ARK → ASK/ASVK → VCEK/VLEK (RSASSA-PSS), AMD
 * extensions, hwID = CHIP_ID (VCEK), certificate TCB = REPORTED_TCB, and validity at `now`. Verified
 * chains are cached by their exact bytes; validity and revocation are re-checked on every call.
 *
 * The ARK always comes from `trustedRoots`: a chain's own ARK is only compared with it (`ARK_UNTRUSTED`
 * when different), because an attacker who controls the host also controls what it presents.
 *
 * @example
 * const verifier = createSnpVerifier();
 * const verified = await verifier.verify({ report, endorsementKey: vcekDer }, { now: new Date() });
 */
export function createSnpVerifier(options: SnpVerifierOptions = {}): SnpVerifier {
  const roots = options.trustedRoots ?? builtInAmdRoots();
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  const cache = new Map<string, Promise<VerifiedChain>>();
  const selfSigned = new Map<Certificate, Promise<void>>();
  const leaves = new Map<string, { cert: Certificate; info: AmdEndorsementKey }>();

  function leafFor(der: Uint8Array, id: string): { cert: Certificate; info: AmdEndorsementKey } {
    let leaf = leaves.get(id);
    if (leaf === undefined) {
      leaf = parseLeaf(der);
      leaves.set(id, leaf);
      while (leaves.size > cacheSize) {
        const oldest = leaves.keys().next().value;
        if (oldest === undefined) break;
        leaves.delete(oldest);
      }
    }
    return leaf;
  }

  function verifyArk(ark: Certificate): Promise<void> {
    let p = selfSigned.get(ark);
    if (p === undefined) {
      p = verifyIssuedBy(ark, ark);
      selfSigned.set(ark, p);
      p.catch(() => selfSigned.delete(ark));
    }
    return p;
  }

  async function buildChain(
    product: Product,
    signer: "vcek" | "vlek",
    leaf: { cert: Certificate; info: AmdEndorsementKey },
    supplied: SuppliedChain,
  ): Promise<VerifiedChain> {
    const trusted = roots[product];
    if (trusted === undefined)
      throw new SnpVerifyError("ARK_UNTRUSTED", "Cannot verify AMD chain", {
        expected: `a trusted ARK for ${product}`,
        actual: "none configured",
      });
    if (supplied.ark !== undefined && !bytesEqual(supplied.ark.der, trusted.ark.der))
      throw new SnpVerifyError("ARK_UNTRUSTED", "Supplied ARK is not the trusted AMD root", {
        expected: `the built-in ${trusted.ark.subject.commonName ?? "ARK"}`,
        actual: `a different certificate named ${JSON.stringify(supplied.ark.subject.commonName ?? "?")}`,
      });
    const wantRole = signer === "vcek" ? "ask" : "asvk";
    const wrongRole = signer === "vcek" ? "asvk" : "ask";
    if (supplied[wrongRole] !== undefined && supplied[wantRole] === undefined)
      throw new SnpVerifyError("SIGNER_MISMATCH", "Supplied chain is for the other key kind", {
        expected: signer === "vcek" ? "an ASK (VCEK chain)" : "an ASVK (VLEK chain)",
        actual: JSON.stringify(supplied[wrongRole]?.subject.commonName ?? "?"),
      });
    const intermediate = supplied[wantRole] ?? trusted[wantRole];
    if (intermediate === undefined)
      throw new SnpVerifyError("CHAIN_INVALID", "Cannot verify AMD chain", {
        expected: signer === "vcek" ? "an ASK" : "an ASVK",
        actual: "none supplied or configured",
      });
    try {
      await verifyArk(trusted.ark);
      await verifyIssuedBy(intermediate, trusted.ark);
      await verifyIssuedBy(leaf.cert, intermediate);
    } catch (err) {
      throw asVerifyError(err, "Cannot verify AMD chain");
    }
    let key: CryptoKey;
    try {
      key = await importVerifyKey(leaf.cert.spki, { kind: "ecdsa", hash: "SHA-384" });
    } catch (err) {
      throw asVerifyError(err, "Cannot import VCEK/VLEK key");
    }
    return { leaf: leaf.cert, intermediate, ark: trusted.ark, info: leaf.info, key };
  }

  async function chainFor(
    product: Product,
    signer: "vcek" | "vlek",
    evidence: SnpEvidence,
    leafId: string,
  ): Promise<VerifiedChain> {
    const chainKey =
      evidence.chain === undefined
        ? ""
        : evidence.chain instanceof Uint8Array
          ? toBase64(evidence.chain)
          : evidence.chain.map((c) => toBase64(c.der)).join(".");
    const key = `${product}/${signer}/${leafId}/${chainKey}`;
    const hit = cache.get(key);
    if (hit !== undefined) {
      // Refresh recency (Map iteration order is insertion order).
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const p = (async () => {
      const leaf = leafFor(evidence.endorsementKey, leafId);
      const supplied =
        evidence.chain === undefined
          ? {}
          : evidence.chain instanceof Uint8Array
            ? parseAmdChain(evidence.chain, product)
            : classifyChain(evidence.chain, product);
      return buildChain(product, signer, leaf, supplied);
    })();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
    while (cache.size > cacheSize) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
    return p;
  }

  return {
    async verify(evidence, opts) {
      // Always derive the fields from the bytes the signature covers: a caller-supplied parsed report whose
      // fields were edited after parsing must not be validated with fields the signature never saw.
      const report = parseReport(
        evidence.report instanceof Uint8Array ? evidence.report : evidence.report.raw,
      );
      const signer = signerOf(report);
      // The product decides which roots apply, so resolve it before the chain; the leaf's productName is
      // read without trusting it yet (it only has to agree with the other sources).
      const leafId = toBase64(evidence.endorsementKey);
      const leafInfo = leafFor(evidence.endorsementKey, leafId).info;
      const product = resolveProduct(report, leafInfo, opts.product);
      if (opts.productName !== undefined && opts.productName !== leafInfo.productName)
        throw new SnpVerifyError("PRODUCT_MISMATCH", "VCEK/VLEK is for another product stepping", {
          expected: JSON.stringify(opts.productName),
          actual: JSON.stringify(leafInfo.productName),
        });
      if (leafInfo.kind !== signer)
        throw new SnpVerifyError(
          "SIGNER_MISMATCH",
          "Report and key certificate disagree on the signing key",
          {
            expected: `a ${signer.toUpperCase()} (report SIGNING_KEY)`,
            actual: `a ${leafInfo.kind.toUpperCase()} certificate`,
          },
        );
      const chain = await chainFor(product, signer, evidence, leafId);
      try {
        checkValidity(chain.ark, opts.now);
        checkValidity(chain.intermediate, opts.now);
        checkValidity(chain.leaf, opts.now);
      } catch (err) {
        throw asVerifyError(err, "Cannot verify AMD chain");
      }
      if (opts.crl !== undefined) await checkCrl(opts.crl, chain, opts.now);
      const info = chain.info;
      const decode = (raw: bigint, what: string) => {
        try {
          return decodeTcb(raw, product);
        } catch (err) {
          throw new SnpVerifyError("TCB_MISMATCH", `Cannot decode ${what} for ${product}`, { cause: err });
        }
      };
      const tcb = {
        current: decode(report.currentTcb, "CURRENT_TCB"),
        reported: decode(report.reportedTcb, "REPORTED_TCB"),
        committed: decode(report.committedTcb, "COMMITTED_TCB"),
        launch: decode(report.launchTcb, "LAUNCH_TCB"),
      };
      if (signer === "vcek") {
        const hwId = info.hwId ?? new Uint8Array();
        if (!bytesEqual(hwId, report.chipId.subarray(0, hwId.length)))
          throw new SnpVerifyError("HWID_MISMATCH", "VCEK belongs to another chip", {
            expected: `CHIP_ID ${toHex(report.chipId.subarray(0, hwId.length))}`,
            actual: `hwID ${toHex(hwId)}`,
          });
      }
      if (!tcbEqual(info.tcb, tcb.reported))
        throw new SnpVerifyError(
          "TCB_MISMATCH",
          "REPORTED_TCB does not match the TCB of the VCEK/VLEK certificate",
          {
            expected: formatTcb(info.tcb),
            actual: formatTcb(tcb.reported),
          },
        );
      await verifyReportSignature(report, chain.key);
      return {
        report,
        product,
        signer,
        endorsementKey: info,
        tcb,
        chain: [chain.leaf, chain.intermediate, chain.ark].map((c) => c.subject.commonName ?? "?"),
      };
    },
  };
}

/** AMD's CRL is signed by the ARK and lists revoked ASK/ASVK serial numbers. */
async function checkCrl(der: Uint8Array, chain: VerifiedChain, now: Date): Promise<void> {
  let crl: ReturnType<typeof parseCrl>;
  try {
    crl = parseCrl(der);
    await verifyCrl(crl, chain.ark, now);
  } catch (err) {
    throw new SnpVerifyError("CRL_INVALID", "Cannot use AMD CRL", {
      expected: "a current CRL signed by the ARK",
      actual: err instanceof Error ? err.message : "unusable",
      cause: err,
    });
  }
  try {
    checkNotRevoked(chain.intermediate, crl);
  } catch (err) {
    throw asVerifyError(err, "AMD intermediate certificate is revoked");
  }
}

/**
 * One-shot verification without a shared cache (CLI, tests). Long-running services should keep one
 * {@link createSnpVerifier} instance.
 */
export function verifySnpReport(
  evidence: SnpEvidence,
  opts: SnpVerifyOptions & SnpVerifierOptions,
): Promise<VerifiedSnpReport> {
  return createSnpVerifier(opts).verify(evidence, opts);
}
