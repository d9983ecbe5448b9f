/** The service PKI as written to disk: file modes, no CA key, and the two certificates really talk mTLS. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { Hono } from "hono";
import { createMtlsFetch, createPeerAuthenticator, createServicePki, serveMtls } from "./index.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "asterism-service-pki-"));
  dirs.push(d);
  return d;
};

describe("createServicePki", () => {
  test("writes CA cert, KMS server and JoinService client credentials; keys 0600, no CA key", async () => {
    const dir = tempDir();
    const pki = await createServicePki(dir, new Date());
    expect(readdirSync(join(dir, "service-pki")).sort()).toEqual([
      "ca.crt",
      "join-service.crt",
      "join-service.key",
      "kms.crt",
      "kms.key",
    ]);
    expect(statSync(join(dir, "service-pki")).mode & 0o777).toBe(0o700);
    for (const key of [pki.kms.keyFile, pki.joinService.keyFile])
      expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(pki.caFile, "utf8")).toContain("BEGIN CERTIFICATE");
    expect(readFileSync(pki.caFile, "utf8")).not.toContain("PRIVATE KEY");
  });

  test("the KMS certificate serves on 127.0.0.1 and authenticates the JoinService's certificate", async () => {
    const pki = await createServicePki(tempDir(), new Date());
    const text = (p: string) => readFileSync(p, "utf8");
    const authenticate = createPeerAuthenticator({ caCertPem: text(pki.caFile) });
    const app = new Hono<{ Bindings: { incoming: { socket: TLSSocket } } }>();
    app.get("/whoami", async (c) => c.json(await authenticate(c.env.incoming.socket)));
    const server = await serveMtls({
      fetch: app.fetch,
      certPem: text(pki.kms.certFile),
      keyPem: text(pki.kms.keyFile),
      caCertPem: text(pki.caFile),
    });
    try {
      const f = createMtlsFetch({
        caCertPem: text(pki.caFile),
        certPem: text(pki.joinService.certFile),
        keyPem: text(pki.joinService.keyFile),
        serverIdentity: "asterism://kms",
      });
      const res = await f(`${server.url}/whoami`, { headers: { connection: "close" } });
      expect(await res.json()).toMatchObject({ status: "verified", identity: "asterism://join-service" });
    } finally {
      await server.close();
    }
  });

  test("never overwrites: a second call on the same directory fails and leaves the first PKI", async () => {
    const dir = tempDir();
    const first = await createServicePki(dir, new Date());
    const before = readFileSync(first.kms.keyFile, "utf8");
    let code: string | undefined;
    try {
      await createServicePki(dir, new Date());
    } catch (err) {
      code = (err as NodeJS.ErrnoException).code;
    }
    expect(code).toBe("EEXIST");
    expect(readFileSync(first.kms.keyFile, "utf8")).toBe(before);
  });
});
