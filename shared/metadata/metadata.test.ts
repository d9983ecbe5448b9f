import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMetadataClient, MetadataError, type MetadataServer, serveMetadata } from "./index.ts";

const TOKEN = "launcher-token-0123456789";
let md: MetadataServer;
let hash: string;

beforeAll(async () => {
  hash = await Bun.password.hash("init-secret", { algorithm: "bcrypt", cost: 4 });
  md = await serveMetadata({ launcherToken: TOKEN });
});
afterAll(() => md?.close());

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof MetadataError ? e.code : `unexpected ${String(e)}`;
  }
  return undefined;
}

describe("metadata service", () => {
  test("launcher registers instances and the init-secret hash; nodes read self and the list", async () => {
    const launcher = createMetadataClient({ url: md.url });
    await launcher.putInstance(TOKEN, "cp-0", { role: "control-plane", ips: ["127.0.0.1"] });
    await launcher.putInstance(TOKEN, "worker-0", {
      role: "worker",
      ips: ["127.0.0.1"],
      endpoints: { verify: "http://127.0.0.1:1234" },
    });
    await launcher.setInitSecretHash(TOKEN, hash);
    const self = await createMetadataClient({ url: md.url, nodeName: "cp-0" }).self();
    expect(self).toEqual({ name: "cp-0", role: "control-plane", ips: ["127.0.0.1"], initSecretHash: hash });
    const list = await launcher.instances();
    expect(list.map((i) => i.name)).toEqual(["cp-0", "worker-0"]);
    expect(list[1]?.endpoints.verify).toBe("http://127.0.0.1:1234");
    await launcher.deleteInstance(TOKEN, "worker-0");
    expect((await launcher.instances()).length).toBe(1);
  });

  test.each([
    {
      name: "wrong launcher token",
      run: () =>
        createMetadataClient({ url: md.url }).putInstance("x".repeat(20), "n", { role: "worker", ips: [] }),
      code: "UNAUTHORIZED",
    },
    {
      name: "unknown node",
      run: () => createMetadataClient({ url: md.url, nodeName: "nobody" }).self(),
      code: "NOT_FOUND",
    },
    {
      name: "invalid role",
      run: () =>
        createMetadataClient({ url: md.url }).putInstance(TOKEN, "n", {
          role: "admin" as "worker",
          ips: ["127.0.0.1"],
        }),
      code: "INVALID_REQUEST",
    },
    {
      name: "invalid name",
      run: () =>
        createMetadataClient({ url: md.url }).putInstance(TOKEN, "UPPER", { role: "worker", ips: [] }),
      code: "INVALID_REQUEST",
    },
    {
      name: "invalid hash",
      run: () => createMetadataClient({ url: md.url }).setInitSecretHash(TOKEN, "plaintext"),
      code: "INVALID_REQUEST",
    },
    {
      name: "service down",
      run: () => createMetadataClient({ url: "http://127.0.0.1:1" }).instances(),
      code: "UNAVAILABLE",
    },
  ])("refused: $name", async ({ run, code }) => {
    expect(await codeOf(run())).toBe(code);
  });
});
