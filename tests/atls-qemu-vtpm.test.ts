/**
 * aTLS with real evidence: each side's qemu-vtpm documents come from its own swtpm (TPM 2.0 quotes over
 * PCRs 0–23 with qualifying data SHA-256(SHA-256(SHA-256(SPKI) ‖ nonce))), validated by the qemu-vtpm
 * validator of @asterism/attestation against a measurement policy. Loopback only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import "reflect-metadata";
import tls from "node:tls";
import {
  AtlsError,
  type AtlsMode,
  attestedFetch,
  connectAttested,
  type PeerAttestation,
  peerClaims,
  serveAttested,
} from "@asterism/atls";
import {
  type AttestationPolicy,
  createQemuVtpmIssuer,
  createQemuVtpmValidator,
  type Issuer,
  VARIANTS,
} from "@asterism/attestation";
import { createMeasurements } from "@asterism/measurements";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { type ClosableTpm, extendPcr, openSwtpm, readPcrs, TPM_ALG } from "@asterism/tpm";
import * as x509 from "@peculiar/x509";
import { Hono } from "hono";

interface Node {
  sw: SwtpmInstance;
  tpm: ClosableTpm;
  issuer: Issuer;
  pcr4: Uint8Array;
  policy: AttestationPolicy;
}

async function startNode(measured: number): Promise<Node> {
  const sw = await startSwtpm();
  const tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  // What a boot loader would have measured; different per node so the tests can tell them apart.
  await extendPcr(tpm, 4, [{ hashAlg: TPM_ALG.SHA256, digest: new Uint8Array(32).fill(measured) }]);
  const banks = await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [0, 4] }]);
  const pcrs = banks.get(TPM_ALG.SHA256) as Map<number, Uint8Array>;
  const pcr4 = pcrs.get(4) as Uint8Array;
  const policy: AttestationPolicy = {
    measurements: createMeasurements([
      [0, { expected: pcrs.get(0) as Uint8Array }],
      [4, { expected: pcr4 }],
    ]),
  };
  return { sw, tpm, issuer: createQemuVtpmIssuer({ tpm }), pcr4, policy };
}

let server: Node;
let client: Node;
beforeAll(async () => {
  [server, client] = await Promise.all([startNode(0x44), startNode(0x55)]);
}, 30_000);
afterAll(async () => {
  for (const n of [server, client]) {
    await n?.tpm.close();
    await n?.sw.stop();
  }
});

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const verifyAgainst = (port: number) =>
  connectAttested("127.0.0.1", port, {
    mode: "server-attested",
    validators: [createQemuVtpmValidator({ policy: server.policy })],
  });

async function freshKey() {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  return { keys, userData: new Uint8Array(await crypto.subtle.digest("SHA-256", spki)) };
}

/** An attacker's certificate: its own key, whatever document it has, under the qemu-vtpm OID. */
async function certWith(key: { keys: CryptoKeyPair }, document: Uint8Array): Promise<tls.SecureContext> {
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: "42",
      name: "CN=asterism-atls",
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 600_000),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      keys: key.keys,
      extensions: [new x509.Extension(VARIANTS["qemu-vtpm"].oid, false, document as Uint8Array<ArrayBuffer>)],
    },
    crypto,
  );
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", key.keys.privateKey)).toString("base64");
  return tls.createSecureContext({
    cert: cert.toString("pem"),
    key: `-----BEGIN PRIVATE KEY-----\n${pkcs8}\n-----END PRIVATE KEY-----\n`,
  });
}

/** A TLS 1.3 server under the attacker's control. */
async function evilServer(ctxFor: (servername: string) => Promise<tls.SecureContext>) {
  const evil = tls.createServer({
    minVersion: "TLSv1.3",
    SNICallback: (name, cb) => {
      ctxFor(name).then(
        (c) => cb(null, c),
        (e: Error) => cb(e, undefined),
      );
    },
  });
  evil.on("tlsClientError", (_e, sock) => sock.destroy());
  await new Promise<void>((r) => evil.listen(0, "127.0.0.1", () => r()));
  return {
    port: (evil.address() as { port: number }).port,
    close: () => new Promise<void>((r) => evil.close(() => r())),
  };
}

function app() {
  const a = new Hono();
  let handled = 0;
  a.use(async (_c, next) => {
    handled++;
    await next();
  });
  a.get("/whoami", (c) => {
    const peer = peerClaims(c);
    return c.json({ variant: peer?.variant ?? null, pcr4: peer?.claims.measurements[4] ?? null });
  });
  return { app: a, handled: () => handled };
}

async function codes(p: Promise<unknown>): Promise<{ code: string; cause?: string; actual?: string }> {
  try {
    await p;
    return { code: "ok" };
  } catch (e) {
    expect(e).toBeInstanceOf(AtlsError);
    const err = e as AtlsError;
    const cause = err.cause as { code?: string } | undefined;
    return {
      code: err.code,
      ...(cause?.code ? { cause: cause.code } : {}),
      ...(err.actual ? { actual: err.actual } : {}),
    };
  }
}

