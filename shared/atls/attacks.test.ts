/**
 * The attacks of docs/atls.md §6, one named case each. Every refusal is asserted by code (and, where a
 * validator decides, by the validator's code in `cause`), and handlers are shown never to run.
 * Evidence: the software attester of @asterism/testing (it proves nothing, but it binds exactly like a
 * real variant: extraData = SHA-256(userData ‖ nonce)).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import type tls from "node:tls";
import { VARIANTS } from "@asterism/attestation";
import { createSoftwareAttester, type SoftwareAttester } from "@asterism/testing";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { generateCertificateKey, mintCertificate } from "./certificate.ts";
import { ATLS_FRAME_TYPE, decodeVerdict, encodeClientEvidence, readFrame } from "./frames.ts";
import { attestedFetch, connectAttested, decodeSniNonce, encodeSniNonce } from "./index.ts";
import { channelBinding } from "./options.ts";
import {
  eventually,
  failure,
  forgeCertificate,
  rawTlsClient,
  rawTlsServer,
  readUntilClose,
  startApp,
} from "./testing/fixtures.ts";

const QEMU = VARIANTS["qemu-vtpm"].oid;
const AZURE = VARIANTS["azure-sev-snp"].oid;

let node: SoftwareAttester; // honest server ("qemu-vtpm")
let joiner: SoftwareAttester; // honest client ("azure-sev-snp")
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  node = await createSoftwareAttester({ variant: "qemu-vtpm" });
  joiner = await createSoftwareAttester({ variant: "azure-sev-snp" });
});
afterAll(async () => {
  await Promise.all(cleanups.map((c) => c()));
});

async function app(
  options: Partial<Parameters<typeof startApp>[0]> & { mode: Parameters<typeof startApp>[0]["mode"] },
) {
  const a = await startApp({ issuer: node.issuer, validators: [joiner.validator()], ...options });
  cleanups.push(() => a.close());
  return a;
}
async function evilServer(opts: Parameters<typeof rawTlsServer>[0]) {
  const s = await rawTlsServer(opts);
  cleanups.push(() => s.close());
  return s;
}
const verifyServer = (port: number, extra: Parameters<typeof connectAttested>[2] | object = {}) =>
  connectAttested("127.0.0.1", port, {
    mode: "server-attested",
    validators: [node.validator()],
    handshakeTimeoutMs: 2000,
    ...extra,
  });

/** Send a client-evidence frame on a raw connection and return the server's verdict. */
async function sendEvidence(s: tls.TLSSocket, oid: string, document: Uint8Array) {
  s.write(encodeClientEvidence(oid, document));
  return decodeVerdict(
    await readFrame(s, {
      type: ATLS_FRAME_TYPE.SERVER_VERDICT,
      maxBody: 66,
      timeoutMs: 3000,
      tooLargeCode: "PROTOCOL_VIOLATION",
      what: "verdict",
      trailing: "keep",
    }),
  );
}

