/**
 * TPM 2.0 in TypeScript: structures (TPM 2.0 Library Part 2), commands (Part 3), transports (swtpm TCP,
 * Linux /dev/tpmrm0 and /dev/tpm0), pure quote verification, and TCG event logs.
 *
 * Layers, kept apart as house style §2 asks:
 * - parse: `parseTpmtPublic`, `parseTpmsAttest`, `parseEventLog` and the field tables (throw CodecError);
 * - verify (authenticity): `verifyQuote` (throws QuoteVerificationError);
 * - replay: `replayEventLog` / `matchEventLog` (throw EventLogError). PCR *policy* lives in
 *   `@asterism/attestation`.
 *
 * @example
 * import { openSwtpm, createAttestationKey, quote, readPcrs, verifyQuote, flush, TPM_ALG } from "@asterism/tpm";
 * const tpm = await openSwtpm({ host: "127.0.0.1", port, ctrlPort });
 * const ak = await createAttestationKey(tpm, { alg: "ecc" });
 * try {
 *   const sel = [{ hash: TPM_ALG.SHA256, pcrSelect: [0, 1, 2, 3, 4, 5, 6, 7] }];
 *   const q = await quote(tpm, { ak, pcrs: sel, qualifyingData: nonce });
 *   const pcrs = await readPcrs(tpm, sel);
 *   await verifyQuote({ akPublic: ak.public, attest: q.attest, signature: q.signature, nonce, pcrs });
 * } finally {
 *   await flush(tpm, ak.handle);
 *   await tpm.close();
 * }
 *
 * @module
 */

