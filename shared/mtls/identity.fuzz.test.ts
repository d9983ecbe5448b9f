import { expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { IDENTITY_SCHEME, identityUri, parseIdentityUri, SERVICE_NAME_RE } from "./identity.ts";

/** SAN URIs of a peer certificate name its service: only exactly `asterism://<name>` may map to a name. */
test("parseIdentityUri: total; a name only for exactly asterism://<valid name>, and it round-trips", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 90 }),
        fc.string({ maxLength: 70 }).map((s) => IDENTITY_SCHEME + s),
        fc.webUrl(),
        fc.stringMatching(/^asterism:\/\/[a-z][a-z0-9-]{0,70}[/?#.]?.{0,3}$/),
      ),
      (uri) => {
        const name = parseIdentityUri(uri);
        if (name !== undefined) {
          expect(SERVICE_NAME_RE.test(name)).toBe(true);
          expect(identityUri(name)).toBe(uri);
        }
      },
    ),
    { numRuns: fuzzRuns() },
  );
});