describe("aTLS with swtpm-backed qemu-vtpm evidence", () => {
  test.each([
    { mode: "server-attested" as AtlsMode, clientSeesServer: true, serverSeesClient: false },
    { mode: "client-attested" as AtlsMode, clientSeesServer: false, serverSeesClient: true },
    { mode: "mutual" as AtlsMode, clientSeesServer: true, serverSeesClient: true },
  ])(
    "$mode succeeds",
    async ({ mode, clientSeesServer, serverSeesClient }) => {
      const a = app();
      const rejected: string[] = [];
      const s = await serveAttested(a.app, {
        mode,
        issuer: server.issuer,
        validators: [createQemuVtpmValidator({ policy: client.policy })],
        onRejected: (e) => rejected.push(e.code),
      });
      try {
        let seen: PeerAttestation | undefined;
        const res = await attestedFetch(`https://127.0.0.1:${s.port}/whoami`, undefined, {
          mode,
          issuer: client.issuer,
          validators: [createQemuVtpmValidator({ policy: server.policy })],
          onAttested: (p) => {
            seen = p;
          },
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { variant: string | null; pcr4: string | null };
        expect(body).toEqual(
          serverSeesClient ? { variant: "qemu-vtpm", pcr4: hex(client.pcr4) } : { variant: null, pcr4: null },
        );
        if (clientSeesServer) {
          expect(seen?.variant).toBe("qemu-vtpm");
          expect(seen?.claims.measurements[4]).toBe(hex(server.pcr4));
          expect(seen?.claims.userData).toEqual(seen?.spkiDigest as Uint8Array);
        } else expect(seen).toBeUndefined();
        expect(rejected).toEqual([]);
      } finally {
        await s.close();
      }
    },
    20_000,
  );

  test("server with other measurements than the client's policy → EVIDENCE_REJECTED/MEASUREMENT_MISMATCH", async () => {
    const s = await serveAttested(app().app, { mode: "server-attested", issuer: client.issuer }); // PCR 4 = client's
    try {
      const f = await codes(
        connectAttested("127.0.0.1", s.port, {
          mode: "server-attested",
          validators: [createQemuVtpmValidator({ policy: server.policy })],
        }),
      );
      expect(f).toMatchObject({ code: "EVIDENCE_REJECTED", cause: "MEASUREMENT_MISMATCH" });
    } finally {
      await s.close();
    }
  }, 20_000);

  test("replayed real evidence (issued for an old nonce, same key) → EVIDENCE_REJECTED/NONCE_MISMATCH", async () => {
    const key = await freshKey();
    const old = await server.issuer.issue(key.userData, crypto.getRandomValues(new Uint8Array(32)));
    const recorded = await certWith(key, old);
    const evil = await evilServer(async () => recorded);
    try {
      const f = await codes(verifyAgainst(evil.port));
      expect(f).toMatchObject({ code: "EVIDENCE_REJECTED", cause: "NONCE_MISMATCH" });
    } finally {
      await evil.close();
    }
  }, 20_000);

  test("real evidence relayed by a MITM (fetched for the victim's nonce) → EVIDENCE_KEY_MISMATCH", async () => {
    const real = await serveAttested(app().app, { mode: "server-attested", issuer: server.issuer });
    const evil = await evilServer(async (servername) => {
      const upstream = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const u = tls.connect({ host: "127.0.0.1", port: real.port, servername, rejectUnauthorized: false });
        u.once("secureConnect", () => resolve(u));
        u.once("error", reject);
      });
      const der = new Uint8Array(upstream.getPeerCertificate(true).raw);
      upstream.destroy();
      const ext = new x509.X509Certificate(der).getExtension(VARIANTS["qemu-vtpm"].oid);
      return certWith(await freshKey(), new Uint8Array(ext?.value ?? new ArrayBuffer(0)));
    });
    try {
      expect((await codes(verifyAgainst(evil.port))).code).toBe("EVIDENCE_KEY_MISMATCH");
    } finally {
      await evil.close();
      await real.close();
    }
  }, 20_000);

  test("client with evidence the server's policy refuses → PEER_REJECTED, no handler", async () => {
    const a = app();
    const s = await serveAttested(a.app, {
      mode: "client-attested",
      validators: [createQemuVtpmValidator({ policy: server.policy })], // expects the server node's PCR 4
    });
    try {
      const f = await codes(
        attestedFetch(`https://127.0.0.1:${s.port}/whoami`, undefined, {
          mode: "client-attested",
          issuer: client.issuer,
        }),
      );
      expect(f).toMatchObject({ code: "PEER_REJECTED", actual: "EVIDENCE_REJECTED" });
      expect(a.handled()).toBe(0);
    } finally {
      await s.close();
    }
  }, 20_000);
});
