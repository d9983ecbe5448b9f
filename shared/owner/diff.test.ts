import { beforeAll, describe, expect, test } from "bun:test";
import {
  commit,
  createFixture,
  DISK,
  type Fixture,
  NONCE,
  next,
  POLICY_A,
  POLICY_B,
  registerPasskey,
} from "./_test-helpers.ts";
import { describeChange } from "./diff.ts";

let f: Fixture;
beforeAll(async () => {
  f = await createFixture(["alice", "bob"], 2);
  await commit(f, next(f, "attestation-policy", { policy: POLICY_A }), ["alice", "bob"]);
});

describe("describeChange", () => {
  test("policy: every measurement, variant and warn-only change, with its effect on trust", () => {
    const d = describeChange(f.state, next(f, "attestation-policy", { policy: POLICY_B }));
    expect(d.title).toBe("Change the attestation policy");
    expect(d.widensTrust).toBe(true);
    expect(d.items).toEqual([
      { what: "measurement 4", before: "44".repeat(32), after: "45".repeat(32), effect: "widens" },
      {
        what: "measurement 9",
        before: "99".repeat(32),
        after: `${"99".repeat(32)} (warn only)`,
        effect: "widens",
      },
      {
        what: "measurement 12",
        before: `${"12".repeat(32)} (warn only)`,
        after: undefined,
        effect: "neutral",
      },
      { what: "accepted variants", before: "qemu-vtpm", after: "qemu-vtpm, azure-sev-snp", effect: "widens" },
    ]);
  });
  test("policy: SNP minimums raised narrow trust, lowered widen it", () => {
    const withSnp = (bl: number) => ({
      ...POLICY_A,
      snp: { minimumTcb: { bootloader: bl, tee: 0, snp: 8, microcode: 115 } },
    });
    const g = { ...f, state: { ...f.state, policy: { ...f.state.policy!, json: withSnp(3) } } };
    expect(describeChange(g.state, next(f, "attestation-policy", { policy: withSnp(4) })).items).toEqual([
      { what: "SNP minimumTcb.bootloader", before: "3", after: "4", effect: "narrows" },
    ]);
    expect(
      describeChange(g.state, next(f, "attestation-policy", { policy: withSnp(2) })).items[0]?.effect,
    ).toBe("widens");
  });
  test("owners: an added owner widens, a lowered threshold widens", async () => {
    const dave = await registerPasskey(f.auth, "dave", "dave's YubiKey");
    const d = describeChange(
      f.state,
      next(f, "owner-change", {
        owners: [...f.owners, { name: "dave", credentials: [dave.credential] }],
        threshold: 1,
      }),
    );
    expect(d.items).toEqual([
      { what: "owner dave", after: "1 passkey(s): dave's YubiKey", effect: "widens" },
      { what: "approvals required", before: "2", after: "1 of 3", effect: "widens" },
    ]);
  });
  test("revocation narrows, recovery widens", () => {
    expect(
      describeChange(f.state, next(f, "node-revocation", { nodes: ["w-1"], reason: "lost" })).widensTrust,
    ).toBe(false);
    expect(
      describeChange(
        f.state,
        next(f, "recovery", { node: "cp-0", disk: DISK, nonce: NONCE, reason: "outage" }),
      ).widensTrust,
    ).toBe(true);
  });
});
