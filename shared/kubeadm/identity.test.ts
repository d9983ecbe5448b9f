import { describe, expect, test } from "bun:test";
import { codeOf } from "@asterism/testing";
import { checkAttestedIdentity } from "./identity.ts";

describe("checkAttestedIdentity refuses malformed identities with IDENTITY_INVALID (fuzz regressions)", () => {
  // Found by shared/kubeadm/identity.fuzz.test.ts (seed 1210639981): formatting the error called String()
  // on the value, and `{toString: null}` made that a TypeError instead of the coded refusal.
  const hostile = { toString: null };
  const throwing = {
    toString() {
      throw new Error("boom");
    },
  };
  test.each([
    { name: "nodeName {toString: null}", id: { nodeName: hostile, ips: [], role: "worker" } },
    { name: "nodeName with a throwing toString", id: { nodeName: throwing, ips: [], role: "worker" } },
    { name: "nodeName a symbol", id: { nodeName: Symbol("x"), ips: [], role: "worker" } },
    { name: "role {toString: null}", id: { nodeName: "worker-1", ips: [], role: hostile } },
    { name: "an IP {toString: null}", id: { nodeName: "worker-1", ips: [hostile], role: "worker" } },
    { name: "an IP a symbol", id: { nodeName: "worker-1", ips: [Symbol("x")], role: "worker" } },
  ])("$name", ({ id }) => {
    expect(codeOf(() => checkAttestedIdentity(id as never))).toBe("IDENTITY_INVALID");
  });

  test("a well-formed identity passes, IPs canonical", () => {
    expect(checkAttestedIdentity({ nodeName: "worker-1", ips: ["10.0.0.5"], role: "worker" }).ips).toEqual([
      "10.0.0.5",
    ]);
  });
});
