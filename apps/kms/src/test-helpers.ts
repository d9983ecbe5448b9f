/** Shared fixtures for the KMS app tests (not shipped: only *.test.ts files import it). */
import type { PeerAuth } from "@asterism/mtls";
import { createMemoryLogger } from "@asterism/service";
import { createApp, type KmsAppDeps } from "./app.ts";
import type { KeySource } from "./key-source.ts";
import { createKmsMetrics } from "./metrics.ts";

export const JOIN = "asterism://join-service";
export const BOOT = "asterism://bootstrapper";
export const FIXED_NOW = new Date("2026-11-25T00:00:00Z");

/** Build the app with a fake peer authenticator: the test passes the peer as the request env. */
export function testApp(keys: KeySource, over: Partial<KmsAppDeps> = {}) {
  const logger = createMemoryLogger();
  const metrics = createKmsMetrics();
  const app = createApp({
    keys,
    authenticate: async (env) => (env as { peer?: PeerAuth }).peer ?? { status: "none" },
    policy: {
      keyCallers: new Set([JOIN, BOOT]),
      metricsCallers: new Set([JOIN, BOOT, "asterism://monitoring"]),
      namedKeys: new Map([["measurementSecret", new Set([JOIN])]]),
    },
    logger,
    metrics,
    now: () => FIXED_NOW,
    ...over,
  });
  return { app, logger, metrics };
}

export const verified = (identity: string): { peer: PeerAuth } => ({
  peer: { status: "verified", identity, service: identity.replace("asterism://", "") },
});
