import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WorkspaceError } from "./errors.ts";
import { writeAdminKubeconfig } from "./kubeconfig.ts";
import { createMasterSecretFile, readMasterSecretFile } from "./master-secret.ts";
import { readState, type State, writeState } from "./state.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-ws-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WorkspaceError);
    return (e as WorkspaceError).code;
  }
  return undefined;
}

describe("master secret file", () => {
  test("created 0600 in Constellation's format and read back", () => {
    const p = join(dir, "ms.json");
    const s = createMasterSecretFile(p, (n) => new Uint8Array(n).fill(n === 32 ? 7 : 9));
    expect(statSync(p).mode & 0o777).toBe(0o600);
    const json = JSON.parse(readFileSync(p, "utf8"));
    expect(Object.keys(json)).toEqual(["key", "salt"]);
    expect(Buffer.from(json.key, "base64")).toEqual(Buffer.from(s.key));
    expect(readMasterSecretFile(p)).toEqual(s);
  });

  test("never overwritten, whatever the file holds", () => {
    const p = join(dir, "existing.json");
    writeFileSync(p, "not even JSON", { mode: 0o600 });
    expect(code(() => createMasterSecretFile(p))).toBe("MASTER_SECRET_EXISTS");
    expect(readFileSync(p, "utf8")).toBe("not even JSON");
  });

  test.each([
    [
      "world-readable",
      '{"key":"AAAAAAAAAAAAAAAAAAAAAA==","salt":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}',
      0o644,
    ],
    ["not JSON", "{", 0o600],
    ["unknown field", '{"key":"AA==","salt":"AA==","x":1}', 0o600],
    ["short key", '{"key":"AAAA","salt":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}', 0o600],
    ["bad base64", '{"key":"!!!!","salt":"AAAA"}', 0o600],
  ])("%s → MASTER_SECRET_INVALID without echoing the contents", (_n, content, mode) => {
    const p = join(dir, `bad-${Math.random()}.json`);
    writeFileSync(p, content);
    chmodSync(p, mode);
    try {
      readMasterSecretFile(p);
      throw new Error("accepted");
    } catch (e) {
      expect((e as WorkspaceError).code).toBe("MASTER_SECRET_INVALID");
      expect((e as Error).message).not.toContain("AAAA");
    }
  });
});

describe("state file", () => {
  const state: State = {
    version: "v1",
    infrastructure: { uid: "abcd", name: "mini", clusterEndpoint: "127.0.0.1:4242", initSecret: "00ff" },
    clusterValues: { clusterID: "11".repeat(32), measurementSalt: "22".repeat(32) },
  };
  test("round trip, mode 0600", () => {
    const p = join(dir, "state.yaml");
    writeState(p, state);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(readState(p)).toEqual(state);
    writeState(p, { ...state, infrastructure: { ...state.infrastructure, name: "other" } });
    expect(readState(p)?.infrastructure.name).toBe("other");
  });
  test("absent → undefined; malformed → STATE_INVALID", () => {
    expect(readState(join(dir, "none.yaml"))).toBeUndefined();
    const p = join(dir, "bad-state.yaml");
    writeFileSync(p, "version: v9\n");
    expect(code(() => readState(p))).toBe("STATE_INVALID");
  });
});

describe("admin kubeconfig", () => {
  test("0600 and not silently replaced", () => {
    const p = join(dir, "admin.conf");
    writeAdminKubeconfig(p, "apiVersion: v1\n");
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(code(() => writeAdminKubeconfig(p, "other"))).toBe("FILE_EXISTS");
    writeAdminKubeconfig(p, "replaced", true);
    expect(readFileSync(p, "utf8")).toBe("replaced");
  });
});