// High-level operations.
export {
  ASTERISM_AK_HANDLE,
  activateCredential,
  type ClosableTpm,
  type Credential,
  createAttestationKey,
  createEk,
  type KeyAlgorithm,
  makeCredential,
  openSwtpm,
  persistentAttestationKey,
  type Quote,
  quote,
  quoteWithPcrs,
} from "./attestation.ts";
// Commands (typed objects) and helpers.
export {
  getCapability,
  getTpmProperty,
  TPM_PT_NV_BUFFER_MAX,
  TPM2_GetCapability,
  TPMS_CAPABILITY_DATA,
} from "./commands/capability.ts";
export {
  TPM2_ActivateCredential,
  TPM2_MakeCredential,
  TPM2_PolicySecret,
  TPM2_StartAuthSession,
} from "./commands/credential.ts";
export {
  EK_CERT_NV_INDEX_ECC,
  EK_CERT_NV_INDEX_ECC_P384,
  EK_CERT_NV_INDEX_RSA,
  nvRead,
  nvReadPublic,
  TPM2_NV_Read,
  TPM2_NV_ReadPublic,
} from "./commands/nv.ts";
export {
  createPrimary,
  evictControl,
  flush,
  type LoadedObject,
  readPublic,
  TPM2_CreatePrimary,
  TPM2_EvictControl,
  TPM2_FlushContext,
  TPM2_ReadPublic,
  withObject,
} from "./commands/object.ts";
export {
  extendPcr,
  type PcrBanks,
  pcrEvent,
  readPcrs,
  TPM2_PCR_Event,
  TPM2_PCR_Extend,
  TPM2_PCR_Read,
} from "./commands/pcr.ts";
export { SIG_SCHEME_NULL, TPM2_Quote, TPMT_SIG_SCHEME } from "./commands/quote.ts";
export { getRandom, TPM2_GetRandom } from "./commands/random.ts";
export { startup, TPM2_Startup } from "./commands/startup.ts";
// Constants, errors, response codes.
export {
  TPM_ALG,
  TPM_CAP,
  TPM_CC,
  TPM_ECC_CURVE,
  TPM_GENERATED_VALUE,
  TPM_RH,
  TPM_SE,
  TPM_ST,
  TPM_SU,
} from "./constants.ts";
export { makeCredentialSoftware } from "./credential.ts";
export {
  EventLogError,
  type EventLogErrorCode,
  type QuoteErrorCode,
  QuoteVerificationError,
  TpmError,
  type TpmErrorCode,
  TransportError,
  type TransportErrorCode,
} from "./errors.ts";
// Event logs (TCG PC Client PFP, TDX CCEL).
export {
  type ACPI_CCEL,
  findDuplicateSeparators,
  matchCcel,
  parseCcel,
  parseCcelTable,
  type RtmrReplay,
  replayCcel,
} from "./eventlog/ccel.ts";
export { EV, eventTypeName } from "./eventlog/event-types.ts";
export {
  type EventLog,
  MAX_EVENTS,
  MAX_LOG_SIZE,
  type ParseEventLogOptions,
  parseEventLog,
  type TcgEvent,
} from "./eventlog/parse.ts";
export {
  type EventLogMatch,
  matchEventLog,
  type Replay,
  type ReplayedPcr,
  type ReplayOptions,
  replayEventLog,
} from "./eventlog/replay.ts";
export { type EventInput, EventLogWriter, measureEvent } from "./eventlog/writer.ts";
export {
  type CommandSpec,
  command,
  createTpm,
  execute,
  type Invocation,
  marshalCommand,
  type Result,
  type Session,
  type Tpm,
  unmarshalResponse,
} from "./execute.ts";
export { digest, HASHES, type HashInfo, hashInfo } from "./hash.ts";
export { kdfa, kdfe } from "./kdf.ts";
export { objectName } from "./name.ts";
export { type PcrBanksJson, PcrBanksJsonSchema, pcrBanksFromJson, pcrBanksToJson } from "./pcr-json.ts";
export { type DecodedRc, decodeRc, describeRc, isTpmRc, TPM_RC } from "./rc.ts";
// Structures (Part 2 field tables).
export {
  MAX_ATTEST_SIZE,
  TPM2B_ATTEST,
  TPMS_ATTEST,
  TPMS_QUOTE_INFO,
} from "./structures/attest.ts";
export {
  type PcrSelection,
  TPM2B_DATA,
  TPM2B_DIGEST,
  TPM2B_NAME,
  TPML_DIGEST,
  TPML_DIGEST_VALUES,
  TPML_PCR_SELECTION,
  TPMS_CLOCK_INFO,
  TPMS_PCR_SELECTION,
  TPMT_HA,
} from "./structures/basic.ts";
export { TPM2B_NV_PUBLIC, TPMS_NV_PUBLIC } from "./structures/nv.ts";
export {
  eccParams,
  rsaParams,
  TPM2B_PUBLIC,
  TPMA_OBJECT,
  TPMS_ECC_PARMS,
  TPMS_RSA_PARMS,
  TPMT_PUBLIC,
} from "./structures/public.ts";
export { TPMT_SIGNATURE } from "./structures/signature.ts";
export {
  AK_TEMPLATE_ECC_P256,
  AK_TEMPLATE_RSA_2048,
  EK_AUTH_POLICY_SHA256,
  EK_TEMPLATE_ECC_P256,
  EK_TEMPLATE_RSA_2048,
} from "./templates.ts";
// Transports.
export {
  deviceTransport,
  openTpmDevice,
  TPM_DEVICE,
  TPMRM_DEVICE,
  type TpmDeviceFile,
} from "./transport/device.ts";
export { serializeTransport } from "./transport/serialize.ts";
export { connectTcp, streamTransport, type TcpOptions } from "./transport/socket.ts";
export {
  connectSwtpm,
  SWTPM_CTRL,
  type SwtpmAddress,
  type SwtpmOptions,
  swtpmCtrl,
} from "./transport/swtpm.ts";
export { type ClosableTpmTransport, MAX_RESPONSE_SIZE, type TpmTransport } from "./transport/types.ts";
// Verification (pure).
export { tpmPublicToCryptoKey, tpmPublicToSpki } from "./verify/crypto-key.ts";
export {
  computePcrDigest,
  parseTpmsAttest,
  parseTpmtPublic,
  type VerifiedQuote,
  type VerifyQuoteOptions,
  verifyQuote,
} from "./verify/quote.ts";
