/**
 * Byte primitives: bounds-checked reader and writer (big and little endian), strict hex/base64/base64url,
 * constant-time equality. Everything that touches untrusted bytes starts here.
 *
 * @module
 */
export { bytesEqual, concat, constantTimeEqual, isAllZero, wipe } from "./compare.ts";
export {
  fromBase64,
  fromBase64Url,
  fromHex,
  fromUtf8,
  toBase64,
  toBase64Url,
  toHex,
  utf8,
} from "./encoding.ts";
export { BytesError, type BytesErrorCode } from "./errors.ts";
export { ByteReader } from "./reader.ts";
export { ByteWriter } from "./writer.ts";