describe("client refuses a server that cannot prove itself", () => {
  test("replayed evidence: an old document for another nonce, even with its certificate key → EVIDENCE_REJECTED/NONCE_MISMATCH", async () => {
    const key = await generateCertificateKey();
    const old = await node.issuer.issue(key.spkiDigest, crypto.getRandomValues(new Uint8Array(32)));
    const recorded = await mintCertificate(key, { now: new Date(), extensions: [{ oid: QEMU, value: old }] });
    const evil = await evilServer({ certFor: async () => recorded });
    expect(await failure(verifyServer(evil.port))).toMatchObject({
      code: "EVIDENCE_REJECTED",
      cause: "NONCE_MISMATCH",
    });
  });

  test("relayed evidence: a MITM fetches the real server's evidence for the client's nonce → EVIDENCE_KEY_MISMATCH", async () => {
    const real = await app({ mode: "server-attested" });
    let relayed = 0;
    const mitm = await evilServer({
      certFor: async (servername) => {
        // Open a connection to the real server with the victim's SNI (so: its nonce) and copy the evidence.
        const upstream = await rawTlsClient(real.server.port, { servername });
        const der = upstream.getPeerCertificate(true).raw;
        upstream.destroy();
        const ext = new x509.X509Certificate(new Uint8Array(der)).getExtension(QEMU);
        if (ext === null) throw new Error("real server sent no evidence");
        relayed++;
        return forgeCertificate([{ oid: QEMU, value: new Uint8Array(ext.value) }]);
      },
    });
    expect(await failure(verifyServer(mitm.port))).toMatchObject({ code: "EVIDENCE_KEY_MISMATCH" });
    expect(relayed).toBe(1);
  });

  test("wrong measurements → EVIDENCE_REJECTED/MEASUREMENT_MISMATCH", async () => {
    const a = await app({ mode: "server-attested" });
    const policy = node.validator({ 4: "00".repeat(32), 9: "22".repeat(32) });
    expect(await failure(verifyServer(a.server.port, { validators: [policy] }))).toMatchObject({
      code: "EVIDENCE_REJECTED",
      cause: "MEASUREMENT_MISMATCH",
    });
  });

  test("evidence signed by an untrusted root (same variant) → EVIDENCE_REJECTED/SIGNATURE_INVALID", async () => {
    const impostor = await createSoftwareAttester({ variant: "qemu-vtpm" });
    const a = await app({ mode: "server-attested", issuer: impostor.issuer });
    expect(await failure(verifyServer(a.server.port))).toMatchObject({
      code: "EVIDENCE_REJECTED",
      cause: "SIGNATURE_INVALID",
    });
  });

  test("certificate key not matching the evidence (fresh nonce, other key) → EVIDENCE_KEY_MISMATCH", async () => {
    const evil = await evilServer({
      certFor: async (servername) => {
        const attested = await generateCertificateKey();
        const doc = await node.issuer.issue(attested.spkiDigest, decodeSniNonce(servername));
        return forgeCertificate([{ oid: QEMU, value: doc }]);
      },
    });
    expect(await failure(verifyServer(evil.port))).toMatchObject({ code: "EVIDENCE_KEY_MISMATCH" });
  });

  test.each([
    { name: "expired", offsetMs: -20 * 60_000, lifetime: undefined, wantCode: "CERT_EXPIRED" },
    { name: "not yet valid", offsetMs: 5 * 60_000, lifetime: undefined, wantCode: "CERT_NOT_YET_VALID" },
    { name: "valid for a day", offsetMs: 0, lifetime: 24 * 3600_000, wantCode: "CERT_VALIDITY_TOO_LONG" },
  ])("$name certificate → $wantCode", async ({ offsetMs, lifetime, wantCode }) => {
    const a = await app({
      mode: "server-attested",
      now: () => new Date(Date.now() + offsetMs),
      ...(lifetime === undefined ? {} : { certificateLifetimeMs: lifetime }),
    });
    expect((await failure(verifyServer(a.server.port))).code).toBe(wantCode);
  });

  test("TLS 1.2 server → TLS_VERSION_REJECTED", async () => {
    const evil = await evilServer({
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.2",
      certFor: async () => forgeCertificate([]),
    });
    expect((await failure(verifyServer(evil.port))).code).toBe("TLS_VERSION_REJECTED");
  });

  test("no attestation extension (a plain self-signed certificate) → EVIDENCE_MISSING", async () => {
    const plain = await app({ mode: "client-attested" }); // its certificates carry no evidence
    expect((await failure(verifyServer(plain.server.port))).code).toBe("EVIDENCE_MISSING");
  });

  test.each([
    {
      name: "extension over the client's bound (16 KiB here)",
      ext: [{ oid: QEMU, value: new Uint8Array(20 * 1024) }],
      wantCode: "EVIDENCE_TOO_LARGE",
    },
    {
      name: "extension over what TLS carries (120 KiB: BoringSSL's 100 KiB message cap)",
      ext: [{ oid: QEMU, value: new Uint8Array(120 * 1024) }],
      wantCode: "EVIDENCE_TOO_LARGE",
    },
    {
      name: "malformed extension",
      ext: [{ oid: QEMU, value: new TextEncoder().encode("{not json") }],
      wantCode: "EVIDENCE_REJECTED",
      wantCause: "DOCUMENT_MALFORMED",
    },
    {
      name: "two attestation extensions",
      ext: [
        { oid: QEMU, value: new Uint8Array(4) },
        { oid: AZURE, value: new Uint8Array(4) },
      ],
      wantCode: "EVIDENCE_AMBIGUOUS",
    },
    {
      name: "a variant the client does not accept",
      ext: [{ oid: AZURE, value: new Uint8Array(4) }],
      wantCode: "EVIDENCE_VARIANT_NOT_ACCEPTED",
    },
    {
      name: "an unknown critical extension",
      ext: [{ oid: "1.2.3.4.5", value: new Uint8Array([5, 0]), critical: true }],
      wantCode: "CERT_UNKNOWN_CRITICAL_EXTENSION",
    },
  ])("$name → $wantCode", async ({ ext, wantCode, wantCause }) => {
    const evil = await evilServer({ certFor: async () => forgeCertificate(ext) });
    const f = await failure(verifyServer(evil.port, { maxEvidenceBytes: 16 * 1024 }));
    expect(f.code).toBe(wantCode);
    if (wantCause !== undefined) expect(f.cause).toBe(wantCause);
  });

  test("slow validator → ATTESTATION_TIMEOUT", async () => {
    const a = await app({ mode: "server-attested" });
    const stuck = { variant: "qemu-vtpm" as const, validate: () => new Promise<never>(() => {}) };
    expect(
      (await failure(verifyServer(a.server.port, { validators: [stuck], attestationTimeoutMs: 100 }))).code,
    ).toBe("ATTESTATION_TIMEOUT");
  });

  test("silent server (slow-loris on the client) → HANDSHAKE_TIMEOUT", async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    cleanups.push(async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const port = (silent.address() as net.AddressInfo).port;
    const t0 = Date.now();
    expect((await failure(verifyServer(port, { handshakeTimeoutMs: 200 }))).code).toBe("HANDSHAKE_TIMEOUT");
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test("no request byte is sent to a server that fails verification", async () => {
    let received = 0;
    const evil = await evilServer({
      certFor: async () => forgeCertificate([]),
      onSecure: (s) => s.on("data", (d) => (received += d.length)),
    });
    const f = await failure(
      attestedFetch(
        `https://127.0.0.1:${evil.port}/secret`,
        { method: "POST", body: "s3cret" },
        {
          mode: "server-attested",
          validators: [node.validator()],
        },
      ),
    );
    expect(f.code).toBe("EVIDENCE_MISSING");
    await Bun.sleep(50);
    expect(received).toBe(0);
  });
});

describe("server refuses connections that do not prove themselves", () => {
  test("TLS 1.2 offered → handshake refused, TLS_VERSION_REJECTED", async () => {
    const a = await app({ mode: "server-attested" });
    await expect(
      rawTlsClient(a.server.port, { servername: encodeSniNonce(new Uint8Array(32)), maxVersion: "TLSv1.2" }),
    ).rejects.toThrow();
    await eventually(() => a.rejected.includes("TLS_VERSION_REJECTED"));
  });

  test.each([
    { name: "a server name without a nonce", servername: "localhost", wantCode: "NONCE_MISSING" },
    // No SNI: the server has no default certificate, so BoringSSL fails the handshake itself.
    { name: "no server name at all", servername: undefined, wantCode: "HANDSHAKE_FAILED" },
    {
      name: "a malformed nonce",
      servername: `${"b".repeat(52)}.atls-v1.invalid`,
      wantCode: "NONCE_MALFORMED",
    },
  ])("$name → $wantCode, no evidence issued", async ({ servername, wantCode }) => {
    let issued = 0;
    const a = await app({
      mode: "server-attested",
      issuer: {
        variant: "qemu-vtpm",
        issue: (u, n) => {
          issued++;
          return node.issuer.issue(u, n);
        },
      },
    });
    await expect(
      rawTlsClient(a.server.port, servername === undefined ? {} : { servername }),
    ).rejects.toThrow();
    await eventually(() => a.rejected.includes(wantCode));
    await Bun.sleep(50);
    expect(a.rejected).toEqual([wantCode]); // one report per refused handshake, with the precise code
    expect(issued).toBe(0);
  });

  test.each([
    { name: "silent TCP connection", bytes: new Uint8Array(0) },
    { name: "partial ClientHello", bytes: new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]) },
  ])("slow-loris handshake ($name) → closed, HANDSHAKE_TIMEOUT", async ({ bytes }) => {
    const a = await app({ mode: "server-attested", handshakeTimeoutMs: 250 });
    const t0 = Date.now();
    const s = net.connect(a.server.port, "127.0.0.1");
    s.write(bytes);
    await readUntilClose(s, 3000);
    expect(Date.now() - t0).toBeLessThan(2000);
    await eventually(() => a.rejected.includes("HANDSHAKE_TIMEOUT"));
  });

  test("the handshake deadline ends with the handshake: a proven idle connection outlives it", async () => {
    const a = await app({ mode: "mutual", handshakeTimeoutMs: 150, headersTimeoutMs: 5000 });
    const { socket } = await connectAttested("127.0.0.1", a.server.port, {
      mode: "mutual",
      issuer: joiner.issuer,
      validators: [node.validator()],
    });
    await Bun.sleep(400);
    expect(socket.destroyed).toBe(false);
    socket.write("GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    socket.resume();
    const answer = new TextDecoder().decode(await readUntilClose(socket));
    expect(answer).toStartWith("HTTP/1.1 200");
    expect(a.rejected).toEqual([]);
  });

  test("slow-loris on HTTP headers after a proven handshake → closed, HEADER_TIMEOUT, no handler", async () => {
    const a = await app({ mode: "server-attested", headersTimeoutMs: 250 });
    const { socket } = await verifyServer(a.server.port);
    socket.write("GET /whoami HTTP/1.1\r\nHost: x\r\n");
    const drip = setInterval(() => socket.writable && socket.write("X-Drip: 1\r\n"), 50);
    const t0 = Date.now();
    await readUntilClose(socket, 3000);
    clearInterval(drip);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(a.rejected).toContain("HEADER_TIMEOUT");
    expect(a.handled()).toBe(0);
  });

  test.each([
    { name: "route that never reads its body", path: "/nowhere", status: 404 },
    { name: "capped read that cancels the rest", path: "/capped", status: 413 },
  ])(
    "a body streamed on after its answer ($name) → connection closed, not buffered",
    async ({ path, status }) => {
      const a = await app({ mode: "server-attested" });
      const { socket } = await verifyServer(a.server.port);
      let answer = "";
      let closed = false;
      socket.on("data", (d: Buffer) => {
        answer += d.toString("latin1");
      });
      socket.on("error", () => undefined);
      socket.once("close", () => {
        closed = true;
      });
      // A flooding client: 16 MiB of chunked body queued at once, whatever the server answers.
      socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
      const mib = new Uint8Array(1024 * 1024).fill(0x41);
      for (let i = 0; i < 16; i++) {
        socket.write(`${mib.length.toString(16)}\r\n`);
        socket.write(mib);
        socket.write("\r\n");
      }
      await eventually(() => closed, 3000);
      expect(answer).toStartWith(`HTTP/1.1 ${status} `);
      // The server stopped reading once its answer was out, instead of taking in (and keeping) it all.
      const [server] = a.sockets;
      expect(server).toBeDefined();
      expect(server?.bytesRead ?? Number.POSITIVE_INFINITY).toBeLessThan(8 * 1024 * 1024);
    },
  );

  test("slow evidence issuance → ATTESTATION_TIMEOUT on the server, handshake fails", async () => {
    const a = await app({
      mode: "server-attested",
      issuer: { variant: "qemu-vtpm", issue: () => new Promise<never>(() => {}) },
      attestationTimeoutMs: 100,
    });
    expect((await failure(verifyServer(a.server.port))).code).toBe("HANDSHAKE_FAILED");
    await eventually(() => a.rejected.includes("ATTESTATION_TIMEOUT"));
  });

  test("ClientHello flood: handshakes beyond maxPendingAttestations are refused (BUSY), not queued", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = 0;
    const a = await app({
      mode: "server-attested",
      maxPendingAttestations: 1,
      issuer: {
        variant: "qemu-vtpm",
        issue: async (u, n) => {
          started++;
          await gate;
          return node.issuer.issue(u, n);
        },
      },
    });
    const first = verifyServer(a.server.port);
    await eventually(() => started === 1); // the only slot is taken
    expect((await failure(verifyServer(a.server.port))).code).toBe("HANDSHAKE_FAILED");
    expect(a.rejected).toContain("BUSY");
    release();
    const ok = await first;
    ok.socket.destroy();
    // The slot is free again.
    (await verifyServer(a.server.port)).socket.destroy();
  });

  test("unproven client sends an HTTP request → PROTOCOL_VIOLATION, no handler runs", async () => {
    const a = await app({ mode: "client-attested" });
    const s = await rawTlsClient(a.server.port, {
      servername: "x.invalid",
      cert: await forgeCertificate([]),
    });
    s.write("GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n");
    const answer = await readUntilClose(s);
    expect(decodeVerdict(answer.subarray(10))).toEqual({ accepted: false, code: "PROTOCOL_VIOLATION" });
    expect(new TextDecoder().decode(answer)).not.toContain("HTTP/1.1");
    expect(a.rejected).toContain("PROTOCOL_VIOLATION");
    expect(a.handled()).toBe(0);
  });

  test("client without a certificate → CERT_MISSING", async () => {
    const a = await app({ mode: "client-attested" });
    const s = await rawTlsClient(a.server.port, { servername: "x.invalid" });
    await readUntilClose(s);
    await eventually(() => a.rejected.includes("CERT_MISSING"));
    expect(a.handled()).toBe(0);
  });

  test("replayed client evidence (exporter of an earlier session), same client key → EVIDENCE_REJECTED", async () => {
    const a = await app({ mode: "client-attested" });
    const key = await generateCertificateKey();
    const cert = await mintCertificate(key, { now: new Date() });
    const first = await rawTlsClient(a.server.port, { servername: "x.invalid", cert });
    const recorded = await joiner.issuer.issue(key.spkiDigest, channelBinding(first));
    expect(await sendEvidence(first, AZURE, recorded)).toEqual({ accepted: true });
    first.destroy();
    const second = await rawTlsClient(a.server.port, { servername: "x.invalid", cert });
    expect(await sendEvidence(second, AZURE, recorded)).toEqual({
      accepted: false,
      code: "EVIDENCE_REJECTED",
    });
    second.destroy();
    expect(a.rejected).toEqual(["EVIDENCE_REJECTED"]);
  });

  test("client evidence relayed by a MITM terminating TLS → refused by the server (exporter differs)", async () => {
    const real = await app({ mode: "client-attested" });
    const mitm = await evilServer({
      requestCert: true,
      certFor: async () => forgeCertificate([]),
      onSecure: async (victim) => {
        // Forward the victim's frame verbatim over the MITM's own session, and the verdict back.
        const upstream = await rawTlsClient(real.server.port, {
          servername: "x.invalid",
          cert: await forgeCertificate([]),
        });
        victim.on("data", (d) => upstream.write(d));
        upstream.on("data", (d) => victim.write(d));
        upstream.on("close", () => victim.end());
      },
    });
    const f = await failure(
      connectAttested("127.0.0.1", mitm.port, {
        mode: "client-attested",
        issuer: joiner.issuer,
        attestationTimeoutMs: 3000,
      }),
    );
    expect(f).toMatchObject({ code: "PEER_REJECTED", actual: "EVIDENCE_REJECTED" });
    await eventually(() => real.rejected.includes("EVIDENCE_REJECTED"));
    expect(real.handled()).toBe(0);
  });

  test("client evidence for another key (right exporter) → EVIDENCE_KEY_MISMATCH", async () => {
    const a = await app({ mode: "client-attested" });
    const s = await rawTlsClient(a.server.port, {
      servername: "x.invalid",
      cert: await forgeCertificate([]),
    });
    const otherKey = await generateCertificateKey();
    const doc = await joiner.issuer.issue(otherKey.spkiDigest, channelBinding(s));
    expect(await sendEvidence(s, AZURE, doc)).toEqual({ accepted: false, code: "EVIDENCE_KEY_MISMATCH" });
    s.destroy();
  });

  test("client with wrong measurements → PEER_REJECTED (EVIDENCE_REJECTED), no handler", async () => {
    const a = await app({ mode: "mutual" });
    // Authentic evidence (the trusted key signs it) whose measurements differ from the server's policy.
    const wrong = {
      variant: "azure-sev-snp" as const,
      issue: async (u: Uint8Array, n: Uint8Array) => {
        const extra = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array([...u, ...n])));
        return joiner.sign({ userData: u, extraData: extra, measurements: { 4: "ee".repeat(32) } });
      },
    };
    const f = await failure(
      attestedFetch(`${a.url}/whoami`, undefined, {
        mode: "mutual",
        issuer: wrong,
        validators: [node.validator()],
      }),
    );
    expect(f).toMatchObject({ code: "PEER_REJECTED", actual: "EVIDENCE_REJECTED" });
    expect(a.handled()).toBe(0);
  });

  test("oversized client evidence frame → EVIDENCE_TOO_LARGE before the body is read", async () => {
    const a = await app({ mode: "client-attested" });
    const s = await rawTlsClient(a.server.port, {
      servername: "x.invalid",
      cert: await forgeCertificate([]),
    });
    s.write(new Uint8Array([0x41, 0x54, 0x4c, 0x53, 1, 1, 0x00, 0x10, 0x00, 0x00])); // announces 1 MiB
    const answer = await readUntilClose(s);
    expect(decodeVerdict(answer.subarray(10))).toEqual({ accepted: false, code: "EVIDENCE_TOO_LARGE" });
  });

  test("evidence followed by a pipelined request before the verdict → UNEXPECTED_DATA, no handler", async () => {
    const a = await app({ mode: "client-attested" });
    const key = await generateCertificateKey();
    const s = await rawTlsClient(a.server.port, {
      servername: "x.invalid",
      cert: await mintCertificate(key, { now: new Date() }),
    });
    const doc = await joiner.issuer.issue(key.spkiDigest, channelBinding(s));
    s.write(Buffer.concat([encodeClientEvidence(AZURE, doc), Buffer.from("GET /whoami HTTP/1.1\r\n\r\n")]));
    await readUntilClose(s);
    expect(a.rejected).toContain("UNEXPECTED_DATA");
    expect(a.handled()).toBe(0);
  });

  test("client that never sends its evidence → ATTESTATION_TIMEOUT", async () => {
    const a = await app({ mode: "client-attested", attestationTimeoutMs: 200 });
    const s = await rawTlsClient(a.server.port, {
      servername: "x.invalid",
      cert: await forgeCertificate([]),
    });
    await readUntilClose(s);
    expect(a.rejected).toContain("ATTESTATION_TIMEOUT");
  });

  test("expired client certificate → CERT_EXPIRED", async () => {
    const a = await app({ mode: "client-attested" });
    const key = await generateCertificateKey();
    const stale = await mintCertificate(key, { now: new Date(Date.now() - 3600_000) });
    const s = await rawTlsClient(a.server.port, { servername: "x.invalid", cert: stale });
    const doc = await joiner.issuer.issue(key.spkiDigest, channelBinding(s));
    expect(await sendEvidence(s, AZURE, doc)).toEqual({ accepted: false, code: "CERT_EXPIRED" });
    s.destroy();
    expect(a.handled()).toBe(0);
  });
});
