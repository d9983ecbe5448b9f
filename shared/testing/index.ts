/**
 * Test-only helpers: where the shared vectors are, how many fuzz cases to run, a software attester for
 * protocol tests (it proves nothing), real swtpm processes and SoftHSM2 tokens. Never imported by
 * production code.
 *
 * @module
 */

export { codeOf, codeOfAsync } from "./error-code.ts";
export {
  createFakeSnpPlatform,
  type FakeSnpOptions,
  type FakeSnpPlatform,
  INTERMEDIATE_SERIAL,
} from "./fake-snp.ts";
export { createFakeTdx, type FakePlatform, type FakeTdx, fakeTdxBody } from "./fake-tdx.ts";
export {
  applyMutations,
  type ErrorClass,
  fuzzTimeout,
  isLongFuzz,
  onlyTyped,
  onlyTypedAsync,
} from "./fuzz.ts";
export { createSoftHsmToken, SOFTHSM_LIBRARY, type SoftHsmToken } from "./softhsm.ts";
export {
  type AssertionJson,
  type AssertionOverrides,
  AUTH_FLAGS,
  createSoftwareAuthenticator,
  type SoftwareAuthenticator,
  type SoftwarePasskey,
} from "./software-authenticator.ts";
export {
  createSoftwareAttester,
  DEFAULT_SOFTWARE_MEASUREMENTS,
  SOFTWARE_EVIDENCE_FORMAT,
  type SoftwareAttester,
  type SoftwareAttesterOptions,
  SoftwareEvidenceError,
  type SoftwareEvidenceErrorCode,
  type SoftwareMeasurements,
  softwareExtraData,
} from "./software-evidence.ts";
export { describeClusterStateConformance } from "./state-conformance.ts";
export {
  type StartSwtpmOptions,
  type SwtpmInstance,
  startSwtpm,
} from "./swtpm.ts";
export { readTdxVector, TDX_VECTOR, tdxCollateralFixture } from "./tdx-vectors.ts";
export { createTestOwners, type TestOwners } from "./test-owners.ts";
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
