import {
  type Certificate,
  certificatesFromPemOrDer,
  PkiError,
  parseCertificate,
  parsePem,
} from "@asterism/pki";
import { type Product, productKdsName } from "../abi/product.ts";
import { SnpVerifyError, type SnpVerifyErrorCode } from "../errors.ts";
import {
  ARK_GENOA_PEM,
  ARK_MILAN_PEM,
  ARK_TURIN_PEM,
  ASK_GENOA_PEM,
  ASK_MILAN_PEM,
  ASK_TURIN_PEM,
  ASVK_GENOA_PEM,
  ASVK_MILAN_PEM,
  ASVK_TURIN_PEM,
} from "./amd-roots.ts";

/** The AMD certificates that anchor one product: the ARK and, optionally, known ASK/ASVK intermediates. */
export interface AmdRoots {
  readonly ark: Certificate;
  /** The ASK (signs VCEKs); used when the evidence carries none. */
  readonly ask?: Certificate;
  /** The ASVK (signs VLEKs); used when the evidence carries none. */
  readonly asvk?: Certificate;
}

/** Trust roots by product. */
export type AmdTrustRoots = Readonly<Partial<Record<Product, AmdRoots>>>;

function pem1(text: string): Certificate {
  const [block] = parsePem(text);
  if (block === undefined) throw new Error("embedded AMD root missing");
  return parseCertificate(block.der);
}

let builtIn: AmdTrustRoots | undefined;

/** AMD's published ARK, ASK and ASVK for Milan, Genoa and Turin (see `amd-roots.ts` for provenance). */
export function builtInAmdRoots(): AmdTrustRoots {
  builtIn ??= {
    milan: { ark: pem1(ARK_MILAN_PEM), ask: pem1(ASK_MILAN_PEM), asvk: pem1(ASVK_MILAN_PEM) },
    genoa: { ark: pem1(ARK_GENOA_PEM), ask: pem1(ASK_GENOA_PEM), asvk: pem1(ASVK_GENOA_PEM) },
    turin: { ark: pem1(ARK_TURIN_PEM), ask: pem1(ASK_TURIN_PEM), asvk: pem1(ASVK_TURIN_PEM) },
  };
  return builtIn;
}

/** A chain as the host or KDS supplies it: intermediates and (possibly) an ARK, identified by CN. */
export interface SuppliedChain {
  readonly ask?: Certificate;
  readonly asvk?: Certificate;
  /** Only ever compared with the trusted ARK, never trusted itself. */
  readonly ark?: Certificate;
}

/** Map a pki failure to the SNP verification code it means in a chain. */
export function chainCode(err: unknown): SnpVerifyErrorCode {
  if (!(err instanceof PkiError)) return "CERT_INVALID";
  switch (err.code) {
    case "SIGNATURE_INVALID":
    case "ISSUER_MISMATCH":
      return "CHAIN_INVALID";
    case "EXPIRED":
      return "CERT_EXPIRED";
    case "NOT_YET_VALID":
      return "CERT_NOT_YET_VALID";
    case "REVOKED":
      return "CERT_REVOKED";
    default:
      return "CERT_INVALID";
  }
}

/** Rethrow a pki error as {@link SnpVerifyError} with the matching code. */
export function asVerifyError(err: unknown, action: string): SnpVerifyError {
  if (err instanceof SnpVerifyError) return err;
  const e = err instanceof PkiError ? err : undefined;
  return new SnpVerifyError(chainCode(err), `${action}: ${e?.action ?? "unexpected failure"}`, {
    ...(e?.expected === undefined ? {} : { expected: e.expected }),
    ...(e?.actual === undefined ? {} : { actual: e.actual }),
    cause: err,
  });
}

/** Most certificates in a supplied chain (ASK/ASVK and ARK; Constellation's ParseCertChain allows two). */
export const MAX_CHAIN_CERTS = 2;

/**
 * Parse a supplied chain (PEM as KDS `cert_chain` serves it: ASK or ASVK, then ARK; or DER of one cert).
 * Certificates are identified by CN for `product` (`SEV-Milan`, `SEV-VLEK-Milan`, `ARK-Milan`); any other CN,
 * a duplicate role or more than two certificates is `CERT_INVALID`.
 */
export function parseAmdChain(input: Uint8Array, product: Product): SuppliedChain {
  let certs: Certificate[];
  try {
    certs = certificatesFromPemOrDer(input).map(parseCertificate);
  } catch (err) {
    throw asVerifyError(err, "Cannot parse AMD certificate chain");
  }
  return classifyChain(certs, product);
}

/** Sort certificates into ASK/ASVK/ARK roles by CN for `product`. */
export function classifyChain(certs: readonly Certificate[], product: Product): SuppliedChain {
  if (certs.length > MAX_CHAIN_CERTS)
    throw new SnpVerifyError("CERT_INVALID", "Cannot parse AMD certificate chain", {
      expected: `at most ${MAX_CHAIN_CERTS} certificates`,
      actual: String(certs.length),
    });
  const P = productKdsName(product);
  const roles: Record<string, "ask" | "asvk" | "ark"> = {
    [`SEV-${P}`]: "ask",
    [`SEV-VLEK-${P}`]: "asvk",
    [`ARK-${P}`]: "ark",
  };
  const out: { ask?: Certificate; asvk?: Certificate; ark?: Certificate } = {};
  for (const c of certs) {
    const role = roles[c.subject.commonName ?? ""];
    if (role === undefined || out[role] !== undefined)
      throw new SnpVerifyError("CERT_INVALID", "Cannot classify AMD chain certificate", {
        expected: `one each of ${Object.keys(roles).join(", ")}`,
        actual: JSON.stringify(c.subject.commonName ?? "no CN"),
      });
    out[role] = c;
  }
  return out;
}
