import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAsterismError } from "@asterism/errors";
import * as v from "valibot";
import { ConfigSchema } from "./config.ts";
import { readNodeNameFile } from "./node-name.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-node-name-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function read(content: string | Uint8Array | undefined): Promise<string> {
  const path = join(dir, `name-${Math.random().toString(36).slice(2)}`);
  if (content !== undefined) writeFileSync(path, content);
  try {
    return await readNodeNameFile(path);
  } catch (err) {
    return `error:${isAsterismError(err) ? err.code : String(err)}`;
  }
}

describe("ASTERISM_NODE_NAME_FILE (QEMU fw_cfg raw entry)", () => {
  test.each([
    { name: "fw_cfg string as is", content: "asterism-control-plane-0", want: "asterism-control-plane-0" },
    { name: "trailing newline", content: "asterism-worker-1\n", want: "asterism-worker-1" },
    { name: "trailing NUL", content: "asterism-worker-1\0", want: "asterism-worker-1" },
    { name: "dotted subdomain", content: "node.example", want: "node.example" },
    { name: "missing file", content: undefined, want: "error:NODE_NAME_UNREADABLE" },
    { name: "empty", content: "", want: "error:NODE_NAME_UNREADABLE" },
    { name: "upper case", content: "Worker-1", want: "error:NODE_NAME_UNREADABLE" },
    { name: "header injection", content: "worker-1\r\nX-Other: 1", want: "error:NODE_NAME_UNREADABLE" },
    { name: "254 characters", content: "a".repeat(254), want: "error:NODE_NAME_UNREADABLE" },
    { name: "binary", content: new Uint8Array([0xff, 0xfe, 0x61]), want: "error:NODE_NAME_UNREADABLE" },
  ])("$name", async ({ content, want }) => {
    expect(await read(content)).toBe(want);
  });
});

describe("configuration", () => {
  const base = {
    ASTERISM_TPM: "/dev/tpmrm0",
    ASTERISM_METADATA_URL: "http://10.0.2.101:80",
    ASTERISM_STATE_DISK: "/dev/disk/by-id/virtio-asterism-state",
    ASTERISM_RUN_DIR: "/run/asterism",
  };
  test.each([
    { name: "defaults: no mount, no services", env: {}, ok: true },
    {
      name: "VM image settings",
      env: {
        ASTERISM_NODE_NAME_FILE: "/sys/firmware/qemu_fw_cfg/by_name/opt/asterism/node-name/raw",
        ASTERISM_STATE_MOUNT: "/var/lib/asterism",
        ASTERISM_CONTROL_PLANE_SERVICES: "systemd",
      },
      ok: true,
    },
    {
      name: "name and name file",
      env: { ASTERISM_NODE_NAME: "a", ASTERISM_NODE_NAME_FILE: "/x" },
      ok: false,
    },
    {
      name: "services without a state mount",
      env: { ASTERISM_CONTROL_PLANE_SERVICES: "systemd" },
      ok: false,
    },
    { name: "relative state mount", env: { ASTERISM_STATE_MOUNT: "var/lib/asterism" }, ok: false },
    { name: "unknown services mode", env: { ASTERISM_CONTROL_PLANE_SERVICES: "docker" }, ok: false },
  ])("$name", ({ env, ok }) => {
    const r = v.safeParse(ConfigSchema, { ...base, ...env });
    expect(r.success).toBe(ok);
    if (r.success && Object.keys(env).length === 0)
      expect(r.output.ASTERISM_CONTROL_PLANE_SERVICES).toBe("none");
  });
});
