/**
 * `config generate`: a commented configuration per provider, built with the `yaml` Document API so the
 * comments sit on the fields they explain and the output is valid YAML by construction.
 */
import type { Variant } from "@asterism/attestation";
import type { Measurements } from "@asterism/measurements";
import { Document, isMap, isScalar, type Pair, Scalar, type YAMLMap } from "yaml";
import { DEFAULT_BOOT_COMPONENTS } from "../boot/components.ts";
import { PCR_MEANINGS } from "../boot/events.ts";
import { CONFIG_VERSION, type Provider } from "./schema.ts";

/** What to generate. */
export interface GenerateOptions {
  readonly provider: Provider;
  readonly variant: Variant;
  readonly name: string;
  /** Known expected measurements (qemu-vtpm: precomputed from the boot components). */
  readonly measurements?: Measurements;
  /**
   * Where `measurements` come from when not from the boot components (a node image: `mini up --vm`):
   * the comment above them and what each PCR measures. Default: the local cluster's boot components.
   */
  readonly measurementsFrom?: { readonly note: string; readonly meanings: Readonly<Record<number, string>> };
  readonly controlPlanes?: number;
  readonly workers?: number;
  readonly kubernetesVersion?: string;
}

/** Default Kubernetes version written into new configs. */
export const DEFAULT_KUBERNETES_VERSION = "v1.31.13";

/**
 * PCRs whose value depends on the image (filled in from `measurements precompute --image` or the image's
 * signed measurements) and PCRs with a fixed value on every platform, per Constellation's defaults
 * (reference §5.3): enforced 4, 8, 9, 11, 12, 13; PCR 14 (secure-boot state) warn-only.
 */
const IMAGE_PCRS = [4, 8, 9, 11, 12, 13] as const;
/** The EV_SEPARATOR-only chain: SHA-256(0^32 ‖ SHA-256(00000000)) (reference §5.3). */
const SEPARATOR_ONLY = "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969";
/** Per-provider warn-only PCRs (firmware and CSP values that are not reproducible; reference §5.3). */
const WARN_ONLY: Readonly<Record<Provider, readonly number[]>> = {
  qemu: [],
  aws: [0, 2, 3, 6, 14],
  azure: [1, 2, 3, 14],
  gcp: [1, 2, 3, 6, 14],
};

function pathIn(doc: Document, path: readonly string[]): Pair | undefined {
  let node: unknown = doc.contents;
  let pair: Pair | undefined;
  for (const seg of path) {
    if (!isMap(node)) return undefined;
    pair = (node as YAMLMap).items.find((p) => isScalar(p.key) && String(p.key.value) === seg) as
      | Pair
      | undefined;
    if (!pair) return undefined;
    node = pair.value;
  }
  return pair;
}

/** Put `text` (one or more lines) as a comment above the field at `path`. */
function above(doc: Document, path: readonly string[], text: string, blankLine = false): void {
  const pair = pathIn(doc, path);
  if (!pair || !isScalar(pair.key)) throw new Error(`generate: no field ${path.join(".")}`);
  pair.key.commentBefore = text
    .split("\n")
    .map((l) => ` ${l}`)
    .join("\n");
  if (blankLine) pair.key.spaceBefore = true;
}

/** Put `text` as a comment at the end of the field's line. */
function inline(doc: Document, path: readonly string[], text: string): void {
  const pair = pathIn(doc, path);
  if (!pair) throw new Error(`generate: no field ${path.join(".")}`);
  if (isScalar(pair.value)) pair.value.comment = ` ${text}`;
  else if (isScalar(pair.key)) pair.key.comment = ` ${text}`;
}

function providerBlock(provider: Provider): Record<string, unknown> {
  switch (provider) {
    case "qemu":
      return { bootComponents: { ...DEFAULT_BOOT_COMPONENTS }, stateDiskSizeMiB: 32, diskPbkdf: "pbkdf2" };
    case "aws":
      return {
        region: "eu-central-1",
        zone: "eu-central-1a",
        instanceType: "m6a.xlarge",
        stateDiskSizeGiB: 30,
      };
    case "azure":
      return {
        subscription: "",
        tenant: "",
        location: "westeurope",
        resourceGroup: "",
        instanceType: "Standard_DC4as_v5",
        stateDiskSizeGiB: 30,
      };
    case "gcp":
      return {
        project: "",
        region: "europe-west3",
        zone: "europe-west3-a",
        instanceType: "n2d-standard-4",
        stateDiskSizeGiB: 30,
      };
  }
}

function measurementEntries(o: GenerateOptions): Map<number, { expected: string; warnOnly: boolean }> {
  const out = new Map<number, { expected: string; warnOnly: boolean }>();
  if (o.measurements) {
    for (const [i, m] of o.measurements) out.set(i, { expected: m.expected, warnOnly: m.warnOnly });
    return out;
  }
  if (o.variant.endsWith("-tdx")) {
    // MRTD and RTMR0–2 depend on the image; index 3 (RTMR2) holds the cluster ID and is added by verify.
    for (const i of [0, 1, 2]) out.set(i, { expected: "", warnOnly: false });
    return out;
  }
  const warn = new Set(WARN_ONLY[o.provider]);
  for (const i of [2, 3, 6]) out.set(i, { expected: SEPARATOR_ONLY, warnOnly: warn.has(i) });
  for (const i of IMAGE_PCRS) out.set(i, { expected: "", warnOnly: false });
  out.set(14, { expected: "00".repeat(32), warnOnly: true });
  return new Map([...out].sort(([a], [b]) => a - b));
}

