import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createQemuVtpmValidator } from "@asterism/attestation";
import { isAsterismError } from "@asterism/errors";
import { createMeasurements } from "@asterism/measurements";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { EV, EventLogWriter, extendPcr, measureEvent, readPcrs, TPM_ALG } from "@asterism/tpm";
import {
  bootLocalNode,
  createIdentityValidator,
  createNodeIssuer,
  encodeNodeIdentity,
  identityEventData,
  identityFromEventLog,
  identityOfClaims,
  localImage,
  localImageMeasurements,
  measureNodeIdentity,
  type NodeIdentity,
  type NodeTpm,
  openNodeTpm,
  parseNodeIdentity,
} from "./index.ts";

const ID: NodeIdentity = { name: "worker-0", role: "worker", ips: ["127.0.0.1"] };
const IMAGE = localImage("identity-test");
let sw: SwtpmInstance;
let tpm: NodeTpm;

async function pcr16(): Promise<Uint8Array> {
  const b = await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [16] }]);
  return b.get(TPM_ALG.SHA256)?.get(16) as Uint8Array;
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (isAsterismError(e)) return e.code;
    throw e;
  }
  return undefined;
}

beforeAll(async () => {
  sw = await startSwtpm();
  await bootLocalNode(sw, IMAGE);
  tpm = await openNodeTpm({ kind: "swtpm", host: sw.host, port: sw.port });
}, 20_000);

afterAll(async () => {
  await tpm?.close();
  await sw?.stop();
});

describe("identity JSON", () => {
  test("canonical encoding, keys in order, no spaces", () => {
    expect(new TextDecoder().decode(encodeNodeIdentity(ID))).toBe(
      '{"asterism":"node-identity","v":1,"name":"worker-0","role":"worker","ips":["127.0.0.1"]}',
    );
    expect(parseNodeIdentity(encodeNodeIdentity(ID))).toEqual(ID);
  });

  test.each([
    { name: "spaces", json: '{"asterism": "node-identity","v":1,"name":"a","role":"worker","ips":[]}' },
    { name: "key order", json: '{"v":1,"asterism":"node-identity","name":"a","role":"worker","ips":[]}' },
    {
      name: "extra key",
      json: '{"asterism":"node-identity","v":1,"name":"a","role":"worker","ips":[],"x":1}',
    },
    { name: "bad role", json: '{"asterism":"node-identity","v":1,"name":"a","role":"admin","ips":[]}' },
    {
      name: "upper-case name",
      json: '{"asterism":"node-identity","v":1,"name":"A","role":"worker","ips":[]}',
    },
    { name: "not JSON", json: "{" },
  ])("refused: $name", async ({ json }) => {
    expect(await codeOf(() => parseNodeIdentity(new TextEncoder().encode(json)))).toBe(
      "IDENTITY_EVENT_INVALID",
    );
  });
});

