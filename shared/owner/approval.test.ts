import { beforeAll, describe, expect, test } from "bun:test";
import { fromBase64Url, toBase64Url } from "@asterism/bytes";
import {
  type AssertionOverrides,
  AUTH_FLAGS,
  codeOfAsync,
  createSoftwareAuthenticator,
} from "@asterism/testing";
import { CLUSTER_ID, createFixture, type Fixture, key, NOW, ORIGIN, POLICY_A, RP } from "./_test-helpers.ts";
import { type Approval, approvalFromAssertion, originAllowed, verifyApproval } from "./approval.ts";
import { type Change, changeDigest, createChange } from "./change.ts";
import type { OwnerParseError } from "./errors.ts";
import { parseAssertionAuthenticatorData } from "./webauthn-data.ts";

let f: Fixture;
let change: Change;
let other: Change;
beforeAll(async () => {
  f = await createFixture(["alice"], 1);
  change = createChange({
    clusterId: CLUSTER_ID,
    head: f.state.head,
    kind: "attestation-policy",
    payload: { policy: POLICY_A },
    now: NOW,
  });
  other = createChange({
    clusterId: CLUSTER_ID,
    head: f.state.head,
    kind: "node-revocation",
    payload: { nodes: ["worker-1"], reason: "decommissioned" },
    now: NOW,
  });
});

const alice = () => f.owners[0]!.credentials[0]!;
const check = (counter = f.state.counters.get(alice().id) ?? 0) => ({
  challenge: changeDigest(change),
  credential: alice(),
  rp: RP,
  counter,
});
const sign = (o: AssertionOverrides = {}, c: Change = change): Approval =>
  approvalFromAssertion(f.auth.assert(key(f, "alice"), changeDigest(c), o));

describe("verifyApproval", () => {
  test("a fresh assertion over the change digest verifies", async () => {
    const r = await verifyApproval(sign(), check());
    expect(r.credentialId).toBe(alice().id);
    expect(r.signCount).toBe(key(f, "alice").counter);
  });

  const cases: { name: string; make: () => Approval; counter?: number; wantCode: string }[] = [
    { name: "approval for a different change", make: () => sign({}, other), wantCode: "CHALLENGE_MISMATCH" },
    {
      name: "registration ceremony type",
      make: () => sign({ type: "webauthn.create" }),
      wantCode: "WRONG_CEREMONY",
    },
    {
      name: "foreign origin",
      make: () => sign({ origin: "https://evil.example" }),
      wantCode: "ORIGIN_NOT_ALLOWED",
    },
    { name: "cross-origin iframe", make: () => sign({ crossOrigin: true }), wantCode: "ORIGIN_NOT_ALLOWED" },
    {
      name: "127.0.0.1 origin",
      make: () => sign({ origin: "http://127.0.0.1:41234" }),
      wantCode: "ORIGIN_NOT_ALLOWED",
    },
    { name: "other RP ID", make: () => sign({ rpId: "evil.example" }), wantCode: "RP_ID_MISMATCH" },
    {
      name: "no user verification",
      make: () => sign({ flags: AUTH_FLAGS.UP }),
      wantCode: "USER_NOT_VERIFIED",
    },
    { name: "no user presence", make: () => sign({ flags: AUTH_FLAGS.UV }), wantCode: "USER_NOT_VERIFIED" },
    {
      name: "counter not increased (replay)",
      make: () => sign({ counter: 5 }),
      counter: 5,
      wantCode: "COUNTER_REPLAY",
    },
    {
      name: "counter went back (clone)",
      make: () => sign({ counter: 3 }),
      counter: 5,
      wantCode: "COUNTER_REPLAY",
    },
    {
      name: "tampered signature",
      make: () => {
        const a = sign();
        const s = fromBase64Url(a.signature);
        s[s.length - 1]! ^= 1;
        return { ...a, signature: toBase64Url(s) };
      },
      wantCode: "SIGNATURE_INVALID",
    },
    {
      name: "signed by another authenticator's key",
      make: () => {
        const mallory = createSoftwareAuthenticator({ rpId: "localhost", origin: ORIGIN });
        const { passkey } = mallory.register({ challenge: "AAAA" });
        const a = approvalFromAssertion(mallory.assert(passkey, changeDigest(change), { counter: 1000 }));
        return { ...a, credentialId: alice().id };
      },
      wantCode: "SIGNATURE_INVALID",
    },
    {
      // @simplewebauthn/server alone accepts both (a malleable encoding of the same signature).
      name: "DER SEQUENCE tag altered",
      make: () => {
        const a = sign();
        const s = fromBase64Url(a.signature);
        s[0]! ^= 0x80;
        return { ...a, signature: toBase64Url(s) };
      },
      wantCode: "INVALID_SIGNATURE_ENCODING",
    },
    {
      name: "DER SEQUENCE length altered",
      make: () => {
        const a = sign();
        const s = fromBase64Url(a.signature);
        s[1]! -= 4;
        return { ...a, signature: toBase64Url(s) };
      },
      wantCode: "INVALID_SIGNATURE_ENCODING",
    },
    {
      name: "DER integer with a superfluous leading zero",
      make: () => {
        const a = sign();
        const s = fromBase64Url(a.signature);
        const r = s.subarray(2, 4 + s[3]!);
        const rest = s.subarray(4 + s[3]!);
        const padded = Uint8Array.of(0x30, s[1]! + 1, 0x02, r[1]! + 1, 0, ...r.subarray(2), ...rest);
        return { ...a, signature: toBase64Url(padded) };
      },
      wantCode: "INVALID_SIGNATURE_ENCODING",
    },
    {
      name: "authenticator data truncated",
      make: () => ({ ...sign(), authenticatorData: toBase64Url(new Uint8Array(36)) }),
      wantCode: "INVALID_AUTHENTICATOR_DATA",
    },
    {
      name: "another credential ID",
      make: () => ({ ...sign(), credentialId: "AAAAAAAAAAAAAAAAAAAAAA" }),
      wantCode: "UNKNOWN_CREDENTIAL",
    },
  ];
  test.each(cases)("$name → $wantCode", async ({ make, counter, wantCode }) => {
    expect(await codeOfAsync(verifyApproval(make(), check(counter)))).toBe(wantCode);
  });

  test("authenticators that always report counter 0 are accepted while the stored counter is 0", async () => {
    expect((await verifyApproval(sign({ counter: 0 }), check(0))).signCount).toBe(0);
    expect(await codeOfAsync(verifyApproval(sign({ counter: 0 }), check(1)))).toBe("COUNTER_REPLAY");
  });
});