function attestationBlock(o: GenerateOptions): Record<string, unknown> {
  const block: Record<string, unknown> = { variant: o.variant, measurements: measurementEntries(o) };
  if (o.variant.endsWith("-sev-snp")) {
    block["snp"] = {
      measurement: "",
      minimumTcb: { bootloader: 0, tee: 0, snp: 0, microcode: 0 },
      allowDebug: false,
    };
  }
  if (o.variant.endsWith("-tdx")) {
    block["tdx"] = {
      mrSeam: "",
      minimumTeeTcbSvn: "00".repeat(16),
      qeVendorId: "939a7233f79c4ca9940a0db3957f0607",
    };
  }
  return block;
}

/** The configuration as commented YAML text. */
export function generateConfig(o: GenerateOptions): string {
  const doc = new Document({
    version: CONFIG_VERSION,
    name: o.name,
    kubernetesVersion: o.kubernetesVersion ?? DEFAULT_KUBERNETES_VERSION,
    provider: { [o.provider]: providerBlock(o.provider) },
    nodeGroups: {
      controlPlane: { initialCount: o.controlPlanes ?? 1 },
      worker: { initialCount: o.workers ?? 1 },
    },
    attestation: attestationBlock(o),
  });
  doc.commentBefore = [
    ` Asterism cluster configuration (${o.provider}), written by \`asterism config generate ${o.provider}\`.`,
    " Check it with `asterism config validate`; every field is explained in docs/cli.md.",
  ].join("\n");

  above(doc, ["version"], "Schema version of this file.");
  above(doc, ["name"], "Cluster name: lower-case letters, digits and '-', at most 37 characters.", true);
  above(
    doc,
    ["kubernetesVersion"],
    o.provider === "qemu"
      ? "Kubernetes version the nodes install (the local cluster runs no kubelets; kept for `apply`)."
      : "Kubernetes version the nodes install.",
    true,
  );
  above(doc, ["provider"], "Where the nodes run. Exactly one provider block.", true);
  if (o.provider === "qemu") {
    const q = ["provider", "qemu"];
    above(
      doc,
      [...q, "bootComponents"],
      [
        "The boot components the local cluster's simulated firmware measures into each node's TPM, in",
        "this order, and records in a TCG event log. Paths are relative to this file.",
        "`asterism measurements precompute` computes the expected PCRs from them.",
      ].join("\n"),
    );
    inline(doc, [...q, "bootComponents", "firmware"], "PCR 0 (EV_EFI_PLATFORM_FIRMWARE_BLOB2)");
    inline(doc, [...q, "bootComponents", "kernel"], "PCR 4 (EV_EFI_BOOT_SERVICES_APPLICATION)");
    inline(doc, [...q, "bootComponents", "initrd"], "PCR 9 (EV_IPL)");
    inline(doc, [...q, "bootComponents", "cmdline"], "PCR 12 (EV_IPL, trailing newline ignored)");
    above(doc, [...q, "stateDiskSizeMiB"], "Size of each node's state disk image (LUKS2).");
    above(
      doc,
      [...q, "diskPbkdf"],
      "LUKS2 key derivation for state disks: pbkdf2 keeps the local cluster fast; argon2id is\nmemory-hard (about 1 GiB and seconds per unlock).",
    );
  } else {
    above(
      doc,
      ["provider", o.provider, "instanceType"],
      "A confidential-VM instance type for the chosen variant.",
    );
  }
  above(doc, ["nodeGroups"], "How many nodes of each role to create.", true);
  above(
    doc,
    ["attestation"],
    "What a node must prove before it gets a key or joins. Checked on init, on every join and by `verify`.",
    true,
  );
  above(
    doc,
    ["attestation", "variant"],
    `Attestation variant; ${o.provider} supports the ones in docs/cli.md.`,
  );
  above(
    doc,
    ["attestation", "measurements"],
    [
      "Expected PCR values (SHA-256 bank; 48-byte registers for TDX): index → {expected, warnOnly}.",
      "Indices not listed are not checked; warnOnly: true only warns on a mismatch.",
      "PCR 15 is not listed: it holds the cluster ID, and `verify` adds SHA-256(0^32 ‖ SHA-256(clusterID)).",
      o.measurements
        ? (o.measurementsFrom?.note ??
          "Precomputed from the boot components above (`asterism measurements precompute`).")
        : "Empty values must be filled in from your image's signed measurements\n(`asterism measurements verify`) or `asterism measurements precompute --image`.",
    ].join("\n"),
  );
  const measurements = pathIn(doc, ["attestation", "measurements"])?.value;
  if (isMap(measurements)) {
    for (const item of measurements.items) {
      const index = isScalar(item.key) ? Number(item.key.value) : Number.NaN;
      const meanings = o.measurementsFrom?.meanings ?? PCR_MEANINGS;
      if (isScalar(item.key) && meanings[index] && o.provider === "qemu")
        item.key.comment = ` ${meanings[index]}`;
      if (isMap(item.value)) {
        const exp = item.value.items.find((p) => isScalar(p.key) && p.key.value === "expected");
        if (exp && isScalar(exp.value)) exp.value.type = Scalar.QUOTE_DOUBLE;
      }
    }
  }
  if (o.variant.endsWith("-sev-snp")) {
    above(
      doc,
      ["attestation", "snp"],
      [
        "SEV-SNP report policy. measurement: the launch measurement of your image (48 bytes hex);",
        "minimumTcb: the lowest firmware TCB you accept (see your provider's current values).",
      ].join("\n"),
    );
  }
  if (o.variant.endsWith("-tdx")) {
    above(
      doc,
      ["attestation", "tdx"],
      "TDX quote policy: the TDX module (MRSEAM) and minimum TCB you accept.",
    );
  }
  return doc.toString({ lineWidth: 0 });
}
