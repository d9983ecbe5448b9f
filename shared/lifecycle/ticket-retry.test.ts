// The ticket clients' retry classification against a real aTLS server (client-attested, as the
// JoinService): a refusal before judgement (BUSY: the pending-attestation bound of 1 is taken; NOT_READY:
// no policy yet) is `BUSY` and retried with the capped, jittered backoff; a refusal of the evidence or of
// the request is final and ends the loop after one attempt. Software evidence (proves nothing; the aTLS
// protocol, framing and verdicts are the real ones).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AtlsError, type AtlsServer, serveAttested } from "@asterism/atls";
import type { Validator } from "@asterism/attestation";
import { createSoftwareAttester, type SoftwareAttester } from "@asterism/testing";
import {
  askEndpoints,
  classifyTicketFailure,
  isRetryableTicketFailure,
  LifecycleError,
  requestRejoinTicket,
  retryWithBackoff,
  type TicketFailureKind,
} from "./index.ts";

const DISK = "12345678-1234-1234-1234-123456789abc";
const b64 = (n: number, fill: number) => Buffer.from(new Uint8Array(n).fill(fill)).toString("base64");
const TICKET = { diskKey: b64(32, 1), measurementSecret: b64(32, 2) };

let node: SoftwareAttester;
let stranger: SoftwareAttester;
const servers: AtlsServer[] = [];

beforeAll(async () => {
  node = await createSoftwareAttester();
  stranger = await createSoftwareAttester({ measurements: { 4: "33".repeat(32) } });
});
afterAll(async () => {
  for (const s of servers) await s.close();
});

/** A rejoin endpoint on a real aTLS listener; `answer` decides the HTTP answer of each request. */
async function joinService(opts: {
  validator?: Validator;
  maxPendingAttestations?: number;
  ready?: () => boolean;
  attestationTimeoutMs?: number;
  answer?: () => Response;
}) {
  const rejected: string[] = [];
  let handled = 0;
  const server = await serveAttested(
    {
      fetch: () => {
        handled++;
        return opts.answer?.() ?? Response.json(TICKET);
      },
    },
    {
      mode: "client-attested",
      validators: [opts.validator ?? node.validator()],
      ...(opts.maxPendingAttestations ? { maxPendingAttestations: opts.maxPendingAttestations } : {}),
      ...(opts.ready ? { ready: opts.ready } : {}),
      ...(opts.attestationTimeoutMs ? { attestationTimeoutMs: opts.attestationTimeoutMs } : {}),
      onRejected: (e) => rejected.push(e.code),
    },
  );
  servers.push(server);
  return { url: `https://127.0.0.1:${server.port}`, rejected, handled: () => handled };
}

/** A validator that holds every validation until `release()`, so the server's only slot stays taken. */
function gatedValidator(inner: Validator) {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let started = 0;
  const validator: Validator = {
    variant: inner.variant,
    validate: async (document, nonce) => {
      started++;
      await gate;
      return inner.validate(document, nonce);
    },
  };
  return { validator, release: () => release(), started: () => started };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );

async function until(f: () => boolean) {
  for (let i = 0; i < 200 && !f(); i++) await Bun.sleep(10);
  expect(f()).toBe(true);
}

/** The bootstrapper's loop in small: backoff from 5 ms capped at 20 ms, the lifecycle's retry policy. */
function retrying(url: string, issuer = node.issuer) {
  const kinds: TicketFailureKind[] = [];
  const run = retryWithBackoff(() => requestRejoinTicket({ endpoint: url, issuer, diskUuid: DISK }), {
    baseMs: 5,
    capMs: 20,
    deadline: Date.now() + 10_000,
    retryable: isRetryableTicketFailure,
    onRetry: (err) => kinds.push(classifyTicketFailure(err)),
  });
  return { run, kinds };
}

describe("aTLS BUSY is a reason to retry, not a trust refusal", () => {
  test("pending limit 1, taken: the next node gets BUSY (not NOT_TRUSTED), retries, and gets its ticket once the slot frees", async () => {
    const gated = gatedValidator(node.validator());
    const js = await joinService({ validator: gated.validator, maxPendingAttestations: 1 });
    const first = requestRejoinTicket({ endpoint: js.url, issuer: node.issuer, diskUuid: DISK });
    await until(() => gated.started() === 1); // the only slot is held

    const busy = await failure(
      requestRejoinTicket({ endpoint: js.url, issuer: node.issuer, diskUuid: DISK }),
    );
    expect(busy).toBeInstanceOf(LifecycleError);
    expect((busy as LifecycleError).code).toBe("BUSY");
    expect((busy as LifecycleError).actual).toBe("BUSY");
    expect(classifyTicketFailure(busy)).toBe("busy");
    expect(js.rejected).toContain("BUSY");

    const second = retrying(js.url);
    await until(() => second.kinds.length >= 2); // refused while the slot is held, and retried
    gated.release();
    expect(await first).toMatchObject({ diskKey: new Uint8Array(32).fill(1) });
    expect(await second.run).toMatchObject({ diskKey: new Uint8Array(32).fill(1) });
    expect(second.kinds.every((k) => k === "busy")).toBe(true);
    expect(js.handled()).toBe(2);
  });

  test("NOT_READY (no policy loaded yet) is retried the same way, with no validator run", async () => {
    let ready = false;
    let validations = 0;
    const inner = node.validator();
    const js = await joinService({
      ready: () => ready,
      validator: {
        variant: inner.variant,
        validate: (d, n) => {
          validations++;
          return inner.validate(d, n);
        },
      },
    });
    const err = await failure(requestRejoinTicket({ endpoint: js.url, issuer: node.issuer, diskUuid: DISK }));
    expect((err as LifecycleError).code).toBe("BUSY");
    expect((err as LifecycleError).actual).toBe("NOT_READY");
    expect(validations).toBe(0);
    const later = retrying(js.url);
    await until(() => later.kinds.length >= 2);
    ready = true;
    expect(await later.run).toMatchObject({ measurementSecret: new Uint8Array(32).fill(2) });
    expect(later.kinds.every((k) => k === "busy")).toBe(true);
    expect(validations).toBe(1);
  });

  test("a real trust refusal (evidence the policy rejects) fails fast: one attempt, NOT_TRUSTED", async () => {
    const js = await joinService({});
    const t0 = performance.now();
    const r = retrying(js.url, stranger.issuer);
    const err = await failure(r.run);
    expect((err as LifecycleError).code).toBe("NOT_TRUSTED");
    expect(classifyTicketFailure(err)).toBe("refused");
    expect(r.kinds).toEqual([]); // never retried
    expect(js.rejected).toEqual(["EVIDENCE_REJECTED"]);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });

  test("an HTTP refusal (403 with a code) fails fast; a 503 is retried", async () => {
    let status = 503;
    const js = await joinService({
      answer: () =>
        Response.json(
          { error: { code: status === 503 ? "KMS_UNAVAILABLE" : "DISK_UNKNOWN", message: "no" } },
          { status },
        ),
    });
    const r = retrying(js.url);
    await until(() => r.kinds.length >= 2);
    status = 403;
    const err = await failure(r.run);
    expect((err as LifecycleError).code).toBe("REFUSED");
    expect((err as LifecycleError).remoteCode).toBe("DISK_UNKNOWN");
    expect(r.kinds.every((k) => k === "transient")).toBe(true);
  });
});

