/**
 * The web console and the CLI's ceremony pages, as one Hono app. `createConsoleApp(deps)` does no I/O:
 * the CLI serves it on 127.0.0.1 (server.ts) and tests call `app.request()` or drive it with Chromium.
 *
 * Modes:
 * - `console` (`asterism console`): passkey login, overview, pending changes, audit log.
 * - `enroll` (`asterism owner enroll`): register passkeys and prove possession in the genesis or
 *   owner-change that adds them. Opened through a one-time launch link (nobody else on the machine can
 *   enroll first).
 * - `approve` (`asterism owner approve`): the pending changes page, opened through a launch link.
 * - `init` (`asterism init --owner`, `asterism mini up --owner`): enrollment of the first owners (the
 *   genesis), then — in the same browser session — their approval of the cluster's initial attestation
 *   policy on the pending changes page, before any service enforces a policy.
 *
 * Local-server hardening: requests must name one of our loopback hosts (DNS rebinding), state-changing
 * requests must be JSON POSTs from our own origin (CSRF), the session cookie is HttpOnly and
 * SameSite=Strict, and every page sends a strict Content-Security-Policy (no inline script, no framing).
 */
import { fromBase64Url, toBase64Url, toHex } from "@asterism/bytes";
import { isAsterismError } from "@asterism/errors";
import {
  type Approval,
  ApprovalError,
  AuditLogError,
  approvalFromAssertion,
  assertionOptions,
  type Change,
  ChangeRejectedError,
  changeDigest,
  createAuditEntry,
  createChange,
  describeChange,
  evaluateApprovals,
  formatTime,
  type Owner,
  type OwnerCredential,
  OwnerParseError,
  type PolicyJson,
  parseClientData,
  type RelyingParty,
  registrationOptions,
  serializeAuditEntry,
  verifyApproval,
  verifyRegistration,
} from "@asterism/owner";
import type { Logger } from "@asterism/service";
import type { Context } from "hono";
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { html } from "hono/html";
import * as v from "valibot";
import {
  auditPage,
  changesPage,
  enrollPage,
  layout,
  loginPage,
  overviewPage,
  type PendingView,
  type Tab,
} from "./pages.ts";
import { createSessions, SESSION_TTL_MS, type Session } from "./sessions.ts";
import type { ApprovalsView, ConsoleSource } from "./source.ts";
import { bundleBrowserScript } from "./web/bundle.ts" with { type: "macro" };
import { STYLE } from "./web/style.ts";

/** The browser script, compiled and minified at bundle time (see web/bundle.ts). */
export const APP_JS: string = bundleBrowserScript("./main.ts");

/** What happened, for the CLI command that serves a ceremony (it exits when its job is done). */
export type ConsoleEvent =
  | {
      readonly kind: "committed";
      readonly changeKind: Change["kind"];
      readonly sequence: number;
      readonly hash: string;
    }
  | { readonly kind: "proposed"; readonly changeKind: Change["kind"]; readonly digest: string }
  | {
      readonly kind: "approved";
      readonly digest: string;
      readonly approvedBy: readonly string[];
      readonly required: number;
    };

/** Dependencies of the console app. */
export interface ConsoleDeps {
  readonly source: ConsoleSource;
  readonly mode: "console" | "enroll" | "approve" | "init";
  /** `host:port` values the browser may use; anything else is refused (DNS rebinding). */
  readonly hosts: readonly string[];
  readonly now: () => Date;
  readonly random: (n: number) => Uint8Array;
  /** One-time token of the CLI's launch link (enroll and approve modes). */
  readonly launchToken?: string;
  /**
   * Genesis parameters, for enrollment before the first owner exists; in `init` mode also the initial
   * attestation policy, proposed to the new owners as soon as the genesis is in.
   */
  readonly enroll?: {
    readonly clusterId: string;
    readonly threshold: number;
    readonly rp: RelyingParty;
    readonly initialPolicy?: PolicyJson;
  };
  /** Validity of changes the console builds (enrollment), seconds. */
  readonly changeTtlSeconds?: number;
  readonly onEvent?: (e: ConsoleEvent) => void;
  readonly logger?: Logger;
}

