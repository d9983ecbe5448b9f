import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createQemuVtpmIssuer } from "@asterism/attestation";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { type ClosableTpm, openSwtpm, readPcrs, TPM_ALG } from "@asterism/tpm";
import { memoryIo } from "../../io.ts";
import { runCli } from "../../runner.ts";
import { rootCommand } from "../index.ts";

let sw: SwtpmInstance;
let tpm: ClosableTpm;
const dir = mkdtempSync(join(tmpdir(), "asterism-verify-doc-"));
const nonce = new Uint8Array(32).fill(7);
const file = (name: string, content: string | Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
let doc: string;
let policy: string;

beforeAll(async () => {
  sw = await startSwtpm();
  tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  doc = file("doc.json", await createQemuVtpmIssuer({ tpm }).issue(new Uint8Array(32).fill(1), nonce));
  const pcrs = (await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [0, 15] }])).get(TPM_ALG.SHA256);
  policy = file(
    "policy.json",
    JSON.stringify({
      variants: ["qemu-vtpm"],
      measurements: {
        "0": Buffer.from(pcrs?.get(0) ?? []).toString("hex"),
        "15": { expected: "00".repeat(32), warnOnly: false },
      },
    }),
  );
}, 20_000);

afterAll(async () => {
  await tpm?.close();
  await sw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function run(argv: string[]) {
  const io = memoryIo();
  const code = await runCli(rootCommand, ["attestation", "verify-doc", ...argv], io);
  return { code, out: io.out.join(""), err: io.err.join("") };
}
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("asterism attestation verify-doc", () => {
  test("valid document → exit 0 and an EAR-shaped result", async () => {
    const r = await run(["--doc", doc, "--policy", policy, "--nonce", hex(nonce), "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.valid).toBe(true);
    expect(out.eat_profile).toBe("tag:github.com,2023:veraison/ear");
    expect(out.submods["qemu-vtpm"]["ear.status"]).toBe("warning"); // AK on faith is reported
    expect(out.submods["qemu-vtpm"]["asterism.measurements"]["15"]).toBe("00".repeat(32));
  });

  test("text output without --nonce says the document verified", async () => {
    const r = await run(["--doc", doc, "--policy", policy]);
    expect(r.code).toBe(0);
    expect(r.out).toStartWith("valid: qemu-vtpm document verified");
  });

  test.each([
    ["wrong nonce", () => ["--nonce", "08".repeat(32)], "NONCE_MISMATCH"],
    [
      "PCR 15 expected initialized",
      () => ["--policy", file("p15.json", JSON.stringify({ "15": "df".repeat(32) }))],
      "MEASUREMENT_MISMATCH",
    ],
    [
      "policy for another variant",
      () => ["--policy", file("pv.json", JSON.stringify({ variants: ["gcp-sev-es"], measurements: {} }))],
      "VARIANT_NOT_ALLOWED",
    ],
    ["document not JSON", () => ["--doc", file("bad.json", "{")], "INVALID_SYNTAX"],
  ])("%s → exit 1 with code %s", async (_name, extra, code) => {
    const args = ["--doc", doc, "--policy", policy, "--json"];
    const over = extra();
    for (let i = 0; i < over.length; i += 2) {
      const at = args.indexOf(over[i] as string);
      if (at >= 0) args[at + 1] = over[i + 1] as string;
      else args.push(over[i] as string, over[i + 1] as string);
    }
    const r = await run(args);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ valid: false, code });
  });

  test.each([
    ["missing document file", ["--doc", join(dir, "nope.json"), "--policy", "x"]],
    ["malformed policy", ["--doc", "DOC", "--policy", "POLICY_BAD"]],
    ["bad nonce hex", ["--doc", "DOC", "--policy", "POLICY", "--nonce", "xyz"]],
    ["missing --policy", ["--doc", "DOC"]],
  ])("%s → exit 2", async (_name, argv) => {
    const bad = file("bad-policy.json", JSON.stringify({ "0": "AQID" }));
    const mapped = argv.map((a) =>
      a === "DOC" ? doc : a === "POLICY" ? policy : a === "POLICY_BAD" ? bad : a,
    );
    expect((await run(mapped)).code).toBe(2);
  });
});
