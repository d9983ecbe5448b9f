/**
 * A software WebAuthn authenticator for unit tests: P-256 passkeys, `none` attestation, a signature
 * counter, and knobs to produce the malformed or hostile responses a verifier must refuse. It proves
 * nothing about hardware; the browser tests use Chromium's virtual authenticator for the real thing.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { concat, fromBase64Url, toBase64Url } from "@asterism/bytes";

/** Minimal CBOR (RFC 8949) encoder: unsigned/negative ints, byte and text strings, maps. */
type Cbor = number | string | Uint8Array | Map<Cbor, Cbor>;

function head(major: number, n: number): Uint8Array {
  if (n < 24) return Uint8Array.of((major << 5) | n);
  if (n < 0x100) return Uint8Array.of((major << 5) | 24, n);
  if (n < 0x10000) return Uint8Array.of((major << 5) | 25, n >> 8, n & 0xff);
  return Uint8Array.of((major << 5) | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

function cbor(v: Cbor): Uint8Array {
  if (typeof v === "number") return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === "string") {
    const b = new TextEncoder().encode(v);
    return concat(head(3, b.length), b);
  }
  if (v instanceof Uint8Array) return concat(head(2, v.length), v);
  const parts = [head(5, v.size)];
  for (const [k, x] of v) parts.push(cbor(k), cbor(x));
  return concat(...parts);
}

const sha256 = (b: Uint8Array | string) => new Uint8Array(createHash("sha256").update(b).digest());

/** Flags of authenticator data (WebAuthn §6.1). */
export const AUTH_FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 } as const;

/** Overrides to forge what an honest browser and authenticator would not produce. */
export interface AssertionOverrides {
  readonly flags?: number;
  readonly counter?: number;
  readonly origin?: string;
  readonly type?: string;
  readonly crossOrigin?: boolean;
  readonly rpId?: string;
  readonly challenge?: Uint8Array;
}

/** One passkey held by the software authenticator. */
export interface SoftwarePasskey {
  readonly credentialId: string;
  /** COSE_Key (EC2, ES256) as base64url. */
  readonly publicKey: string;
  counter: number;
}

/** A software authenticator bound to one RP ID and origin. */
export interface SoftwareAuthenticator {
  readonly rpId: string;
  readonly origin: string;
  /** Answer navigator.credentials.create options (JSON form) with a `none`-attested passkey. */
  register(options: { challenge: string; rp?: { id?: string } }): {
    response: unknown;
    passkey: SoftwarePasskey;
  };
  /** Sign `challenge` with a passkey: the JSON `PublicKeyCredential.toJSON()` gives for an assertion. */
  assert(passkey: SoftwarePasskey, challenge: Uint8Array, overrides?: AssertionOverrides): AssertionJson;
}

/** The JSON form of an assertion, as browsers produce it. */
export interface AssertionJson {
  readonly id: string;
  readonly rawId: string;
  readonly type: "public-key";
  readonly clientExtensionResults: Record<string, never>;
  readonly response: {
    readonly authenticatorData: string;
    readonly clientDataJSON: string;
    readonly signature: string;
    readonly userHandle?: string;
  };
}

/**
 * Create a software authenticator for `rpId` whose pages run at `origin`.
 *
 * @example
 * const auth = createSoftwareAuthenticator({ rpId: "localhost", origin: "http://localhost:8080" });
 * const { response, passkey } = auth.register(await registrationOptions(...));
 * const assertion = auth.assert(passkey, changeDigest(change));
 */
export function createSoftwareAuthenticator(opts: { rpId: string; origin: string }): SoftwareAuthenticator {
  const keys = new Map<string, KeyObject>();
  const authData = (rpId: string, flags: number, counter: number, extra: Uint8Array = new Uint8Array()) => {
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, counter >>> 0);
    return concat(sha256(rpId), Uint8Array.of(flags), c, extra);
  };
  return {
    rpId: opts.rpId,
    origin: opts.origin,
    register(options) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const jwk = publicKey.export({ format: "jwk" });
      const coseKey = cbor(
        new Map<Cbor, Cbor>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, fromBase64Url(jwk.x as string)],
          [-3, fromBase64Url(jwk.y as string)],
        ]),
      );
      const credId = new Uint8Array(randomBytes(16));
      const idLen = Uint8Array.of(credId.length >> 8, credId.length & 0xff);
      const attested = concat(new Uint8Array(16), idLen, credId, coseKey);
      const rpId = options.rp?.id ?? opts.rpId;
      const data = authData(rpId, AUTH_FLAGS.UP | AUTH_FLAGS.UV | AUTH_FLAGS.AT, 0, attested);
      const attestationObject = cbor(
        new Map<Cbor, Cbor>([
          ["fmt", "none"],
          ["attStmt", new Map()],
          ["authData", data],
        ]),
      );
      const clientDataJSON = JSON.stringify({
        type: "webauthn.create",
        challenge: options.challenge,
        origin: opts.origin,
        crossOrigin: false,
      });
      const id = toBase64Url(credId);
      keys.set(id, privateKey);
      return {
        passkey: { credentialId: id, publicKey: toBase64Url(coseKey), counter: 0 },
        response: {
          id,
          rawId: id,
          type: "public-key",
          clientExtensionResults: {},
          response: {
            clientDataJSON: toBase64Url(new TextEncoder().encode(clientDataJSON)),
            attestationObject: toBase64Url(attestationObject),
            transports: ["internal"],
          },
        },
      };
    },
    assert(passkey, challenge, o = {}) {
      const key = keys.get(passkey.credentialId);
      if (!key) throw new Error("unknown passkey");
      const counter = o.counter ?? passkey.counter + 1;
      passkey.counter = counter;
      const data = authData(o.rpId ?? opts.rpId, o.flags ?? AUTH_FLAGS.UP | AUTH_FLAGS.UV, counter);
      const clientDataJSON = new TextEncoder().encode(
        JSON.stringify({
          type: o.type ?? "webauthn.get",
          challenge: toBase64Url(o.challenge ?? challenge),
          origin: o.origin ?? opts.origin,
          crossOrigin: o.crossOrigin ?? false,
        }),
      );
      const signature = sign("sha256", concat(data, sha256(clientDataJSON)), { key, dsaEncoding: "der" });
      return {
        id: passkey.credentialId,
        rawId: passkey.credentialId,
        type: "public-key",
        clientExtensionResults: {},
        response: {
          authenticatorData: toBase64Url(data),
          clientDataJSON: toBase64Url(clientDataJSON),
          signature: toBase64Url(new Uint8Array(signature)),
        },
      };
    },
  };
}