const COOKIE = "asterism_console";
const MAX_BODY_BYTES = 64 * 1024;
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const AssertionBody = v.strictObject({ assertion: v.unknown() });
const EnrollOptionsBody = v.strictObject({ name: v.pipe(v.string(), v.minLength(1), v.maxLength(64)) });
const RegisterBody = v.strictObject({
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  label: v.optional(v.pipe(v.string(), v.maxLength(64))),
  response: v.unknown(),
});

/** Enrollment in progress in one session. */
interface EnrollDraft {
  registered: { owner: string; credential: OwnerCredential }[];
  change?: Change;
  approvals: Approval[];
}

class ConsoleHttpError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 421,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The challenge in a browser's clientDataJSON (base64url); malformed input is a 400, never a 500. */
function challengeOf(clientDataB64: string): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = fromBase64Url(clientDataB64);
  } catch (cause) {
    throw new OwnerParseError("INVALID_SCHEMA", "Cannot parse clientDataJSON", {
      expected: "base64url",
      cause,
    });
  }
  return parseClientData(raw).challenge;
}

function statusOf(err: unknown): number {
  if (err instanceof ConsoleHttpError) return err.status;
  if (err instanceof OwnerParseError) return 400;
  if (err instanceof ApprovalError) return 403;
  if (err instanceof ChangeRejectedError || err instanceof AuditLogError) return 409;
  return 500;
}

