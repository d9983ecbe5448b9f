import { expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { listenerUrl, parseListenAddress } from "./listen.ts";

/** Listen addresses come from the environment (a manifest an admin or an attacker with RBAC edits). */
test("parseListenAddress: total; accepted addresses have a valid port and render to a parseable URL", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 40 }),
        fc
          .tuple(fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.constant("localhost")), fc.nat(70000))
          .map(([h, p]) => `${h}:${p}`),
        fc.tuple(fc.ipV6(), fc.nat(70000)).map(([h, p]) => `[${h}]:${p}`),
      ),
      (s) => {
        const a = parseListenAddress(s);
        if (a === undefined) return;
        expect(a.port).toBeGreaterThanOrEqual(0);
        expect(a.port).toBeLessThanOrEqual(65535);
        expect(new URL(listenerUrl("http", a.host, a.port)).port).toBe(a.port === 80 ? "" : String(a.port));
      },
    ),
    { numRuns: fuzzRuns() },
  );
});
