import { describe, expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import { codeOfAsync as codeOf } from "@asterism/testing";
import {
  ATLS_FRAME_HEADER_BYTES,
  ATLS_FRAME_TYPE,
  decodeClientEvidence,
  decodeVerdict,
  encodeClientEvidence,
  encodeVerdict,
  maxEvidenceFrameBody,
  type ReadFrameOptions,
  readFrame,
} from "./frames.ts";

const OID = "1.3.9900.5.1";
const evidenceOpts: ReadFrameOptions = {
  type: ATLS_FRAME_TYPE.CLIENT_EVIDENCE,
  maxBody: maxEvidenceFrameBody(1024),
  timeoutMs: 200,
  tooLargeCode: "EVIDENCE_TOO_LARGE",
  what: "client evidence",
  trailing: "reject",
};

describe("frame encoding (docs/atls.md §4)", () => {
  test("client evidence is header ‖ oid ‖ document, big-endian", () => {
    const f = encodeClientEvidence(OID, new Uint8Array([0xaa, 0xbb]));
    // "ATLS", version 1, type 1, body length 1 + 12 + 4 + 2 = 19
    expect(Buffer.from(f.subarray(0, ATLS_FRAME_HEADER_BYTES)).toString("hex")).toBe("41544c53010100000013");
    expect(f[10]).toBe(12);
    expect(new TextDecoder().decode(f.subarray(11, 23))).toBe(OID);
    expect(Buffer.from(f.subarray(23)).toString("hex")).toBe("00000002aabb");
    expect(decodeClientEvidence(f.subarray(ATLS_FRAME_HEADER_BYTES))).toEqual({
      oid: OID,
      document: new Uint8Array([0xaa, 0xbb]),
    });
  });

  test("verdicts round-trip", () => {
    const ok = encodeVerdict({ accepted: true });
    expect(Buffer.from(ok).toString("hex")).toBe("41544c5301020000000200" + "00");
    expect(decodeVerdict(ok.subarray(ATLS_FRAME_HEADER_BYTES))).toEqual({ accepted: true });
    const no = encodeVerdict({ accepted: false, code: "EVIDENCE_REJECTED" });
    expect(decodeVerdict(no.subarray(ATLS_FRAME_HEADER_BYTES))).toEqual({
      accepted: false,
      code: "EVIDENCE_REJECTED",
    });
  });

  test.each([
    { name: "empty oid", body: new Uint8Array([0, 0, 0, 0, 0]) },
    { name: "non-ASCII oid", body: new Uint8Array([1, 0xff, 0, 0, 0, 0]) },
    { name: "truncated document", body: new Uint8Array([1, 0x31, 0, 0, 0, 9, 1]) },
    { name: "trailing bytes", body: new Uint8Array([1, 0x31, 0, 0, 0, 0, 7]) },
  ])("rejects a client evidence body with $name as PROTOCOL_VIOLATION", ({ body }) => {
    expect(() => decodeClientEvidence(body)).toThrow(expect.objectContaining({ code: "PROTOCOL_VIOLATION" }));
  });
});

describe("readFrame", () => {
  test("reads a frame delivered one byte at a time", async () => {
    const s = new PassThrough();
    const f = encodeClientEvidence(OID, new Uint8Array(100).fill(7));
    const p = readFrame(s, evidenceOpts);
    for (const b of f) s.write(Buffer.from([b]));
    expect(decodeClientEvidence(await p).document.length).toBe(100);
  });

  test.each([
    {
      name: "plain HTTP instead of a frame",
      bytes: new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"),
      wantCode: "PROTOCOL_VIOLATION",
    },
    {
      name: "a verdict where evidence is due",
      bytes: encodeVerdict({ accepted: true }),
      wantCode: "PROTOCOL_VIOLATION",
    },
    {
      name: "wrong version",
      bytes: new Uint8Array([0x41, 0x54, 0x4c, 0x53, 2, 1, 0, 0, 0, 0]),
      wantCode: "PROTOCOL_VIOLATION",
    },
    {
      name: "an announced body over the bound",
      bytes: new Uint8Array([0x41, 0x54, 0x4c, 0x53, 1, 1, 0x7f, 0, 0, 0]),
      wantCode: "EVIDENCE_TOO_LARGE",
    },
    {
      name: "data pipelined after the frame",
      bytes: new Uint8Array([
        ...encodeClientEvidence(OID, new Uint8Array(3)),
        ...new TextEncoder().encode("GET /"),
      ]),
      wantCode: "UNEXPECTED_DATA",
    },
  ])("rejects $name", async ({ bytes, wantCode }) => {
    const s = new PassThrough();
    const p = readFrame(s, evidenceOpts);
    s.write(Buffer.from(bytes));
    expect(await codeOf(p)).toBe(wantCode);
  });

  test("times out on a silent peer (ATTESTATION_TIMEOUT)", async () => {
    const s = new PassThrough();
    const p = readFrame(s, { ...evidenceOpts, timeoutMs: 50 });
    s.write(Buffer.from([0x41, 0x54]));
    expect(await codeOf(p)).toBe("ATTESTATION_TIMEOUT");
  });

  test("reports a peer that hangs up mid-frame (CONNECTION_CLOSED)", async () => {
    const s = new PassThrough();
    const p = readFrame(s, evidenceOpts);
    s.end(Buffer.from([0x41, 0x54, 0x4c]));
    expect(await codeOf(p)).toBe("CONNECTION_CLOSED");
  });

  test("keeps bytes after the frame for the next reader when asked", async () => {
    const s = new PassThrough();
    const p = readFrame(s, {
      type: ATLS_FRAME_TYPE.SERVER_VERDICT,
      maxBody: 66,
      timeoutMs: 200,
      tooLargeCode: "PROTOCOL_VIOLATION",
      what: "server verdict",
      trailing: "keep",
    });
    s.write(Buffer.from([...encodeVerdict({ accepted: true }), 0x48, 0x49]));
    expect(decodeVerdict(await p)).toEqual({ accepted: true });
    expect(s.read()).toEqual(Buffer.from("HI"));
  });
});
