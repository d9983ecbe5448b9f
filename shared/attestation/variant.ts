/**
 * Attestation variants and the X.509 extension OIDs that carry their documents in attested TLS.
 * Names and OIDs are Constellation's (reference/constellation.md §4), so documents stay recognisable to
 * migrating users; TDX variants share the table.
 */
export const VARIANTS = {
  "qemu-vtpm": { oid: "1.3.9900.5.1", measurementBytes: 32 },
  "qemu-tdx": { oid: "1.3.9900.5.99", measurementBytes: 48 },
  "aws-nitro-tpm": { oid: "1.3.9900.2.1", measurementBytes: 32 },
  "aws-sev-snp": { oid: "1.3.9900.2.2", measurementBytes: 32 },
  "gcp-sev-es": { oid: "1.3.9900.3.1", measurementBytes: 32 },
  "gcp-sev-snp": { oid: "1.3.9900.3.2", measurementBytes: 32 },
  "azure-sev-snp": { oid: "1.3.9900.4.1", measurementBytes: 32 },
  "azure-tdx": { oid: "1.3.9900.4.3", measurementBytes: 48 },
} as const;

/** A supported attestation variant name. */
export type Variant = keyof typeof VARIANTS;

/** The variant whose aTLS extension has this OID, if any. */
export function variantByOid(oid: string): Variant | undefined {
  for (const [name, v] of Object.entries(VARIANTS)) if (v.oid === oid) return name as Variant;
  return undefined;
}

/** True for a known variant name. */
export function isVariant(name: string): name is Variant {
  return Object.hasOwn(VARIANTS, name);
}