describe("authenticator data (WebAuthn §6.1)", () => {
  const base = (flags: number, extra = 0) => {
    const b = new Uint8Array(37 + extra);
    b[32] = flags;
    return b;
  };
  test.each([
    ["AT set in an assertion", base(AUTH_FLAGS.UP | AUTH_FLAGS.AT)],
    ["trailing bytes without ED", base(AUTH_FLAGS.UP, 3)],
    ["36 bytes", new Uint8Array(36)],
  ])("%s → INVALID_AUTHENTICATOR_DATA", (_n, bytes) => {
    try {
      parseAssertionAuthenticatorData(bytes);
      throw new Error("accepted");
    } catch (err) {
      expect((err as OwnerParseError).code).toBe("INVALID_AUTHENTICATOR_DATA");
    }
  });
  test("extensions allowed when ED is set; RFU bits ignored", () => {
    const d = parseAssertionAuthenticatorData(base(AUTH_FLAGS.UP | AUTH_FLAGS.UV | AUTH_FLAGS.ED | 0x22, 4));
    expect(d).toMatchObject({ userPresent: true, userVerified: true, signCount: 0 });
  });
});

describe("originAllowed", () => {
  test.each([
    [RP, "http://localhost:8080", true],
    [RP, "http://localhost", true],
    [RP, "http://localhost:0", false],
    [RP, "https://localhost:8080", false],
    [RP, "http://localhost.evil.example:8080", false],
    [
      { id: "console.example.com", origins: ["https://console.example.com"] },
      "https://console.example.com",
      true,
    ],
    [
      { id: "console.example.com", origins: ["https://console.example.com"] },
      "https://console.example.com:8443",
      false,
    ],
    [{ id: "localhost", origins: ["http://localhost:9000"] }, "http://localhost:9001", false],
  ])("%o %s → %p", (rp, origin, want) => {
    expect(originAllowed(rp, origin)).toBe(want);
  });
});

test("the pinned clock is used", () => {
  expect(change.createdAt).toBe("2026-11-25T10:00:00Z");
});
