/**
 * The wire contracts of the node lifecycle (docs/lifecycle.md §3) as valibot schemas, shared by the services
 * (`apps/bootstrapper`, `apps/join-service`, `apps/verification-service`) and their clients
 * (`@asterism/lifecycle`, the CLI). JSON over HTTP; binary fields are padded standard base64 and decode to
 * `Uint8Array` in the schemas' output; errors are `{"error": {"code", "message"}}`.
 *
 * @example
 * import { JoinTicketSchema } from "@asterism/api";
 * const ticket = v.parse(JoinTicketSchema, await res.json()); // ticket.diskKey: Uint8Array(32)
 *
 * @module
 */
export {
  base64Bytes,
  DiskUuidSchema,
  hexString,
  MasterSecretWireSchema,
} from "./encoding.ts";
export { type ErrorBody, ErrorBodySchema, errorBody } from "./errors.ts";
export {
  type InitRequest,
  type InitRequestJson,
  InitRequestSchema,
  type InitResponse,
  InitResponseSchema,
  type JoinPolicyWire,
  JoinPolicyWireSchema,
  MAX_INIT_SECRET_BYTES,
  MAX_JOIN_POLICY_MEASUREMENTS,
  MEASUREMENT_SALT_BYTES,
} from "./init.ts";
export {
  ControlPlaneFileWireSchema,
  type JoinRequest,
  type JoinRequestJson,
  JoinRequestSchema,
  type JoinTicket,
  type JoinTicketJson,
  JoinTicketSchema,
  KEY_BYTES,
  type RejoinRequest,
  RejoinRequestSchema,
  type RejoinTicket,
  type RejoinTicketJson,
  RejoinTicketSchema,
} from "./join.ts";
export { type OwnerPinWire, OwnerPinWireSchema } from "./owner.ts";
export { API_PATHS, MAX_REQUEST_BYTES } from "./paths.ts";
export {
  MAX_RECOVER_REQUEST_BYTES,
  MAX_RECOVERY_APPROVAL_ENTRIES,
  type RecoverRequest,
  RecoverRequestSchema,
  type RecoverResponse,
  RecoverResponseSchema,
  type RecoveryChallenge,
  RecoveryChallengeSchema,
} from "./recover.ts";
export {
  AttestRequestSchema,
  type BatchedVerifyResponse,
  BatchedVerifyResponseSchema,
  decodeNonce,
  VERIFY_NONCE_BYTES,
  VERIFY_PURPOSE,
  VERIFY_USER_DATA,
  type VerifyResponse,
  VerifyResponseSchema,
} from "./verify.ts";
