/**
 * Trusting a vTPM attestation key (AK) through its X.509 certificate: the AK certificate must chain,
 * through intermediates, to one of the caller's root certificates, every certificate valid at `now`.
 *
 * This is how Google Compute Engine vouches for the vTPM AK of a Shielded / Confidential VM: the AK
 * certificate (NV index in the vTPM, carried in the evidence) is issued by Google's "EK/AK CA". It needs
 * no cloud credentials, unlike Constellation's `GetShieldedInstanceIdentity` API call (reference §5.2).
 * The outcomes follow go-tpm-tools `server/verify_test.go` (external/VECTORS.md §3.1).
 *
 * Chain building is deliberately simple: issuer found by exact subject-DER match among the given
 * intermediates and roots, at most {@link MAX_CHAIN_DEPTH} links, issuers must be CAs
 * (basicConstraints cA), the root must be byte-identical to a configured root.
 */
import { bytesEqual } from "@asterism/bytes";
import {
  type Certificate,
  checkValidity,
  children,
  findExtension,
  parseCertificate,
  parseDer,
  verifyIssuedBy,
} from "@asterism/pki";
import { AttestationVerifyError } from "../errors.ts";

/** Longest chain accepted (AK → intermediate → root is 3; leave room for one more intermediate). */
export const MAX_CHAIN_DEPTH = 4;

const BASIC_CONSTRAINTS = "2.5.29.19";

/** Trust anchors for AK certificates. */
export interface AkCertTrust {
  /** Root certificates (DER). The chain must end in one of these, byte for byte. */
  readonly roots: readonly Uint8Array[];
  /** Intermediates the verifier supplies (DER); the evidence may add its own. */
  readonly intermediates?: readonly Uint8Array[];
}

function fail(action: string, detail: { expected?: string; actual?: string; cause?: unknown } = {}): never {
  throw new AttestationVerifyError("AK_CERT_INVALID", action, detail);
}

function parse(der: Uint8Array, what: string): Certificate {
  try {
    return parseCertificate(der);
  } catch (cause) {
    return fail(`Cannot parse ${what}`, {
      cause,
      actual: cause instanceof Error ? cause.message : undefined,
    });
  }
}

function isCa(cert: Certificate): boolean {
  const ext = findExtension(cert, BASIC_CONSTRAINTS);
  if (ext === undefined) return false;
  try {
    const seq = children(parseDer(ext.value));
    const first = seq[0];
    // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }
    return first !== undefined && first.tag === 0x01 && first.value.length === 1 && first.value[0] === 0xff;
  } catch {
    return false;
  }
}

/**
 * Verify `akCertDer` chains to a trusted root at `now`; returns the parsed AK certificate.
 * Throws `AK_CERT_INVALID` (malformed, broken or untrusted chain, expired) or `AK_UNTRUSTED` (no roots).
 */
export async function verifyAkCertificate(
  akCertDer: Uint8Array,
  trust: AkCertTrust,
  extraIntermediates: readonly Uint8Array[],
  now: Date,
): Promise<Certificate> {
  if (trust.roots.length === 0) {
    throw new AttestationVerifyError("AK_UNTRUSTED", "Cannot trust the AK certificate", {
      expected: "at least one trusted root",
      actual: "none configured",
    });
  }
  const leaf = parse(akCertDer, "AK certificate");
  const roots = trust.roots.map((r, i) => parse(r, `trusted root #${i}`));
  // Garbage in the evidence's intermediates must not break verification by itself, but it must never be
  // trusted either: unparsable entries are skipped (go-tpm-tools does the same), a chain through them
  // cannot form.
  const intermediates: Certificate[] = [];
  for (const der of [...(trust.intermediates ?? []), ...extraIntermediates]) {
    try {
      intermediates.push(parseCertificate(der));
    } catch {
      // skipped: see above
    }
  }
  await checkLink(leaf, "AK certificate", now);
  let cert = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    const root = roots.find((r) => bytesEqual(r.subject.der, cert.issuer.der));
    if (root !== undefined) {
      await verifyLink(cert, root, now);
      return leaf;
    }
    const next = intermediates.find((c) => bytesEqual(c.subject.der, cert.issuer.der) && c !== cert);
    if (next === undefined) {
      return fail("Cannot chain the AK certificate to a trusted root", {
        expected: "an issuer among the trusted roots or intermediates",
        actual: `no certificate for issuer ${JSON.stringify(cert.issuer.commonName ?? "?")}`,
      });
    }
    await verifyLink(cert, next, now);
    cert = next;
  }
  return fail("Cannot chain the AK certificate to a trusted root", {
    expected: `at most ${MAX_CHAIN_DEPTH} links`,
    actual: "longer chain",
  });
}

async function checkLink(cert: Certificate, what: string, now: Date): Promise<void> {
  try {
    checkValidity(cert, now);
  } catch (cause) {
    fail(`${what} is not valid now`, { cause, actual: cause instanceof Error ? cause.message : undefined });
  }
}

async function verifyLink(cert: Certificate, issuer: Certificate, now: Date): Promise<void> {
  if (!isCa(issuer)) {
    fail("AK certificate issuer is not a CA", {
      expected: "basicConstraints cA=true",
      actual: JSON.stringify(issuer.subject.commonName ?? "?"),
    });
  }
  await checkLink(issuer, `Issuer ${JSON.stringify(issuer.subject.commonName ?? "?")}`, now);
  try {
    await verifyIssuedBy(cert, issuer);
  } catch (cause) {
    fail("AK certificate chain signature does not verify", {
      cause,
      actual: cause instanceof Error ? cause.message : undefined,
    });
  }
}
