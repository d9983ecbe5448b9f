import { beforeAll, describe, expect, test } from "bun:test";
import { readTdxVector, TDX_VECTOR } from "@asterism/testing";
import { expectCode } from "./_test-util.ts";
import {
  parseWith,
  type QeIdentity,
  QeIdentitySchema,
  type TdxTcbInfo,
  TdxTcbInfoSchema,
} from "./collateral.ts";
import { TdxVerifyError } from "./errors.ts";
import { evaluateQeIdentity, evaluateTcb } from "./tcb.ts";
import { type VerifiedQuote, verifyQuote } from "./verify.ts";

async function member<T>(file: string, key: string, schema: Parameters<typeof parseWith>[0]): Promise<T> {
  const j = JSON.parse(new TextDecoder().decode(await readTdxVector("collateral", file))) as Record<
    string,
    unknown
  >;
  return parseWith(schema, j[key], key) as T;
}
const clone = <T>(x: T): T => structuredClone(x);

let v4: VerifiedQuote;
let v5: VerifiedQuote;
let tcb4: TdxTcbInfo;
let tcb5: TdxTcbInfo;
let qeId: QeIdentity;
beforeAll(async () => {
  v4 = await verifyQuote(await readTdxVector(TDX_VECTOR.v4.quote), { now: TDX_VECTOR.v4.now });
  v5 = await verifyQuote(await readTdxVector(TDX_VECTOR.v5.quote), { now: TDX_VECTOR.v5.now });
  tcb4 = await member("sample_tcbInfo_response", "tcbInfo", TdxTcbInfoSchema);
  tcb5 = await member("sample_tcbinfo_response_v5", "tcbInfo", TdxTcbInfoSchema);
  qeId = await member("sample_qeIdentity_response", "enclaveIdentity", QeIdentitySchema);
});

/** TestVerifyUsingTcbInfoV4's edit: zero every SVN of TCB level 0. */
function zeroLevel0(t: TdxTcbInfo): TdxTcbInfo {
  const c = clone(t);
  const l0 = c.tcbLevels[0];
  if (l0 === undefined) throw new Error("no level 0");
  for (const x of [...l0.tcb.sgxtcbcomponents, ...l0.tcb.tdxtcbcomponents]) x.svn = 0;
  l0.tcb.pcesvn = 0;
  return c;
}

describe("evaluateTcb (TestVerifyUsingTcbInfoV4/V5, TestNegativeVerifyUsingTcbInfoV4)", () => {
  test("v4 as shipped: SVNs below every level → TCB_LEVEL_NOT_FOUND", async () => {
    await expectCode(() => evaluateTcb(v4.quote.body, v4.pck, tcb4), TdxVerifyError, "TCB_LEVEL_NOT_FOUND");
  });

  test("v4 with level 0 zeroed (the source test's edit) → level 0's status", () => {
    const r = evaluateTcb(v4.quote.body, v4.pck, zeroLevel0(tcb4));
    expect(r.status).toBe(tcb4.tcbLevels[0]?.tcbStatus ?? "Revoked");
    expect(r.tdxModule).toBeUndefined();
  });

  test("v5 with the v5 TCB info as-is: UpToDate, TDX module identity TDX_01 UpToDate", () => {
    const r = evaluateTcb(v5.quote.body, v5.pck, tcb5);
    expect(r.status).toBe("UpToDate");
    expect(r.tdxModule).toEqual({ id: "TDX_01", status: "UpToDate", tcbDate: "2024-11-13T00:00:00Z" });
  });

  test("FMSPC comparison is case-insensitive", () => {
    const t = zeroLevel0(tcb4);
    t.fmspc = "50806F000000";
    expect(evaluateTcb(v4.quote.body, v4.pck, t).status).toBe("UpToDate");
  });

  test.each([
    {
      name: "FMSPC 11111f000000",
      edit: (t: TdxTcbInfo) => (t.fmspc = "11111f000000"),
      code: "COLLATERAL_MISMATCH",
    },
    { name: "PCE ID 1111", edit: (t: TdxTcbInfo) => (t.pceId = "1111"), code: "COLLATERAL_MISMATCH" },
    {
      name: "tdxModule MRSIGNER differs from MRSIGNERSEAM",
      edit: (t: TdxTcbInfo) => (t.tdxModule.mrsigner = `01${"00".repeat(47)}`),
      code: "TDX_MODULE_MISMATCH",
    },
    {
      name: "tdxModule attributes differ from SEAM attributes",
      edit: (t: TdxTcbInfo) => (t.tdxModule.attributes = "0100000000000000"),
      code: "TDX_MODULE_MISMATCH",
    },
    {
      name: "level 0 status OutOfDate (not accepted by default)",
      edit: (t: TdxTcbInfo) => {
        const l = t.tcbLevels[0];
        if (l) l.tcbStatus = "OutOfDate";
      },
      code: "TCB_STATUS_UNACCEPTABLE",
    },
    {
      name: "level 0 status Revoked",
      edit: (t: TdxTcbInfo) => {
        const l = t.tcbLevels[0];
        if (l) l.tcbStatus = "Revoked";
      },
      code: "TCB_STATUS_UNACCEPTABLE",
    },
  ])("v4: $name → $code", async ({ edit, code }) => {
    const t = zeroLevel0(tcb4);
    edit(t);
    await expectCode(() => evaluateTcb(v4.quote.body, v4.pck, t), TdxVerifyError, code);
  });

  test("accepted statuses are policy; Revoked is never accepted", async () => {
    for (const s of [
      "SWHardeningNeeded",
      "ConfigurationNeeded",
      "ConfigurationAndSWHardeningNeeded",
      "OutOfDate",
    ] as const) {
      const t = zeroLevel0(tcb4);
      if (t.tcbLevels[0]) t.tcbLevels[0].tcbStatus = s;
      await expectCode(
        () => evaluateTcb(v4.quote.body, v4.pck, t),
        TdxVerifyError,
        "TCB_STATUS_UNACCEPTABLE",
      );
      expect(evaluateTcb(v4.quote.body, v4.pck, t, ["UpToDate", s]).status).toBe(s);
    }
    const t = zeroLevel0(tcb4);
    if (t.tcbLevels[0]) t.tcbLevels[0].tcbStatus = "Revoked";
    await expectCode(
      () => evaluateTcb(v4.quote.body, v4.pck, t, ["Revoked"]),
      TdxVerifyError,
      "TCB_STATUS_UNACCEPTABLE",
    );
  });

  test.each([
    {
      name: "no identity for module TDX_01",
      edit: (t: TdxTcbInfo) =>
        (t.tdxModuleIdentities = t.tdxModuleIdentities?.filter((m) => m.id !== "TDX_01")),
      code: "TDX_MODULE_MISMATCH",
    },
    {
      name: "module identity levels all above TEE_TCB_SVN[0]",
      edit: (t: TdxTcbInfo) => {
        for (const l of t.tdxModuleIdentities?.find((m) => m.id === "TDX_01")?.tcbLevels ?? [])
          l.tcb.isvsvn = 200;
      },
      code: "TCB_LEVEL_NOT_FOUND",
    },
    {
      name: "module identity level OutOfDate",
      edit: (t: TdxTcbInfo) => {
        const l = t.tdxModuleIdentities?.find((m) => m.id === "TDX_01")?.tcbLevels[0];
        if (l) l.tcbStatus = "OutOfDate";
      },
      code: "TCB_STATUS_UNACCEPTABLE",
    },
    {
      name: "module identity MRSIGNER mismatch",
      edit: (t: TdxTcbInfo) => {
        const m = t.tdxModuleIdentities?.find((x) => x.id === "TDX_01");
        if (m) m.mrsigner = `ff${"00".repeat(47)}`;
      },
      code: "TDX_MODULE_MISMATCH",
    },
  ])("v5: $name → $code", async ({ edit, code }) => {
    const t = clone(tcb5);
    edit(t);
    await expectCode(() => evaluateTcb(v5.quote.body, v5.pck, t), TdxVerifyError, code);
  });
});

