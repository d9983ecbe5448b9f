/**
 * The GCE AK certificate chain (VECTORS.md §3.1): parsed here only to tie the quote vectors to their AK.
 * Chain *policy* (roots, validity, GCE extensions) belongs to @asterism/attestation.
 */
import "reflect-metadata";
import { describe, expect, test } from "bun:test";
import { toHex } from "@asterism/bytes";
import { readTestdata } from "@asterism/testing";
import * as x509 from "@peculiar/x509";
import { tpmPublicToSpki } from "./crypto-key.ts";
import { parseTpmtPublic } from "./quote.ts";

x509.cryptoProvider.set(crypto);
const cert = async (...p: string[]) =>
  new x509.X509Certificate((await readTestdata("external", "go-tpm-tools", ...p)) as Uint8Array<ArrayBuffer>);

describe("GCE AK certificate chain", () => {
  test.each(["gce-cos-85-no-nonce", "gce-cos-85-nonce9009"])(
    "%s: AK cert holds ak_pub and chains AK → tpm_ek_intermediate_2 → tpm_ek_root_1",
    async (name) => {
      const ak = await cert("attestations", "decoded", name, "ak_cert.der");
      const pub = parseTpmtPublic(
        await readTestdata(
          "external",
          "go-tpm-tools",
          "attestations",
          "decoded",
          name,
          "ak_pub.tpmt_public.bin",
        ),
      );
      expect(toHex(new Uint8Array(ak.publicKey.rawData))).toBe(toHex(await tpmPublicToSpki(pub)));
      const inter = await cert("ca-certs", "tpm_ek_intermediate_2.crt");
      const root = await cert("ca-certs", "tpm_ek_root_1.cer");
      expect(await ak.verify({ publicKey: inter.publicKey, signatureOnly: true })).toBe(true);
      expect(await inter.verify({ publicKey: root.publicKey, signatureOnly: true })).toBe(true);
      // The other intermediate did not sign it.
      const other = await cert("ca-certs", "tpm_ek_intermediate_3.crt");
      expect(await ak.verify({ publicKey: other.publicKey, signatureOnly: true })).toBe(false);
    },
  );
});
