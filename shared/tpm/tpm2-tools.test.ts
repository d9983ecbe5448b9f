/**
 * Cross-checks with tpm2-tools in both directions. swtpm serves one client at a time, so our transport is
 * closed before each tpm2-tools run and reopened (without power-on) afterwards; tpm2-tools has no
 * resource manager here, so every run ends with `tpm2_flushcontext -t -s` equivalents.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromHex, toHex } from "@asterism/bytes";
import { decode, encode } from "@asterism/codec";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import {
  createAttestationKey,
  createEk,
  flush,
  nvRead,
  openSwtpm,
  parseTpmtPublic,
  quote,
  readPcrs,
  TPM_ALG,
  TPM2B_PUBLIC,
  verifyQuote,
} from "./index.ts";

let sw: SwtpmInstance;
let dir: string;

beforeAll(async () => {
  sw = await startSwtpm();
  dir = await mkdtemp(join(tmpdir(), "asterism-tpm2tools-"));
  // Power on and TPM2_Startup through our transport; tpm2-tools' swtpm TCTI does neither.
  const tpm = await openSwtpm(sw);
  await tpm.close();
});

afterAll(async () => {
  await sw?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function tools(...args: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(args, {
    cwd: dir,
    env: { ...process.env, TPM2TOOLS_TCTI: sw.tcti },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, out: out + err };
}

async function ok(...args: string[]): Promise<string> {
  const r = await tools(...args);
  if (r.code !== 0) throw new Error(`${args.join(" ")} failed (${r.code}): ${r.out}`);
  return r.out;
}

const file = async (name: string) => new Uint8Array(await Bun.file(join(dir, name)).arrayBuffer());

describe("tpm2-tools cross-checks", () => {
  test.each([
    ["rsa", "rsassa"],
    ["ecc", "ecdsa"],
  ])("a tpm2_quote (%s/%s) verifies with verifyQuote", async (alg, scheme) => {
    await ok("tpm2_createek", "-c", "ek.ctx", "-G", alg, "-u", "ek.pub");
    await ok("tpm2_flushcontext", "-t");
    await ok(
      "tpm2_createak",
      "-C",
      "ek.ctx",
      "-c",
      "ak.ctx",
      "-G",
      alg,
      "-g",
      "sha256",
      "-s",
      scheme,
      "-u",
      "ak.pub",
      "-f",
      "tss",
    );
    await ok("tpm2_flushcontext", "-t");
    await ok("tpm2_flushcontext", "-s");
    await ok("tpm2_pcrextend", `16:sha256=${"ab".repeat(32)}`);
    const nonce = fromHex("c0ffee0123");
    await ok(
      "tpm2_quote",
      "-c",
      "ak.ctx",
      "-l",
      "sha256:0,1,16+sha1:16",
      "-q",
      toHex(nonce),
      "-m",
      "q.msg",
      "-s",
      "q.sig",
      "-g",
      "sha256",
    );
    await ok("tpm2_flushcontext", "-t");

    const akPublic = decode(TPM2B_PUBLIC, await file("ak.pub"));
    const tpm = await openSwtpm({ ...sw, powerOn: false });
    try {
      const pcrs = await readPcrs(tpm, [
        { hash: TPM_ALG.SHA256, pcrSelect: [0, 1, 16] },
        { hash: TPM_ALG.SHA1, pcrSelect: [16] },
      ]);
      const attest = await file("q.msg");
      const signature = await file("q.sig");
      const v = await verifyQuote({ akPublic, attest, signature, nonce, pcrs });
      // tpm2_createek uses the EK Credential Profile template too: same seed, same template, same key.
      const ek = await createEk(tpm, alg as "rsa" | "ecc");
      await flush(tpm, ek.handle);
      expect(ek.public).toEqual(decode(TPM2B_PUBLIC, await file("ek.pub")));
      expect(v.signatureHash.name).toBe("sha256");
      await expect(
        verifyQuote({ akPublic, attest, signature, nonce: fromHex("c0ffee0124"), pcrs }),
      ).rejects.toMatchObject({
        code: "NONCE_MISMATCH",
      });
    } finally {
      await tpm.close();
    }
  });

  test.each(["rsa", "ecc"] as const)("our %s quote verifies with tpm2_checkquote", async (alg) => {
    const nonce = fromHex("0badc0de");
    const tpm = await openSwtpm({ ...sw, powerOn: false });
    try {
      const ak = await createAttestationKey(tpm, { alg });
      try {
        const q = await quote(tpm, {
          ak,
          pcrs: [{ hash: TPM_ALG.SHA256, pcrSelect: [0, 16] }],
          qualifyingData: nonce,
        });
        await Bun.write(join(dir, "our.pub"), encode(TPM2B_PUBLIC, ak.public));
        await Bun.write(join(dir, "our.msg"), q.attest);
        await Bun.write(join(dir, "our.sig"), q.signature);
        expect(parseTpmtPublic(encode(TPM2B_PUBLIC, ak.public).subarray(2))).toEqual(ak.public);
      } finally {
        await flush(tpm, ak.handle);
      }
    } finally {
      await tpm.close();
    }
    const good = await tools(
      "tpm2_checkquote",
      "-u",
      "our.pub",
      "-m",
      "our.msg",
      "-s",
      "our.sig",
      "-q",
      toHex(nonce),
      "-g",
      "sha256",
    );
    expect(good.code).toBe(0);
    const bad = await tools(
      "tpm2_checkquote",
      "-u",
      "our.pub",
      "-m",
      "our.msg",
      "-s",
      "our.sig",
      "-q",
      "0badc0df",
      "-g",
      "sha256",
    );
    expect(bad.code).not.toBe(0);
  });

  test("NV_Read reads an index written by tpm2_nvwrite, in chunks", async () => {
    const content = new Uint8Array(1500).map((_, i) => (i * 7) & 0xff);
    await Bun.write(join(dir, "nv.bin"), content);
    await ok(
      "tpm2_nvdefine",
      "0x01500020",
      "-C",
      "o",
      "-s",
      "1500",
      "-a",
      "ownerread|ownerwrite|authread|authwrite",
    );
    await ok("tpm2_nvwrite", "0x01500020", "-C", "o", "-i", "nv.bin");
    const tpm = await openSwtpm({ ...sw, powerOn: false });
    try {
      expect(await nvRead(tpm, 0x01500020)).toEqual(content);
    } finally {
      await tpm.close();
    }
  });
});
