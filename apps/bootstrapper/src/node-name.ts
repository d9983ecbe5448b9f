import { readFile } from "node:fs/promises";
import { BootstrapperError } from "./errors.ts";

/** A Kubernetes node name: lower-case RFC 1123 subdomain, at most 253 characters. */
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/**
 * The node name from `ASTERISM_NODE_NAME_FILE`: in a VM, QEMU's fw_cfg entry
 * `/sys/firmware/qemu_fw_cfg/by_name/opt/asterism/node-name/raw` (the host starts each VM with
 * `-fw_cfg name=opt/asterism/node-name,string=<name>`). The name is only a hint that tells the metadata
 * service who is asking: identity comes from the metadata answer and is bound into PCR 16. A trailing
 * newline or NUL is tolerated; anything else that is not a node name is refused (`NODE_NAME_UNREADABLE`).
 */
export async function readNodeNameFile(path: string): Promise<string> {
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(await readFile(path));
  } catch (cause) {
    throw new BootstrapperError("NODE_NAME_UNREADABLE", `Cannot read the node name from ${path}`, {
      expected:
        "a readable file (QEMU: -fw_cfg name=opt/asterism/node-name,string=<name>, module qemu_fw_cfg)",
      actual: (cause as NodeJS.ErrnoException).code ?? "unreadable",
      cause,
    });
  }
  const text = new TextDecoder("utf-8", { fatal: false })
    .decode(raw.subarray(0, 512))
    .replace(/[\n\0]+$/, "");
  if (raw.length > 512 || !NODE_NAME.test(text))
    throw new BootstrapperError("NODE_NAME_UNREADABLE", `Cannot use the node name in ${path}`, {
      expected: "a lower-case RFC 1123 name of at most 253 characters",
      actual: JSON.stringify(text.slice(0, 64)),
    });
  return text;
}
