/**
 * Test-only helpers: where the shared vectors are, how many fuzz cases to run, and (added by the TPM work)
 * real swtpm processes, SoftHSM2 tokens, the cluster-state conformance suite. Never imported by production code.
 *
 * @module
 */
export { createSoftHsmToken, SOFTHSM_LIBRARY, type SoftHsmToken } from "./softhsm.ts";
export { describeClusterStateConformance } from "./state-conformance.ts";
export { fuzzRuns, readTestdata, repoRoot, testdataDir, testdataPath } from "./testdata.ts";
