import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { type ClosableTpm, createAttestationKey, openSwtpm, quoteWithPcrs } from "../attestation.ts";
import { flush } from "../commands/object.ts";
import { type PcrBanks, readPcrs } from "../commands/pcr.ts";
import { TPM_ALG } from "../constants.ts";
import { verifyQuote } from "../verify/quote.ts";
import { EV } from "./event-types.ts";
import { parseEventLog } from "./parse.ts";
import { matchEventLog } from "./replay.ts";
import { EventLogWriter, measureEvent } from "./writer.ts";

let sw: SwtpmInstance;
let tpm: ClosableTpm;
beforeAll(async () => {
  sw = await startSwtpm();
  tpm = await openSwtpm(sw);
});
afterAll(async () => {
  await tpm?.close();
  await sw?.stop();
});

const enc = (s: string) => new TextEncoder().encode(s);

describe("EventLogWriter on swtpm", () => {
  test("a measured boot recorded while extending PCRs replays to the quoted PCRs", async () => {
    const log = new EventLogWriter([TPM_ALG.SHA1, TPM_ALG.SHA256]);
    await measureEvent(tpm, log, {
      pcrIndex: 0,
      eventType: EV.S_CRTM_VERSION,
      data: enc("asterism-firmware 1.0\0"),
    });
    for (const pcr of [0, 1, 2, 3, 4, 5, 6, 7])
      await measureEvent(tpm, log, { pcrIndex: pcr, eventType: EV.SEPARATOR, data: new Uint8Array(4) });
    await measureEvent(tpm, log, { pcrIndex: 9, eventType: EV.NO_ACTION, data: enc("informational") });
    await measureEvent(tpm, log, {
      pcrIndex: 4,
      eventType: EV.EFI_BOOT_SERVICES_APPLICATION,
      data: enc("\\EFI\\BOOT\\BOOTX64.EFI"),
      measured: new Uint8Array(4096).fill(0x90),
    });
    await measureEvent(tpm, log, {
      pcrIndex: 8,
      eventType: EV.IPL,
      data: enc("kernel_cmdline: console=ttyS0\0"),
    });

    const bytes = log.bytes();
    const parsed = parseEventLog(bytes);
    expect(parsed.format).toBe("crypto-agile");
    expect(parsed.events.length).toBe(13);
    const pcrs = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    // The verifier's side: a fresh quote authenticates the PCRs, then the log must explain them.
    const sel = [
      { hash: TPM_ALG.SHA1, pcrSelect: pcrs },
      { hash: TPM_ALG.SHA256, pcrSelect: pcrs },
    ];
    const ak = await createAttestationKey(tpm, { alg: "rsa" });
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    let quoted: PcrBanks;
    try {
      const { quote: q, pcrs: values } = await quoteWithPcrs(tpm, { ak, pcrs: sel, qualifyingData: nonce });
      const v = await verifyQuote({
        akPublic: ak.public,
        attest: q.attest,
        signature: q.signature,
        nonce,
        pcrs: values,
      });
      quoted = v.pcrs;
    } finally {
      await flush(tpm, ak.handle);
    }
    expect(quoted.get(TPM_ALG.SHA1)?.size).toBe(9);
    const m = matchEventLog(parsed, quoted);
    expect(m.unexplained.get(TPM_ALG.SHA256)).toEqual([]);
    expect(m.explained.get(TPM_ALG.SHA256)?.get(4)).toEqual([6, 11]);
    // The EV_NO_ACTION event is in the log but explains nothing.
    expect([...(m.explained.get(TPM_ALG.SHA256)?.values() ?? [])].flat()).not.toContain(10);
  });
});

describe("EventLogWriter.resume", () => {
  test("continues a firmware log with its banks; the result replays to both parts", async () => {
    const fw = new EventLogWriter([TPM_ALG.SHA1, TPM_ALG.SHA256]);
    await measureEvent(tpm, fw, { pcrIndex: 9, eventType: EV.IPL, data: enc("initrd") });
    const resumed = EventLogWriter.resume(fw.bytes());
    expect(resumed.banks).toEqual([TPM_ALG.SHA1, TPM_ALG.SHA256]);
    await measureEvent(tpm, resumed, { pcrIndex: 16, eventType: EV.EVENT_TAG, data: enc("identity") });
    const parsed = parseEventLog(resumed.bytes());
    expect(parsed.events.map((e) => e.pcrIndex)).toEqual([0, 9, 16]);
    const pcrs = await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [9, 16] }]);
    const m = matchEventLog(parsed, pcrs);
    expect(m.unexplained.get(TPM_ALG.SHA256)).toEqual([]);
    expect(m.explained.get(TPM_ALG.SHA256)?.get(16)).toEqual([2]);
  });

  test("refuses garbage", () => {
    expect(() => EventLogWriter.resume(new Uint8Array([1, 2, 3]))).toThrow();
  });
});