describe("evaluateQeIdentity (TestVerifyUsingQeIdentityV4, TestNegativeCheckQeStatusV4)", () => {
  test("the v4 QE report matches the TD_QE identity: ISVSVN 4 → UpToDate", () => {
    expect(evaluateQeIdentity(v4.quote.qeReport, qeId)).toEqual({
      status: "UpToDate",
      tcbDate: "2023-02-15T00:00:00Z",
      isvSvn: 4,
    });
  });

  test.each([
    {
      name: "only level needs ISVSVN 10",
      edit: (q: QeIdentity) => {
        const l = q.tcbLevels[0];
        if (l) l.tcb.isvsvn = 10;
      },
      code: "QE_TCB_LEVEL_NOT_FOUND",
    },
    {
      name: "matching level OutOfDate",
      edit: (q: QeIdentity) => {
        const l = q.tcbLevels[0];
        if (l) l.tcbStatus = "OutOfDate";
      },
      code: "QE_TCB_STATUS_UNACCEPTABLE",
    },
    {
      name: "MRSIGNER differs",
      edit: (q: QeIdentity) => (q.mrsigner = "00".repeat(32)),
      code: "QE_IDENTITY_MISMATCH",
    },
    { name: "ISVPRODID differs", edit: (q: QeIdentity) => (q.isvprodid = 1), code: "QE_IDENTITY_MISMATCH" },
    {
      name: "ATTRIBUTES differ under the mask",
      edit: (q: QeIdentity) => (q.attributes = `13${"00".repeat(15)}`),
      code: "QE_IDENTITY_MISMATCH",
    },
    {
      name: "MISCSELECT differs",
      edit: (q: QeIdentity) => (q.miscselect = "01000000"),
      code: "QE_IDENTITY_MISMATCH",
    },
  ])("$name → $code", async ({ edit, code }) => {
    const q = clone(qeId);
    edit(q);
    await expectCode(() => evaluateQeIdentity(v4.quote.qeReport, q), TdxVerifyError, code);
  });

  test("attribute bits outside the mask are ignored (0x15 vs 0x11 under FB…)", () => {
    const q = clone(qeId);
    q.attributes = `15${"00".repeat(7)}ff${"00".repeat(7)}`;
    expect(evaluateQeIdentity(v4.quote.qeReport, q).status).toBe("UpToDate");
  });
});
