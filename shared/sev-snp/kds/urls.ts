import { toHex } from "@asterism/bytes";
import { type Product, productKdsName } from "../abi/product.ts";
import type { TcbParts } from "../abi/tcb.ts";

/** AMD's Key Distribution Service. */
export const KDS_BASE_URL = "https://kdsintf.amd.com";

/** The key kinds KDS serves chains and CRLs for. */
export type KdsKeyKind = "vcek" | "vlek";

/**
 * The KDS path of a VCEK (AMD pub. 57230 "VCEK Certificate and KDS Interface Specification" §4.1):
 * `/vcek/v1/{Milan|Genoa}/{hwid: 64 bytes hex}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=`; Turin uses the 8-byte
 * hwID (the first 8 bytes of CHIP_ID) and adds `fmcSPL` first. Decimal SPLs without padding, as in the
 * URL external VECTORS.md §1.1 quotes. VLEKs are not served by hwID: the cloud provider hands them out.
 */
export function vcekPath(product: Product, chipId: Uint8Array, tcb: TcbParts): string {
  const hwId = product === "turin" ? chipId.subarray(0, 8) : chipId;
  const q = [
    ...(product === "turin" ? [`fmcSPL=${tcb.fmc ?? 0}`] : []),
    `blSPL=${tcb.bootloader}`,
    `teeSPL=${tcb.tee}`,
    `snpSPL=${tcb.snp}`,
    `ucodeSPL=${tcb.microcode}`,
  ].join("&");
  return `/vcek/v1/${productKdsName(product)}/${toHex(hwId)}?${q}`;
}

/** `/{vcek|vlek}/v1/{Product}/cert_chain`: the ASK (or ASVK) then the ARK, PEM. */
export function certChainPath(product: Product, kind: KdsKeyKind): string {
  return `/${kind}/v1/${productKdsName(product)}/cert_chain`;
}

/** `/{vcek|vlek}/v1/{Product}/crl`: AMD's CRL for the product's intermediates, DER, signed by the ARK. */
export function crlPath(product: Product, kind: KdsKeyKind): string {
  return `/${kind}/v1/${productKdsName(product)}/crl`;
}
