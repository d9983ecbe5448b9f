/** Test helper: the go-tpm-tools GCE attestations (external/VECTORS.md §3.1) as VtpmEvidence. */
import { readTestdata } from "@asterism/testing";
import { EV } from "@asterism/tpm";
import type { PcrBankName, VtpmEvidence, VtpmQuote } from "./evidence.ts";

export const GCE = ["external", "go-tpm-tools"] as const;
/** Any time inside every certificate's validity (AK cert 2021-08-31 → 2051-08-24). */
export const GCE_NOW = new Date("2024-06-01T00:00:00Z");

export async function gceEvidence(
  name: "gce-cos-85-no-nonce" | "gce-cos-85-nonce9009",
  banks: readonly PcrBankName[] = ["sha1", "sha256", "sha384"],
): Promise<VtpmEvidence> {
  const dir = [...GCE, "attestations", "decoded", name] as const;
  const quotes: VtpmQuote[] = [];
  for (const bank of banks) {
    const pcrs = JSON.parse(
      new TextDecoder().decode(await readTestdata(...dir, `quote_${bank}.pcrs.json`)),
    ) as {
      pcrs: Record<string, string>;
    };
    quotes.push({
      attest: await readTestdata(...dir, `quote_${bank}.attest.bin`),
      signature: await readTestdata(...dir, `quote_${bank}.sig.bin`),
      bank,
      pcrs: new Map(
        Object.entries(pcrs.pcrs).map(([k, v]) => [Number(k), new Uint8Array(Buffer.from(v, "hex"))]),
      ),
    });
  }
  return {
    akPublic: await readTestdata(...dir, "ak_pub.tpmt_public.bin"),
    quotes,
    eventLog: await readTestdata(...dir, "event_log.bin"),
    akCert: await readTestdata(...dir, "ak_cert.der"),
    intermediates: [],
  };
}

export async function gceTrust() {
  return {
    roots: [await readTestdata(...GCE, "ca-certs", "tpm_ek_root_1.cer")],
    intermediates: [await readTestdata(...GCE, "ca-certs", "tpm_ek_intermediate_2.crt")],
  };
}

/** PCR 0 events as GCE firmware writes them. */
export function gceFirmwareEvents(technology: number, version = 1) {
  const crtm = new Uint8Array(Buffer.from(`GCE Virtual Firmware v${version}\0`, "utf16le"));
  const nonhost = new Uint8Array(32);
  nonhost.set(new TextEncoder().encode("GCE NonHostInfo\0"));
  nonhost[16] = technology;
  return [
    { pcrIndex: 0, eventType: EV.S_CRTM_VERSION, data: crtm },
    { pcrIndex: 0, eventType: EV.NONHOST_INFO, data: nonhost },
  ];
}
