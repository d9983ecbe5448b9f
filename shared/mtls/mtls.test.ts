/** Real mutual TLS on 127.0.0.1: a Hono app reports what the peer authenticator concluded. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TLSSocket } from "node:tls";
import { Hono } from "hono";
import {
  type ClusterCa,
  createClusterCa,
  createMtlsFetch,
  createPeerAuthenticator,
  exportClusterCa,
  issueServiceCertificate,
  loadClusterCa,
  MtlsError,
  type MtlsServer,
  parseIdentityUri,
  type ServiceCredentials,
  serveMtls,
} from "./index.ts";

const NOW = new Date();
const ORIGINAL_RESPONSE = globalThis.Response;
let ca: ClusterCa;
let otherCa: ClusterCa;
let server: MtlsServer;
let clockOffsetMs = 0;
const creds: Record<string, ServiceCredentials> = {};

beforeAll(async () => {
  ca = await createClusterCa({ now: NOW });
  otherCa = await createClusterCa({ now: NOW, commonName: "Asterism cluster CA" }); // same name, other key
  const serverCert = await issueServiceCertificate(ca, {
    service: "kms",
    usage: "server",
    now: NOW,
    ipAddresses: ["127.0.0.1"],
  });
  creds["join"] = await issueServiceCertificate(ca, { service: "join-service", usage: "client", now: NOW });
  creds["foreign"] = await issueServiceCertificate(otherCa, {
    service: "join-service",
    usage: "client",
    now: NOW,
  });
  creds["serverOnly"] = await issueServiceCertificate(ca, {
    service: "join-service",
    usage: "server",
    now: NOW,
  });
  creds["expired"] = await issueServiceCertificate(ca, {
    service: "join-service",
    usage: "client",
    now: NOW,
    window: {
      notBefore: new Date(NOW.getTime() - 10 * 86_400_000),
      notAfter: new Date(NOW.getTime() - 86_400_000),
    },
  });
  const authenticate = createPeerAuthenticator({
    caCertPem: ca.certPem,
    now: () => new Date(Date.now() + clockOffsetMs),
  });
  const app = new Hono<{ Bindings: { incoming: { socket: TLSSocket } } }>();
  app.get("/whoami", async (c) => c.json(await authenticate(c.env.incoming.socket)));
  server = await serveMtls({
    fetch: app.fetch,
    certPem: serverCert.certPem,
    keyPem: serverCert.keyPem,
    caCertPem: ca.certPem,
  });
});
afterAll(async () => {
  await server?.close();
});

const whoami = async (c?: ServiceCredentials) => {
  const f = createMtlsFetch({
    caCertPem: ca.certPem,
    ...(c ? { certPem: c.certPem, keyPem: c.keyPem } : {}),
  });
  return (await f(`${server.url}/whoami`, { headers: { connection: "close" } })).json();
};

describe("peer authentication over real mTLS", () => {
  test.each([
    {
      name: "valid join-service cert",
      who: "join",
      want: { status: "verified", identity: "asterism://join-service" },
    },
    { name: "no certificate", who: undefined, want: { status: "none" } },
    { name: "cert from another CA", who: "foreign", want: { status: "untrusted", reason: "CHAIN" } },
    { name: "expired cert", who: "expired", want: { status: "untrusted", reason: "CHAIN" } },
    { name: "server-only cert (no clientAuth)", who: "serverOnly", want: { status: "untrusted" } },
  ])("$name", async ({ who, want }) => {
    expect(await whoami(who === undefined ? undefined : creds[who])).toMatchObject(want);
  });

  test("our own clock check rejects a cert OpenSSL still accepts", async () => {
    clockOffsetMs = 400 * 86_400_000;
    try {
      expect(await whoami(creds["join"])).toMatchObject({ status: "untrusted", reason: "EXPIRED" });
    } finally {
      clockOffsetMs = 0;
    }
  });

  test("serving leaves the process's global Response alone (Bun.serve users in the same process)", async () => {
    await whoami(creds["join"]);
    expect(globalThis.Response).toBe(ORIGINAL_RESPONSE);
  });

  test("the server only listens on loopback and speaks TLS 1.3", () => {
    expect(server.host).toBe("127.0.0.1");
  });

  test("a client pinned to the server identity accepts asterism://kms and refuses anything else", async () => {
    const ok = createMtlsFetch({ caCertPem: ca.certPem, ...creds["join"], serverIdentity: "asterism://kms" });
    expect((await ok(`${server.url}/whoami`)).status).toBe(200);
    const pinned = createMtlsFetch({
      caCertPem: ca.certPem,
      ...creds["join"],
      serverIdentity: "asterism://join-service",
    });
    await expect(pinned(`${server.url}/whoami`)).rejects.toThrow();
  });

  test("a client refuses a server whose cert is from another CA", async () => {
    const f = createMtlsFetch({ caCertPem: otherCa.certPem, ...creds["join"] });
    await expect(f(`${server.url}/whoami`)).rejects.toThrow();
  });
});

describe("CA material", () => {
  test("export/load round trip issues certs that verify", async () => {
    const saved = await exportClusterCa(ca);
    const loaded = await loadClusterCa(saved.certPem, saved.keyPem);
    const c = await issueServiceCertificate(loaded, { service: "bootstrapper", usage: "client", now: NOW });
    expect(c.identity).toBe("asterism://bootstrapper");
  });

  test.each([
    {
      name: "bad service name",
      fn: () => issueServiceCertificate(ca, { service: "Join_Service", usage: "client", now: NOW }),
      wantCode: "INVALID_IDENTITY",
    },
    {
      name: "zero validity",
      fn: () => issueServiceCertificate(ca, { service: "x", usage: "client", now: NOW, validityDays: 0 }),
      wantCode: "INVALID_VALIDITY",
    },
    { name: "garbage CA", fn: () => loadClusterCa("nope", "nope"), wantCode: "INVALID_CERTIFICATE" },
  ])("$name → $wantCode", async ({ fn, wantCode }) => {
    const err = await fn().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MtlsError);
    expect(String((err as MtlsError).code)).toBe(wantCode);
  });

  test.each([
    ["asterism://join-service", "join-service"],
    ["asterism://join-service/x", undefined],
    ["https://join-service", undefined],
    ["asterism://", undefined],
    ["asterism://JOIN", undefined],
  ])("parseIdentityUri(%p) = %p", (uri, want) => {
    expect(parseIdentityUri(uri)).toBe(want);
  });
});