describe("classifyTicketFailure", () => {
  const verdict = (code: string) =>
    new LifecycleError("NOT_TRUSTED", "x", {
      cause: new AtlsError("PEER_REJECTED", "refused", { actual: code }),
    });
  const cases: { name: string; err: unknown; want: TicketFailureKind }[] = [
    { name: "aTLS BUSY", err: new LifecycleError("BUSY", "x"), want: "busy" },
    { name: "nobody answered", err: new LifecycleError("UNAVAILABLE", "x"), want: "unavailable" },
    { name: "HTTP 429", err: new LifecycleError("REFUSED", "x", { status: 429 }), want: "busy" },
    { name: "HTTP 503", err: new LifecycleError("REFUSED", "x", { status: 503 }), want: "transient" },
    { name: "HTTP 500", err: new LifecycleError("REFUSED", "x", { status: 500 }), want: "transient" },
    { name: "HTTP 403", err: new LifecycleError("REFUSED", "x", { status: 403 }), want: "refused" },
    { name: "HTTP 400", err: new LifecycleError("REFUSED", "x", { status: 400 }), want: "refused" },
    { name: "verdict EVIDENCE_REJECTED", err: verdict("EVIDENCE_REJECTED"), want: "refused" },
    { name: "verdict EVIDENCE_KEY_MISMATCH", err: verdict("EVIDENCE_KEY_MISMATCH"), want: "refused" },
    { name: "verdict CERT_EXPIRED", err: verdict("CERT_EXPIRED"), want: "refused" },
    { name: "verdict ATTESTATION_TIMEOUT", err: verdict("ATTESTATION_TIMEOUT"), want: "transient" },
    {
      name: "our issuer failed (not the server's word)",
      err: new LifecycleError("NOT_TRUSTED", "x", { cause: new AtlsError("ISSUE_FAILED", "x") }),
      want: "transient",
    },
    { name: "wrong answer shape", err: new LifecycleError("INVALID_RESPONSE", "x"), want: "transient" },
    { name: "not a lifecycle error", err: new Error("metadata down"), want: "transient" },
  ];
  test.each(cases)("$name → $want", ({ err, want }) => {
    expect(classifyTicketFailure(err)).toBe(want);
    expect(isRetryableTicketFailure(err)).toBe(want !== "refused");
  });
});

describe("askEndpoints", () => {
  const refused = new LifecycleError("REFUSED", "x", { status: 403 });
  const busy = new LifecycleError("BUSY", "x");
  test("first ticket wins; a refusal elsewhere does not stop the round", async () => {
    const asked: string[] = [];
    const got = await askEndpoints(
      ["a", "b", "c"],
      async (e) => {
        asked.push(e);
        if (e === "a") throw refused;
        if (e === "b") throw busy;
        return e;
      },
      { none: "none" },
    );
    expect(got).toBe("c");
    expect(asked).toEqual(["a", "b", "c"]);
  });
  test("no ticket: a refusal is thrown before a later busy answer (the round's verdict is final)", async () => {
    const err = await failure(
      askEndpoints(
        ["a", "b"],
        async (e) => {
          throw e === "a" ? refused : busy;
        },
        { none: "none" },
      ),
    );
    expect(err).toBe(refused);
  });
  test("no endpoints → UNAVAILABLE (retried)", async () => {
    const err = await failure(askEndpoints([], async () => 1, { none: "nothing registered" }));
    expect((err as LifecycleError).code).toBe("UNAVAILABLE");
  });
  test("an aborted signal stops the round", async () => {
    const ctl = new AbortController();
    ctl.abort();
    let asked = 0;
    await failure(
      askEndpoints(
        ["a"],
        async () => {
          asked++;
          return 1;
        },
        { none: "none", signal: ctl.signal },
      ),
    );
    expect(asked).toBe(0);
  });
});
