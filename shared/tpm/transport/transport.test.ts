import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { concat, fromHex } from "@asterism/bytes";
import { TransportError } from "../errors.ts";
import { deviceTransport, type TpmDeviceFile } from "./device.ts";
import { ResponseAssembler } from "./frame.ts";
import { serializeTransport } from "./serialize.ts";
import { connectTcp } from "./socket.ts";

const RESPONSE = fromHex("80010000000e000000000002abcd");

/**
 * The Linux TPM device files do not exist on this machine (no CONFIG_TCG_TPM), so the device transport's
 * framing is tested against a file-like stub that behaves as the driver does (one read per response) or
 * worse (short reads, short writes, garbage).
 */
function stubDevice(
  reads: Uint8Array[],
  opts: { shortWrite?: boolean } = {},
): TpmDeviceFile & { written: Uint8Array[] } {
  const written: Uint8Array[] = [];
  return {
    written,
    async write(b) {
      written.push(b.slice());
      return { bytesWritten: opts.shortWrite ? b.length - 1 : b.length };
    },
    async read(buf, offset) {
      const next = reads.shift() ?? new Uint8Array(0);
      buf.set(next, offset);
      return { bytesRead: next.length };
    },
    async close() {},
  };
}

describe("device transport (stubbed /dev/tpmrm0)", () => {
  test("one write, one read", async () => {
    const f = stubDevice([RESPONSE]);
    const t = deviceTransport(f);
    expect(await t.send(fromHex("80010000000c0000017b0002"))).toEqual(RESPONSE);
    expect(f.written.length).toBe(1);
  });

  test("short reads are reassembled", async () => {
    const t = deviceTransport(
      stubDevice([RESPONSE.subarray(0, 3), RESPONSE.subarray(3, 11), RESPONSE.subarray(11)]),
    );
    expect(await t.send(new Uint8Array(12))).toEqual(RESPONSE);
  });

  test.each([
    { name: "EOF mid-response", reads: [RESPONSE.subarray(0, 12)], code: "FRAMING" },
    { name: "bytes beyond responseSize", reads: [concat(RESPONSE, new Uint8Array(2))], code: "FRAMING" },
    { name: "responseSize below the header", reads: [fromHex("800100000002000000000000")], code: "FRAMING" },
    { name: "responseSize above the limit", reads: [fromHex("8001ffffffff00000000")], code: "FRAMING" },
  ])("$name → $code", async ({ reads, code }) => {
    const err = await deviceTransport(stubDevice([...reads]))
      .send(new Uint8Array(12))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect((err as TransportError).code).toBe(code as "FRAMING");
  });

  test("short write → IO_FAILED; closed → CLOSED", async () => {
    const t = deviceTransport(stubDevice([RESPONSE], { shortWrite: true }));
    await expect(t.send(new Uint8Array(12))).rejects.toMatchObject({ code: "IO_FAILED" });
    await t.close();
    await expect(t.send(new Uint8Array(12))).rejects.toMatchObject({ code: "CLOSED" });
  });
});

describe("ResponseAssembler", () => {
  test("splits merged responses and waits for split ones", () => {
    const a = new ResponseAssembler();
    a.push(concat(RESPONSE, RESPONSE.subarray(0, 5)));
    expect(a.take()).toEqual(RESPONSE);
    expect(a.take()).toBeUndefined();
    a.push(RESPONSE.subarray(5));
    expect(a.take()).toEqual(RESPONSE);
    expect(a.pending).toBe(0);
  });
});

describe("TCP stream transport against a loopback server", () => {
  let server: Server;
  let port = 0;
  const behaviours: ((s: Socket) => void)[] = [];
  beforeAll(async () => {
    server = createServer((s) => {
      s.on("data", () => behaviours.shift()?.(s));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  test("a response delivered in pieces is reassembled; sends are serialized", async () => {
    for (let i = 0; i < 3; i++)
      behaviours.push((s) => {
        s.write(RESPONSE.subarray(0, 4));
        setTimeout(() => s.write(RESPONSE.subarray(4)), 5);
      });
    const t = serializeTransport(await connectTcp({ host: "127.0.0.1", port }));
    const rs = await Promise.all([
      t.send(new Uint8Array(12)),
      t.send(new Uint8Array(12)),
      t.send(new Uint8Array(12)),
    ]);
    expect(rs).toEqual([RESPONSE, RESPONSE, RESPONSE]);
    await t.close();
  });

  test("peer closing mid-response → CLOSED", async () => {
    behaviours.push((s) => {
      s.end(RESPONSE.subarray(0, 6));
    });
    const t = await connectTcp({ host: "127.0.0.1", port });
    await expect(t.send(new Uint8Array(12))).rejects.toMatchObject({ code: "CLOSED" });
    await t.close();
  });

  test("no answer → TIMEOUT", async () => {
    behaviours.push(() => {});
    const t = await connectTcp({ host: "127.0.0.1", port, timeoutMs: 50 });
    await expect(t.send(new Uint8Array(12))).rejects.toMatchObject({ code: "TIMEOUT" });
    await t.close();
  });

  test("nothing listening → CONNECT_FAILED", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const dead = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await expect(connectTcp({ host: "127.0.0.1", port: dead })).rejects.toMatchObject({
      code: "CONNECT_FAILED",
    });
  });
});
