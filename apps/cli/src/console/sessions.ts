/**
 * In-memory sessions and one-time WebAuthn challenges of the local console. Nothing here survives the
 * process, and nothing is secret beyond its lifetime: a session token is a random 32-byte value held in
 * an HttpOnly, SameSite=Strict cookie on a loopback origin.
 */
import { constantTimeEqual, toBase64Url } from "@asterism/bytes";

/** How long a login lasts, and how long a ceremony may take. */
export const SESSION_TTL_MS = 30 * 60_000;
export const CHALLENGE_TTL_MS = 5 * 60_000;
/** Bounds: a local console has one user; these stop a local process from growing memory without limit. */
const MAX_SESSIONS = 64;
const MAX_CHALLENGES = 256;

/** A logged-in browser. `owner` is set for passkey logins, absent for CLI launch links. */
export interface Session {
  readonly token: string;
  readonly owner: string | undefined;
  readonly expires: number;
}

/** A challenge issued for a ceremony, with what it was issued for. */
export interface IssuedChallenge<T> {
  readonly challenge: Uint8Array;
  readonly purpose: string;
  readonly data: T;
  readonly expires: number;
}

export function createSessions(deps: {
  now: () => Date;
  random: (n: number) => Uint8Array;
  launchToken?: string;
}) {
  const sessions = new Map<string, Session>();
  const challenges = new Map<string, IssuedChallenge<unknown>>();
  let launch = deps.launchToken;

  const prune = <V extends { expires: number }>(m: Map<string, V>, max: number) => {
    const t = deps.now().getTime();
    for (const [k, v] of m) if (v.expires <= t) m.delete(k);
    while (m.size >= max) m.delete(m.keys().next().value as string);
  };

  return {
    create(owner: string | undefined): Session {
      prune(sessions, MAX_SESSIONS);
      const s = {
        token: toBase64Url(deps.random(32)),
        owner,
        expires: deps.now().getTime() + SESSION_TTL_MS,
      };
      sessions.set(s.token, s);
      return s;
    },
    get(token: string | undefined): Session | undefined {
      if (!token) return undefined;
      const s = sessions.get(token);
      if (!s || s.expires <= deps.now().getTime()) return undefined;
      return s;
    },
    end(token: string | undefined): void {
      if (token) sessions.delete(token);
    },
    /** Consume the CLI's one-time launch token (constant-time compare). */
    useLaunchToken(candidate: string): boolean {
      if (launch === undefined) return false;
      const a = new TextEncoder().encode(candidate);
      const b = new TextEncoder().encode(launch);
      if (a.length !== b.length || !constantTimeEqual(a, b)) return false;
      launch = undefined;
      return true;
    },
    issue<T>(purpose: string, data: T, challenge = deps.random(32)): IssuedChallenge<T> {
      prune(challenges, MAX_CHALLENGES);
      const c = { challenge, purpose, data, expires: deps.now().getTime() + CHALLENGE_TTL_MS };
      challenges.set(`${purpose}:${toBase64Url(challenge)}`, c);
      return c;
    },
    /** Take (and forget) a challenge issued for `purpose`; undefined if unknown, used or expired. */
    take<T>(purpose: string, challengeB64: string): IssuedChallenge<T> | undefined {
      const key = `${purpose}:${challengeB64}`;
      const c = challenges.get(key);
      challenges.delete(key);
      if (!c || c.expires <= deps.now().getTime()) return undefined;
      return c as IssuedChallenge<T>;
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