describe("identity event on swtpm", () => {
  let log: Uint8Array;

  test("measure once; the log proves the identity for the current PCR 16", async () => {
    log = await measureNodeIdentity(tpm, ID);
    expect(identityFromEventLog(log, await pcr16())).toEqual(ID);
  });

  test("the identity validator puts the attested identity into the claims", async () => {
    const issuer = createNodeIssuer({ tpm, readEventLog: async () => log });
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const userData = crypto.getRandomValues(new Uint8Array(32));
    const doc = await issuer.issue(userData, nonce);
    const inner = createQemuVtpmValidator({ policy: { measurements: localImageMeasurements(IMAGE) } });
    const claims = await createIdentityValidator(inner).validate(doc, nonce);
    expect(identityOfClaims(claims)).toEqual(ID);
    // A document without the log: refused.
    const bare = await createNodeIssuer({ tpm, readEventLog: async () => undefined }).issue(userData, nonce);
    expect(await codeOf(createIdentityValidator(inner).validate(bare, nonce))).toBe("IDENTITY_EVENT_MISSING");
  });

  test.each([
    {
      name: "a log for another identity",
      log: async () => {
        const w = new EventLogWriter([TPM_ALG.SHA256]);
        w.append({
          pcrIndex: 16,
          eventType: EV.EVENT_TAG,
          data: identityEventData({ ...ID, role: "control-plane" }),
        });
        return w.bytes();
      },
      code: "IDENTITY_PCR_MISMATCH",
    },
    {
      name: "a second event in PCR 16",
      log: async () => {
        const w = new EventLogWriter([TPM_ALG.SHA256]);
        w.append({ pcrIndex: 16, eventType: EV.EVENT_TAG, data: identityEventData(ID) });
        w.append({ pcrIndex: 16, eventType: EV.EVENT_TAG, data: identityEventData(ID) });
        return w.bytes();
      },
      code: "IDENTITY_EVENT_DUPLICATE",
    },
    {
      name: "recorded digest not the data's (data swapped after hashing)",
      log: async () => {
        const w = new EventLogWriter([TPM_ALG.SHA256]);
        w.append({
          pcrIndex: 16,
          eventType: EV.EVENT_TAG,
          data: identityEventData({ ...ID, role: "control-plane" }),
          measured: identityEventData(ID),
        });
        return w.bytes();
      },
      code: "IDENTITY_DIGEST_MISMATCH",
    },
    {
      name: "wrong event type",
      log: async () => {
        const w = new EventLogWriter([TPM_ALG.SHA256]);
        w.append({ pcrIndex: 16, eventType: EV.IPL, data: identityEventData(ID) });
        return w.bytes();
      },
      code: "IDENTITY_EVENT_INVALID",
    },
    {
      name: "no PCR 16 event",
      log: async () => new EventLogWriter([TPM_ALG.SHA256]).bytes(),
      code: "IDENTITY_EVENT_MISSING",
    },
    { name: "garbage", log: async () => new Uint8Array([1, 2, 3]), code: "IDENTITY_LOG_INVALID" },
  ])("refused: $name", async ({ log: make, code }) => {
    expect(await codeOf(async () => identityFromEventLog(await make(), await pcr16()))).toBe(code);
  });

  test("a second extension of PCR 16 (identity changed after boot) no longer matches the log", async () => {
    const before = await pcr16();
    const w = new EventLogWriter([TPM_ALG.SHA256]);
    await measureEvent(tpm, w, { pcrIndex: 16, eventType: EV.EVENT_TAG, data: identityEventData(ID) });
    expect(await codeOf(async () => identityFromEventLog(log, await pcr16()))).toBe("IDENTITY_PCR_MISMATCH");
    expect(await pcr16()).not.toEqual(before);
  });
});

describe("local boot", () => {
  test("rebooting resets PCRs and re-measures the image", async () => {
    await extendPcr(tpm, 15, [{ hashAlg: TPM_ALG.SHA256, digest: new Uint8Array(32).fill(1) }]);
    await tpm.close();
    await bootLocalNode(sw, IMAGE);
    const b = await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [4, 15, 16] }]);
    const m = localImageMeasurements(IMAGE);
    expect(Buffer.from(b.get(TPM_ALG.SHA256)?.get(4) as Uint8Array).toString("hex")).toBe(
      m.get(4)?.expected as string,
    );
    expect(b.get(TPM_ALG.SHA256)?.get(15)).toEqual(new Uint8Array(32));
    expect(b.get(TPM_ALG.SHA256)?.get(16)).toEqual(new Uint8Array(32));
    expect(createMeasurements([]).size).toBe(0);
  });

  test("the identity event continues the firmware's log; the combined log replays and proves the identity", async () => {
    await tpm.close();
    const firmware = await bootLocalNode(sw, IMAGE);
    const log = await measureNodeIdentity(tpm, ID, firmware);
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const doc = await createNodeIssuer({ tpm, readEventLog: async () => log }).issue(
      new Uint8Array(32),
      nonce,
    );
    const inner = createQemuVtpmValidator({ policy: { measurements: localImageMeasurements(IMAGE) } });
    const claims = await createIdentityValidator(inner).validate(doc, nonce);
    expect(identityOfClaims(claims)).toEqual(ID);
    expect(claims.details["eventLogVerified"]).toBe(true);
  });
});
