import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TLSSocket } from "node:tls";
import { createSoftwareAttester, type SoftwareAttester } from "@asterism/testing";
import {
  type AtlsMode,
  attestedFetch,
  CHANNEL_BINDING_LABEL,
  connectAttested,
  createAtlsServer,
  type PeerAttestation,
} from "./index.ts";
import { eventually, failure, startApp, type TestApp } from "./testing/fixtures.ts";

// Software evidence (shared/testing): proves nothing about a machine, exercises the protocol fully.
let node: SoftwareAttester; // the server side ("qemu-vtpm")
let joiner: SoftwareAttester; // a client ("azure-sev-snp")
let other: SoftwareAttester; // a second client variant ("gcp-sev-snp")
beforeAll(async () => {
  node = await createSoftwareAttester({ variant: "qemu-vtpm" });
  joiner = await createSoftwareAttester({ variant: "azure-sev-snp", measurements: { 0: "ab".repeat(32) } });
  other = await createSoftwareAttester({ variant: "gcp-sev-snp" });
});

const apps: TestApp[] = [];
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
});
async function app(mode: AtlsMode, extra: Partial<Parameters<typeof startApp>[0]> = {}): Promise<TestApp> {
  const a = await startApp({ mode, issuer: node.issuer, validators: [joiner.validator()], ...extra });
  apps.push(a);
  return a;
}

describe("each mode succeeds end to end (Hono over aTLS)", () => {
  test.each([
    { mode: "server-attested" as const, serverSees: null, clientSees: "qemu-vtpm" },
    { mode: "client-attested" as const, serverSees: "azure-sev-snp", clientSees: null },
    { mode: "mutual" as const, serverSees: "azure-sev-snp", clientSees: "qemu-vtpm" },
  ])("$mode", async ({ mode, serverSees, clientSees }) => {
    const a = await app(mode);
    let seen: PeerAttestation | undefined;
    const res = await attestedFetch(`${a.url}/whoami`, undefined, {
      mode,
      issuer: joiner.issuer,
      validators: [node.validator()],
      onAttested: (p) => {
        seen = p;
      },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { variant: string | null; measurements: unknown };
    expect(body.variant).toBe(serverSees);
    if (serverSees !== null) expect(body.measurements).toEqual({ 0: "ab".repeat(32) });
    expect(seen?.variant ?? null).toBe(clientSees);
    if (seen) {
      expect(seen.claims.userData).toEqual(seen.spkiDigest);
      expect(seen.claims.measurements).toEqual(node.measurements);
      expect(seen.nonce.length).toBe(32);
    }
    expect(a.rejected).toEqual([]);
  });

  test("request and response bodies, status and headers pass through unchanged", async () => {
    const a = await app("mutual");
    const payload = crypto.getRandomValues(new Uint8Array(100_000));
    const res = await attestedFetch(
      `${a.url}/echo?x=1`,
      { method: "POST", body: payload, headers: { "content-type": "application/octet-stream" } },
      { mode: "mutual", issuer: joiner.issuer, validators: [node.validator()] },
    );
    expect(res.status).toBe(201);
    expect(res.headers.get("x-echo")).toBe("1");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(payload);
  });

  test("several variants at once: validators are chosen by the evidence OID", async () => {
    const a = await app("client-attested", { validators: [joiner.validator(), other.validator()] });
    for (const client of [joiner, other]) {
      const res = await attestedFetch(`${a.url}/whoami`, undefined, {
        mode: "client-attested",
        issuer: client.issuer,
      });
      expect(((await res.json()) as { variant: string }).variant).toBe(client.variant);
    }
    const stranger = await createSoftwareAttester({ variant: "aws-sev-snp" });
    expect(
      await failure(
        attestedFetch(`${a.url}/whoami`, undefined, { mode: "client-attested", issuer: stranger.issuer }),
      ),
    ).toEqual({ code: "PEER_REJECTED", actual: "EVIDENCE_VARIANT_NOT_ACCEPTED" });
  });

  test("every connection gets a fresh nonce and a fresh server key", async () => {
    const a = await app("server-attested");
    const peers: PeerAttestation[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await attestedFetch(`${a.url}/whoami`, undefined, {
        mode: "server-attested",
        validators: [node.validator()],
        onAttested: (p) => p && peers.push(p),
      });
      await res.body?.cancel();
    }
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    expect(new Set(peers.map((p) => hex(p.spkiDigest))).size).toBe(3);
    expect(new Set(peers.map((p) => hex(p.nonce))).size).toBe(3);
  });
});

describe("channel binding (RFC 9266) in Bun", () => {
  test("both ends read the same EXPORTER-Channel-Binding value; each session has its own", async () => {
    const serverSide: string[] = [];
    const server = await createAtlsServer({ mode: "server-attested", issuer: node.issuer }, (s) => {
      serverSide.push(s.exportKeyingMaterial(32, CHANNEL_BINDING_LABEL, Buffer.alloc(0)).toString("hex"));
      s.resume();
    });
    try {
      const clientSide: string[] = [];
      for (let i = 0; i < 2; i++) {
        const { socket } = await connectAttested("127.0.0.1", server.port, {
          mode: "server-attested",
          validators: [node.validator()],
        });
        const s = socket as TLSSocket;
        clientSide.push(s.exportKeyingMaterial(32, CHANNEL_BINDING_LABEL, Buffer.alloc(0)).toString("hex"));
        // TLS 1.3: "no context" and "empty context" are the same exporter (RFC 8446 §7.5).
        const noContext = (s.exportKeyingMaterial as (n: number, l: string) => Buffer)(
          32,
          CHANNEL_BINDING_LABEL,
        );
        expect(noContext.toString("hex")).toBe(clientSide[i] as string);
        await eventually(() => serverSide.length === i + 1); // keep the session open until the server read it
        socket.destroy();
      }
      expect(serverSide).toEqual(clientSide);
      expect(clientSide[0]).not.toBe(clientSide[1]);
    } finally {
      await server.close();
    }
  });
});

describe("options", () => {
  test.each([
    {
      name: "server attests without an issuer",
      make: () => createAtlsServer({ mode: "server-attested" }, () => {}),
    },
    {
      name: "server checks clients without validators",
      make: () => createAtlsServer({ mode: "mutual", issuer: node.issuer }, () => {}),
    },
    {
      name: "two validators for one variant",
      make: () =>
        createAtlsServer(
          { mode: "client-attested", validators: [joiner.validator(), joiner.validator()] },
          () => {},
        ),
    },
    {
      name: "client verifies without validators",
      make: () => connectAttested("127.0.0.1", 1, { mode: "server-attested" }),
    },
    {
      name: "an evidence bound above the hard limit",
      make: () =>
        connectAttested("127.0.0.1", 1, {
          mode: "server-attested",
          validators: [node.validator()],
          maxEvidenceBytes: 2 << 20,
        }),
    },
    {
      name: "a non-https URL",
      make: () =>
        attestedFetch("http://127.0.0.1:1/", undefined, {
          mode: "server-attested",
          validators: [node.validator()],
        }),
    },
  ])("rejects $name (INVALID_OPTIONS)", async ({ make }) => {
    expect((await failure(make())).code).toBe("INVALID_OPTIONS");
  });
});