/** Build the console app. */
export function createConsoleApp(deps: ConsoleDeps): Hono<{ Variables: { session: Session | undefined } }> {
  const app = new Hono<{ Variables: { session: Session | undefined } }>();
  const sessions = createSessions({
    now: deps.now,
    random: deps.random,
    ...(deps.launchToken === undefined ? {} : { launchToken: deps.launchToken }),
  });
  const drafts = new Map<string, EnrollDraft>();
  const { store } = deps.source;
  const ttl = deps.changeTtlSeconds ?? 24 * 3600;
  const enrolling = deps.mode === "enroll" || deps.mode === "init";
  const startPage = enrolling ? "/enroll" : deps.mode === "approve" ? "/changes" : "/";

  app.onError((err, c) => {
    const status = statusOf(err);
    if (status === 500)
      deps.logger?.log("error", "console.request_failed", { error: err.message.slice(0, 200) });
    const body = isAsterismError(err)
      ? err.toJSON()
      : err instanceof ConsoleHttpError
        ? { code: err.code, message: err.message }
        : { code: "INTERNAL", message: "internal error" };
    return c.json(body, status as 400);
  });

  // Every response: no caching, no sniffing, no framing, no referrers; CSP on everything (set before the
  // handler runs, so refusals and errors carry them too).
  app.use("*", async (c, next) => {
    c.header("Content-Security-Policy", CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("Cache-Control", "no-store");
    c.header("Cross-Origin-Opener-Policy", "same-origin");
    const host = c.req.header("host") ?? "";
    if (!deps.hosts.includes(host))
      throw new ConsoleHttpError(421, "UNKNOWN_HOST", "Use the address the asterism command printed");
    if (c.req.method === "POST") {
      if (c.req.header("origin") !== `http://${host}`)
        throw new ConsoleHttpError(403, "CROSS_ORIGIN", "Requests must come from the console's own pages");
      if (!(c.req.header("content-type") ?? "").startsWith("application/json"))
        throw new ConsoleHttpError(415, "UNSUPPORTED_MEDIA_TYPE", "JSON bodies only");
      if (Number(c.req.header("content-length") ?? "0") > MAX_BODY_BYTES)
        throw new ConsoleHttpError(413, "TOO_LARGE", `Bodies up to ${MAX_BODY_BYTES} bytes`);
    }
    c.set("session", sessions.get(getCookie(c, COOKIE)));
    await next();
  });

  const json = async <S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> => {
    const text = await c.req.text();
    if (text.length > MAX_BODY_BYTES)
      throw new ConsoleHttpError(413, "TOO_LARGE", `Bodies up to ${MAX_BODY_BYTES} bytes`);
    let value: unknown;
    try {
      value = JSON.parse(text || "{}");
    } catch {
      throw new ConsoleHttpError(400, "INVALID_JSON", "Body is not JSON");
    }
    const r = v.safeParse(schema, value);
    if (!r.success) throw new ConsoleHttpError(400, "INVALID_BODY", r.issues[0].message);
    return r.output;
  };

  const requireSession = (c: Context<{ Variables: { session: Session | undefined } }>): Session => {
    const s = c.get("session");
    if (!s) throw new ConsoleHttpError(401, "NOT_SIGNED_IN", "Sign in first");
    return s;
  };

  const startSession = (c: Context, owner: string | undefined) => {
    const s = sessions.create(owner);
    setCookie(c, COOKIE, s.token, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      maxAge: Math.floor(SESSION_TTL_MS / 1000),
    });
    return s;
  };

  const page = async (c: Context, tab: Tab, title: string, body: ReturnType<typeof layout>) => {
    const pending = tab === "login" ? 0 : (await store.listPending()).pending.length;
    return c.html(layout({ title, tab, body, nav: tab !== "login" && !enrolling, pending }));
  };

  /** Pages need a session; without one, go to sign-in (console) or explain the launch link (ceremonies). */
  const guard = (c: Context<{ Variables: { session: Session | undefined } }>) => {
    if (c.get("session")) return undefined;
    if (deps.mode === "console") return c.redirect("/login", 303);
    return c.html(
      layout({
        title: "Open the link from your terminal",
        tab: "login",
        nav: false,
        body: html`<p>This page opens through the one-time link the <code>asterism</code> command printed. If you
          already used it, run the command again.</p>`,
      }),
      401,
    );
  };

  app.get("/app.js", (c) => c.body(APP_JS, 200, { "content-type": "text/javascript; charset=utf-8" }));
  app.get("/style.css", (c) => c.body(STYLE, 200, { "content-type": "text/css; charset=utf-8" }));

  app.get("/launch/:token", (c) => {
    if (!sessions.useLaunchToken(c.req.param("token")))
      throw new ConsoleHttpError(403, "LAUNCH_LINK_USED", "This link was already used or is wrong");
    startSession(c, undefined);
    return c.redirect(startPage, 303);
  });

  // ---------------------------------------------------------------- sign-in (console mode)
  app.get("/login", async (c) => {
    const a = await deps.source.approvals();
    return page(c, "login", "Sign in", loginPage(a.log !== undefined));
  });

  app.post("/api/login/options", async (c) => {
    const a = await deps.source.approvals();
    const state = a.log?.state;
    if (!state) throw new ConsoleHttpError(409, "NO_OWNERS", "No owners enrolled");
    const issued = sessions.issue("login", undefined);
    const options = await assertionOptions({
      rp: state.rp,
      challenge: issued.challenge,
      credentials: state.owners.flatMap((o) => o.credentials),
    });
    return c.json({ options });
  });

  app.post("/api/login", async (c) => {
    const body = await json(c, AssertionBody);
    const approval = approvalFromAssertion(body.assertion);
    const a = await deps.source.approvals();
    const state = a.log?.state;
    if (!state) throw new ConsoleHttpError(409, "NO_OWNERS", "No owners enrolled");
    const challenge = challengeOf(approval.clientDataJSON);
    const issued = sessions.take("login", toBase64Url(challenge));
    if (!issued)
      throw new ApprovalError("CHALLENGE_MISMATCH", "Sign-in refused", {
        expected: "a challenge this console issued, once",
      });
    const owner = state.owners.find((o) => o.credentials.some((x) => x.id === approval.credentialId));
    const credential = owner?.credentials.find((x) => x.id === approval.credentialId);
    if (!owner || !credential)
      throw new ApprovalError("UNKNOWN_CREDENTIAL", "Sign-in refused", {
        expected: "a passkey of a current owner",
      });
    await verifyApproval(approval, {
      challenge: issued.challenge,
      credential,
      rp: state.rp,
      counter: state.counters.get(credential.id) ?? 0,
    });
    startSession(c, owner.name);
    deps.logger?.log("info", "console.signed_in", { owner: owner.name });
    return c.json({ owner: owner.name });
  });

  app.post("/api/logout", (c) => {
    sessions.end(getCookie(c, COOKIE));
    deleteCookie(c, COOKIE, { path: "/" });
    return c.json({});
  });

  // ---------------------------------------------------------------- pages
  app.get("/", async (c) => {
    if (enrolling) return c.redirect("/enroll", 303);
    const denied = guard(c);
    if (denied) return denied;
    const [a, nodes] = await Promise.all([deps.source.approvals(), deps.source.nodes()]);
    return page(c, "overview", "Cluster overview", overviewPage(a, nodes));
  });

  app.get("/changes", async (c) => {
    if (deps.mode === "enroll") return c.redirect("/enroll", 303);
    const denied = guard(c);
    if (denied) return denied;
    const a = await deps.source.approvals();
    const { pending, unreadable, omitted } = await store.listPending();
    const views: PendingView[] = [];
    for (const p of pending) views.push(await pendingView(a, p));
    return page(c, "changes", "Pending changes", changesPage(a, views, unreadable, omitted));
  });

  app.get("/audit", async (c) => {
    if (enrolling) return c.redirect("/enroll", 303);
    const denied = guard(c);
    if (denied) return denied;
    return page(c, "audit", "Audit log", auditPage(await deps.source.approvals()));
  });

  /** The audit log as JSON, for `asterism audit verify --endpoint` (public: the log is meant to be checked). */
  app.get("/api/audit-log", async (c) => {
    const entries = await store.readEntries();
    const values = entries.map(
      (e) => JSON.parse(new TextDecoder().decode(serializeAuditEntry(e))) as unknown,
    );
    c.header("Content-Disposition", 'attachment; filename="audit-log.json"');
    return c.json({ format: "asterism.audit-log/v1", entries: values });
  });

  async function pendingView(
    a: ApprovalsView,
    p: Awaited<ReturnType<typeof store.listPending>>["pending"][number],
  ) {
    const state = a.log?.state;
    let progress: PendingView["progress"];
    let blocked: string | undefined;
    if (a.error) blocked = "the audit log does not verify";
    else {
      try {
        progress = await evaluateApprovals(state, p.change, p.approvals, { now: deps.now() });
      } catch (err) {
        blocked = isAsterismError(err) ? `${err.code}: ${err.message}` : "invalid";
      }
    }
    return { pending: p, description: describeChange(state, p.change), progress, blocked };
  }

  // ---------------------------------------------------------------- approvals
  app.post("/api/changes/:digest/options", async (c) => {
    requireSession(c);
    const digest = c.req.param("digest");
    const p = /^[0-9a-f]{64}$/.test(digest) ? await store.getPending(digest) : undefined;
    if (!p) throw new ConsoleHttpError(404, "NO_SUCH_CHANGE", "No pending change with this digest");
    const a = await deps.source.approvals();
    const state = a.log?.state;
    if (!state) throw new ConsoleHttpError(409, "NO_OWNERS", "No owners enrolled");
    const added =
      p.change.kind === "owner-change"
        ? p.change.payload.owners.flatMap((o) => o.credentials)
        : ([] as OwnerCredential[]);
    const credentials = [...state.owners.flatMap((o) => o.credentials), ...added];
    const options = await assertionOptions({ rp: state.rp, challenge: changeDigest(p.change), credentials });
    return c.json({ options });
  });

  app.post("/api/changes/:digest/approve", async (c) => {
    const session = requireSession(c);
    const digest = c.req.param("digest");
    if (!/^[0-9a-f]{64}$/.test(digest))
      throw new ConsoleHttpError(404, "NO_SUCH_CHANGE", "No pending change with this digest");
    const body = await json(c, AssertionBody);
    const approval = approvalFromAssertion(body.assertion);
    const a = await deps.source.approvals();
    if (a.error) throw a.error;
    const result = await store.approve(digest, approval, {
      now: deps.now(),
      ...(a.log ? { log: a.log } : {}),
    });
    const p = result.progress;
    deps.logger?.log("info", "console.approved", {
      digest,
      session: session.owner ?? "launch",
      committed: Boolean(result.committed),
    });
    if (result.committed) {
      const kind = (await store.readEntries()).find((e) => e.change.sequence === result.committed?.sequence)
        ?.change.kind;
      deps.onEvent?.({ kind: "committed", changeKind: kind ?? "attestation-policy", ...result.committed });
      return c.json({
        message: `Approved by ${p.approvedBy.join(", ")}: the change is now in force (audit entry ${result.committed.sequence}).`,
        committed: result.committed,
      });
    }
    deps.onEvent?.({ kind: "approved", digest, approvedBy: p.approvedBy, required: p.required });
    return c.json({
      message: `Approval recorded (${p.approvedBy.length} of ${p.required} owners${
        p.possessionMissing.length ? `, ${p.possessionMissing.length} new passkey(s) to prove possession` : ""
      }).`,
      progress: { approvedBy: p.approvedBy, required: p.required },
    });
  });

  // ---------------------------------------------------------------- enrollment
  if (enrolling) {
    const draftOf = (s: Session): EnrollDraft => {
      let d = drafts.get(s.token);
      if (!d) {
        d = { registered: [], approvals: [] };
        drafts.set(s.token, d);
      }
      return d;
    };
    const rpOf = async (): Promise<{ rp: RelyingParty; state: ApprovalsView["log"] }> => {
      const a = await deps.source.approvals();
      if (a.error) throw a.error;
      if (a.log) return { rp: a.log.state.rp, state: a.log };
      if (!deps.enroll)
        throw new ConsoleHttpError(409, "NO_GENESIS_PARAMETERS", "No cluster parameters for genesis");
      return { rp: deps.enroll.rp, state: undefined };
    };

    app.get("/enroll", async (c) => {
      const denied = guard(c);
      if (denied) return denied;
      const a = await deps.source.approvals();
      const genesis = !a.log;
      return page(
        c,
        "enroll",
        genesis ? "Enroll the first owner" : "Add an owner",
        enrollPage({
          genesis,
          clusterId: a.log?.state.clusterId ?? deps.enroll?.clusterId ?? "",
          initialPolicy: deps.mode === "init",
        }),
      );
    });

    app.post("/api/enroll/options", async (c) => {
      const s = requireSession(c);
      const { name } = await json(c, EnrollOptionsBody);
      const { rp, state } = await rpOf();
      const d = draftOf(s);
      const issued = sessions.issue("register", { name });
      const options = await registrationOptions({
        rp,
        ownerName: name,
        userId: deps.random(16),
        challenge: issued.challenge,
        exclude: [
          ...(state?.state.owners.flatMap((o) => o.credentials) ?? []),
          ...d.registered.map((r) => r.credential),
        ],
      });
      return c.json({ options });
    });

    app.post("/api/enroll/register", async (c) => {
      const s = requireSession(c);
      const body = await json(c, RegisterBody);
      const { rp } = await rpOf();
      const clientData = v.safeParse(
        v.object({ response: v.object({ clientDataJSON: v.string() }) }),
        body.response,
      );
      if (!clientData.success) throw new ConsoleHttpError(400, "INVALID_BODY", "Not a registration response");
      const challenge = challengeOf(clientData.output.response.clientDataJSON);
      const issued = sessions.take<{ name: string }>("register", toBase64Url(challenge));
      if (!issued || issued.data.name !== body.name)
        throw new ApprovalError("REGISTRATION_INVALID", "Passkey registration refused", {
          expected: "a challenge this page issued for this owner, once",
        });
      const credential = await verifyRegistration({
        response: body.response,
        challenge: issued.challenge,
        rp,
        ...(body.label ? { label: body.label } : {}),
      });
      const d = draftOf(s);
      if (d.change) throw new ConsoleHttpError(409, "ENROLLMENT_FINISHED", "Enrollment already finished");
      d.registered.push({ owner: body.name, credential });
      deps.logger?.log("info", "console.passkey_registered", {
        owner: body.name,
        credential: credential.id.slice(0, 12),
      });
      return c.json({
        summary: `${body.name}: ${credential.label ?? "passkey"} (${credential.id.slice(0, 10)}…)`,
      });
    });

    app.post("/api/enroll/finish", async (c) => {
      const s = requireSession(c);
      const d = draftOf(s);
      if (d.registered.length === 0)
        throw new ConsoleHttpError(409, "NOTHING_REGISTERED", "Register a passkey first");
      const { rp, state } = await rpOf();
      if (!d.change) {
        const owners: Owner[] = [...(state?.state.owners ?? [])].map((o) => ({
          ...o,
          credentials: [...o.credentials],
        }));
        for (const r of d.registered) {
          const o = owners.find((x) => x.name === r.owner);
          if (o) o.credentials.push(r.credential);
          else owners.push({ name: r.owner, credentials: [r.credential] });
        }
        const now = deps.now();
        if (state) {
          d.change = createChange({
            clusterId: state.state.clusterId,
            head: state.state.head,
            kind: "owner-change",
            payload: { owners, threshold: state.state.threshold },
            now,
            ttlSeconds: ttl,
            description: `Enroll ${[...new Set(d.registered.map((r) => r.owner))].join(", ")} (${formatTime(now)})`,
          });
          await store.propose(d.change);
        } else {
          if (!deps.enroll)
            throw new ConsoleHttpError(409, "NO_GENESIS_PARAMETERS", "No cluster parameters for genesis");
          d.change = createChange({
            clusterId: deps.enroll.clusterId,
            head: undefined,
            kind: "genesis",
            payload: { owners, threshold: Math.min(deps.enroll.threshold, owners.length), rp },
            now,
            ttlSeconds: ttl,
          });
        }
      }
      const challenge = changeDigest(d.change);
      const proofs = [];
      for (const r of d.registered)
        proofs.push(await assertionOptions({ rp, challenge, credentials: [r.credential] }));
      return c.json({ proofs, digest: toHex(challenge) });
    });

    app.post("/api/enroll/proof", async (c) => {
      const s = requireSession(c);
      const d = draftOf(s);
      if (!d.change) throw new ConsoleHttpError(409, "NOT_FINISHED", "Finish the enrollment first");
      const approval = approvalFromAssertion((await json(c, AssertionBody)).assertion);
      const now = deps.now();
      if (d.change.kind === "genesis") {
        d.approvals = [...d.approvals.filter((x) => x.credentialId !== approval.credentialId), approval];
        const progress = await evaluateApprovals(undefined, d.change, d.approvals, { now });
        if (!progress.complete)
          return c.json({
            message: `Possession proven for ${d.approvals.length} of ${d.registered.length} passkey(s).`,
          });
        const committed = await store.commit(createAuditEntry(d.change, d.approvals), undefined, now);
        deps.onEvent?.({ kind: "committed", changeKind: "genesis", ...committed });
        const message = `Owners enrolled. Genesis hash (pin it: services and auditors verify the log from it): ${committed.hash}`;
        const initialPolicy = deps.mode === "init" ? deps.enroll?.initialPolicy : undefined;
        if (!initialPolicy) return c.json({ message, committed });
        // Init: the new owners approve the policy the services will enforce, before any service runs.
        const policy = createChange({
          clusterId: d.change.clusterId,
          head: committed,
          kind: "attestation-policy",
          payload: { policy: initialPolicy },
          now,
          ttlSeconds: ttl,
          description: "The cluster's initial attestation policy (from the configuration, PCR 15 = 0)",
        });
        const p = await store.propose(policy);
        deps.onEvent?.({ kind: "proposed", changeKind: "attestation-policy", digest: p.digest });
        return c.json({ message, committed, next: "/changes" });
      }
      const a = await deps.source.approvals();
      const result = await store.approve(toHex(changeDigest(d.change)), approval, {
        now,
        ...(a.log ? { log: a.log } : {}),
      });
      if (result.committed) {
        deps.onEvent?.({ kind: "committed", changeKind: d.change.kind, ...result.committed });
        return c.json({
          message: `Owner change in force (audit entry ${result.committed.sequence}).`,
          committed: result.committed,
        });
      }
      const p = result.progress;
      if (p.possessionMissing.length === 0)
        deps.onEvent?.({
          kind: "proposed",
          changeKind: d.change.kind,
          digest: toHex(changeDigest(d.change)),
        });
      return c.json({
        message: `Owner change proposed: ${p.possessionMissing.length ? `${p.possessionMissing.length} passkey(s) still to sign; ` : ""}${
          p.required - p.approvedBy.length
        } more current owner approval(s) needed (asterism owner approve, or the console).`,
      });
    });
  }

  return app;
}
