/**
 * Platform-neutral attestation: variants and their OIDs, the Issuer/Validator contracts every platform
 * implements, and (to come) the document envelope, measurements policy and verification results.
 *
 * @module
 */
export type { Issuer, Validator, VerifiedClaims } from "./interfaces.ts";
export { isVariant, VARIANTS, type Variant, variantByOid } from "./variant.ts";
