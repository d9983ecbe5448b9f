import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isAsterismError } from "@asterism/errors";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { getRandom, pcrEvent, readPcrs, TPM_ALG } from "@asterism/tpm";
import {
  backoffDelay,
  bootLocalNode,
  LifecycleError,
  localImage,
  NodeLock,
  openNodeTpm,
  parseTpmSpec,
  retryWithBackoff,
} from "./index.ts";

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (isAsterismError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe("NodeLock", () => {
  test("exactly one of racing activations wins and extends once", async () => {
    const lock = new NodeLock();
    let extensions = 0;
    const extend = async () => {
      await Bun.sleep(5);
      extensions++;
    };
    const id = new Uint8Array(32);
    const results = await Promise.all([
      lock.tryActivate("init", id, extend),
      lock.tryActivate("join", id, extend),
      lock.tryActivate("init", id, extend),
    ]);
    expect(results).toEqual([true, false, false]);
    expect(extensions).toBe(1);
    expect(lock.holder).toBe("init");
    expect(await codeOf(lock.activate("join", id, extend))).toBe("NODE_LOCKED");
  });

  test("a failed extension keeps the lock taken (one-way)", async () => {
    const lock = new NodeLock();
    const err = await lock
      .tryActivate("join", new Uint8Array(32), async () => {
        throw new Error("tpm gone");
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(await lock.tryActivate("init", new Uint8Array(32), async () => {})).toBe(false);
  });
});

describe("backoff", () => {
  test("capped exponential ceiling with full jitter", () => {
    const top = (a: number) => backoffDelay(a, { baseMs: 100, capMs: 1000, random: () => 0.999999 });
    expect([0, 1, 2, 3, 4, 5, 60].map(top)).toEqual([99, 199, 399, 799, 999, 999, 999]);
    expect(backoffDelay(3, { baseMs: 100, capMs: 1000, random: () => 0 })).toBe(0);
  });

  test("retries until success; gives up at the deadline with ABORTED; honours retryable", async () => {
    let calls = 0;
    const v = await retryWithBackoff(
      async () => {
        if (++calls < 3) throw new Error("not yet");
        return "ok";
      },
      { baseMs: 1, capMs: 2 },
    );
    expect(v).toBe("ok");
    expect(calls).toBe(3);
    const t0 = Date.now();
    expect(
      await codeOf(
        retryWithBackoff(
          async () => {
            throw new Error("never");
          },
          { baseMs: 5, capMs: 10, deadline: Date.now() + 60 },
        ),
      ),
    ).toBe("ABORTED");
    expect(Date.now() - t0).toBeLessThan(1000);
    const fatal = new LifecycleError("REFUSED", "no");
    expect(
      await retryWithBackoff(
        async () => {
          throw fatal;
        },
        { retryable: () => false },
      ).catch((e: unknown) => e),
    ).toBe(fatal);
  });
});

describe("TPM spec and on-demand sharing", () => {
  let sw: SwtpmInstance;
  beforeAll(async () => {
    sw = await startSwtpm();
    await bootLocalNode(sw, localImage("share"));
  });
  afterAll(() => sw?.stop());

  test.each([
    { s: "swtpm:127.0.0.1:2321", ok: true },
    { s: "/dev/tpmrm0", ok: true },
    { s: "swtpm:10.0.0.1:2321", ok: false },
    { s: "swtpm:127.0.0.1:99999", ok: false },
    { s: "/etc/passwd", ok: false },
  ])("parseTpmSpec($s)", ({ s, ok }) => {
    if (ok) expect(parseTpmSpec(s).kind).toBeDefined();
    else expect(() => parseTpmSpec(s)).toThrow(LifecycleError);
  });

  test("two processes' worth of clients interleave on one single-client swtpm", async () => {
    const a = await openNodeTpm({ kind: "swtpm", host: sw.host, port: sw.port }, { idleMs: 5 });
    const b = await openNodeTpm({ kind: "swtpm", host: sw.host, port: sw.port }, { idleMs: 5 });
    try {
      const t0 = performance.now();
      await Promise.all([
        (async () => {
          for (let i = 0; i < 10; i++) await getRandom(a, 8);
        })(),
        (async () => {
          for (let i = 0; i < 10; i++) await pcrEvent(b, 23, new Uint8Array([i]));
        })(),
      ]);
      expect(performance.now() - t0).toBeLessThan(3000);
      const pcrs = await readPcrs(a, [{ hash: TPM_ALG.SHA256, pcrSelect: [23] }]);
      expect(pcrs.get(TPM_ALG.SHA256)?.get(23)?.length).toBe(32);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
