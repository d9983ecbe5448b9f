/**
 * Test-only helpers: where the shared vectors are, how many fuzz cases to run, and (added by the TPM work)
 * real swtpm processes, SoftHSM2 tokens, the cluster-state conformance suite. Never imported by production code.
 *
 * @module
 */
export {
  createFakeSnpPlatform,
  type FakeSnpOptions,
  type FakeSnpPlatform,
  INTERMEDIATE_SERIAL,
} from "./fake-snp.ts";
export { createFakeTdx, type FakePlatform, type FakeTdx, fakeTdxBody } from "./fake-tdx.ts";
export { createSoftHsmToken, SOFTHSM_LIBRARY, type SoftHsmToken } from "./softhsm.ts";
export { describeClusterStateConformance } from "./state-conformance.ts";
export { readTdxVector, TDX_VECTOR, tdxCollateralFixture } from "./tdx-vectors.ts";
export {
  buildTestCertificate,
  buildTestCrl,
  createTestKey,
  der,
  derIa5,
  derInteger,
  derOid,
  type TestCertificateOptions,
  type TestExtension,
  type TestKey,
} from "./test-pki.ts";
export { fuzzRuns, readTestdata, repoRoot, testdataDir, testdataPath } from "./testdata.ts";
