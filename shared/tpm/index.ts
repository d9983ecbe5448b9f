/** @module */
export * from "./attestation.ts";
export { createTpm } from "./execute.ts";
export { readPcrs, extendPcr } from "./commands/pcr.ts";
export { flush } from "./commands/object.ts";
export { getRandom } from "./commands/random.ts";
export { TPM_ALG } from "./constants.ts";
