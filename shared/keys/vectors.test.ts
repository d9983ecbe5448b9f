/**
 * Constellation compatibility, proven with the shared vectors (VECTORS.md V7 and V8). The tables are
 * parsed out of VECTORS.md itself, so the test and the document cannot drift apart.
 */
import { describe, expect, test } from "bun:test";
import { fromHex, fromUtf8, toHex, utf8 } from "@asterism/bytes";
import { readTestdata } from "@asterism/testing";
import { deriveClusterId, deriveKey, hkdfSha256, parseMasterSecret, serializeMasterSecret } from "./index.ts";

const doc = fromUtf8(await readTestdata("constellation", "VECTORS.md"));

/** `00×32`, `0b×22`, `00..0c`, `f0..f9 (bytes)` → bytes. */
function bytesOf(cell: string): Uint8Array {
  const c = cell.replace("(bytes)", "").trim();
  const rep = /^([0-9a-f]{2})×(\d+)$/.exec(c);
  if (rep) return new Uint8Array(Number(rep[2])).fill(Number.parseInt(rep[1]!, 16));
  const range = /^([0-9a-f]{2})\.\.([0-9a-f]{2})$/.exec(c);
  if (range) {
    const a = Number.parseInt(range[1]!, 16);
    const b = Number.parseInt(range[2]!, 16);
    return Uint8Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }
  throw new Error(`unparsed byte cell ${cell}`);
}

function section(title: string): string {
  const start = doc.indexOf(title);
  const end = doc.indexOf("\n## ", start + 1);
  if (start < 0) throw new Error(`missing section ${title}`);
  return doc.slice(start, end < 0 ? undefined : end);
}

const rows = (s: string) =>
  s
    .split("\n")
    .filter(
      (l) => l.startsWith("| ") && !l.startsWith("| Case") && !l.startsWith("| Value") && !l.includes("---"),
    )
    .map((l) =>
      l
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim()),
    );

describe("V7: HKDF-SHA256 vectors", () => {
  const v7 = rows(section("## V7")).map(([name, ikm, salt, info, len, out]) => ({
    name: name!,
    ikm: bytesOf(ikm!),
    salt: bytesOf(salt!),
    text: info!.startsWith("`") ? info!.slice(1, -1) : undefined,
    info: info!.startsWith("`") ? utf8(info!.slice(1, -1)) : bytesOf(info!),
    length: Number(len),
    want: /^([0-9a-f]+)/.exec(out!)![1]!,
  }));

  test("the table has all six cases", () => expect(v7.map((v) => v.name)).toHaveLength(6));

  test.each(v7)("$name: raw HKDF matches", async ({ ikm, salt, info, length, want }) => {
    expect(toHex(await hkdfSha256(ikm, salt, info, length))).toBe(want);
  });

  test.each(v7.filter((v) => v.text?.startsWith("key-")))(
    "$name: deriveKey with a named purpose matches",
    async ({ ikm, salt, text, want }) => {
      const id = text!.slice(4);
      const purpose =
        id === "clusterID"
          ? "clusterId"
          : id === "measurementSecret"
            ? "measurementSecret"
            : ("dataKey" as const);
      const opts = purpose === "dataKey" ? { id, length: 32 } : {};
      if (/^[0-9a-f-]{36}$/.test(id)) {
        expect(toHex(await deriveKey({ secret: ikm, salt, purpose: "diskKey", id }))).toBe(want);
      }
      if (id !== id.toLowerCase() && /^[A-F0-9-]{36}$/.test(id)) {
        // Upper-case UUIDs are not disk ids (LUKS prints lower case), and the info is case-sensitive.
        for (const purpose of ["diskKey", "dataKey"] as const) {
          await expect(deriveKey({ secret: ikm, salt, purpose, id, length: 32 })).rejects.toMatchObject({
            code: "INVALID_KEY_ID",
          });
        }
        return;
      }
      expect(toHex(await deriveKey({ secret: ikm, salt, purpose, ...opts }))).toBe(want);
    },
  );

  test("upper-casing the info changes the key (case-sensitive KMS)", () => {
    const ff = v7.filter((v) => v.name.startsWith("0xFF"));
    expect(ff).toHaveLength(2);
    expect(ff[0]!.want).not.toBe(ff[1]!.want);
  });
});

describe("V8: end-to-end derivation", () => {
  const v8 = section("## V8");
  const result = (label: string) => {
    const row = rows(v8).find((r) => r[0] === label || r[0] === `\`${label}\``);
    if (!row) throw new Error(`missing V8 row ${label}`);
    return row.at(-1)!.replace(/`/g, "");
  };
  const masterKey = bytesOf("00..1f");
  const masterSalt = bytesOf("20..3f");
  const measurementSalt = bytesOf("80..9f");
  test("inputs are the ones the section states", () => {
    expect(v8).toContain("master key = bytes 00..1f");
    expect(v8).toContain("master salt = bytes 20..3f");
    expect(v8).toContain("measurement salt = bytes 80..9f");
  });

  test("measurementSecret, clusterID and the expected PCR 15", async () => {
    const ms = await deriveKey({ secret: masterKey, salt: masterSalt, purpose: "measurementSecret" });
    expect(toHex(ms)).toBe(result("measurementSecret"));
    const clusterId = await deriveClusterId(ms, measurementSalt);
    expect(toHex(clusterId)).toBe(result("clusterID"));
    const inner = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(clusterId)));
    const pcr = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new Uint8Array([...new Uint8Array(32), ...inner])),
    );
    expect(toHex(pcr)).toBe(result("expected PCR15 (SHA-256 bank) after init"));
  });

  test("state-disk key for a LUKS UUID", async () => {
    const id = "12345678-1234-1234-1234-123456789abc";
    const want = result(`state-disk key for LUKS UUID \`${id}\``);
    expect(toHex(await deriveKey({ secret: masterKey, salt: masterSalt, purpose: "diskKey", id }))).toBe(
      want,
    );
    // The KMS API's generic data key with the same id is the same bytes (Constellation's GetDataKey).
    expect(
      toHex(await deriveKey({ secret: masterKey, salt: masterSalt, purpose: "dataKey", id, length: 32 })),
    ).toBe(want);
  });

  test("emergency SSH CA seed", async () => {
    const got = await deriveKey({ secret: masterKey, salt: masterSalt, purpose: "emergencySsh" });
    expect(toHex(got)).toBe(result("emergency-SSH CA seed (Ed25519)"));
  });

  test("master secret file parses and serializes byte-for-byte", () => {
    const file = result("`constellation-mastersecret.json`");
    const parsed = parseMasterSecret(file);
    expect(parsed.key).toEqual(masterKey);
    expect(parsed.salt).toEqual(masterSalt);
    expect(serializeMasterSecret(parsed)).toBe(file);
    expect(fromHex(toHex(parsed.key))).toEqual(masterKey);
  });
});
