/**
 * The cluster configuration file (`asterism-conf.yaml`), schema `version: v1`.
 *
 * In the spirit of Constellation's `constellation-conf.yaml` (reference/constellation.md §9.2): name,
 * provider block, node groups, attestation. Differences, on purpose: one `attestation.variant` with the
 * variant's own policy block (`snp`, `tdx`) instead of one key per variant; measurements always in the
 * object form `{expected, warnOnly}`; unknown fields are errors everywhere (a misspelt field must not
 * silently switch a check off).
 */
import { VARIANTS, type Variant } from "@asterism/attestation";
import { SnpPolicySchema } from "@asterism/sev-snp";
import { TdxPolicySchema } from "@asterism/tdx";
import * as v from "valibot";

/** The only schema version this CLI reads and writes. */
export const CONFIG_VERSION = "v1";

/** Providers `config generate` knows. */
export const PROVIDERS = ["qemu", "aws", "azure", "gcp"] as const;
export type Provider = (typeof PROVIDERS)[number];

/** Each provider's variants; the first is the default. */
export const PROVIDER_VARIANTS: Readonly<Record<Provider, readonly Variant[]>> = {
  qemu: ["qemu-vtpm", "qemu-tdx"],
  aws: ["aws-sev-snp", "aws-nitro-tpm"],
  azure: ["azure-sev-snp", "azure-tdx"],
  gcp: ["gcp-sev-snp", "gcp-sev-es"],
};

/** Highest PCR / register index a measurement may name (TPM PC Client banks have 24 PCRs). */
export const MAX_MEASUREMENT_INDEX = 23;

const nonEmpty = (what: string) => v.pipe(v.string(), v.minLength(1, `${what} must not be empty`));

/** Cluster names: they end up in DNS names and resource names (Constellation: ≤ 37 characters). */
export const CLUSTER_NAME = /^[a-z][a-z0-9-]{0,36}$/;

const ClusterName = v.pipe(
  v.string(),
  v.regex(
    CLUSTER_NAME,
    (i) =>
      `expected lower-case letters, digits and '-', starting with a letter, at most 37 characters, got ${i.received}`,
  ),
);

const RelativePath = v.pipe(
  nonEmpty("the path"),
  v.check((p) => !p.includes("\0"), "must not contain NUL"),
);

/** The boot components the local cluster's simulated firmware measures, in boot order. */
export const BootComponentsSchema = v.strictObject({
  /** Measured into PCR 0 as the platform firmware blob. */
  firmware: RelativePath,
  /** Measured into PCR 4 as the boot application (a unified kernel image in a real image). */
  kernel: RelativePath,
  /** Measured into PCR 9 as the initrd. */
  initrd: RelativePath,
  /** Measured into PCR 12 as the kernel command line (text, trailing newline ignored). */
  cmdline: RelativePath,
});
export type BootComponents = v.InferOutput<typeof BootComponentsSchema>;

const Count = (max: number) =>
  v.pipe(v.number(), v.integer("must be a whole number"), v.minValue(0), v.maxValue(max));

const QemuSchema = v.strictObject({
  bootComponents: BootComponentsSchema,
  /** Size of each node's state disk image. */
  stateDiskSizeMiB: v.optional(v.pipe(v.number(), v.integer(), v.minValue(16), v.maxValue(65536)), 32),
  /** LUKS2 key derivation: pbkdf2 (fast, for the local cluster) or argon2id (memory-hard). */
  diskPbkdf: v.optional(v.picklist(["pbkdf2", "argon2id"]), "pbkdf2"),
});

const CloudCommon = {
  instanceType: nonEmpty("instanceType"),
  stateDiskSizeGiB: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10), v.maxValue(16384)), 30),
};
const AwsSchema = v.strictObject({ region: nonEmpty("region"), zone: nonEmpty("zone"), ...CloudCommon });
const AzureSchema = v.strictObject({
  subscription: nonEmpty("subscription"),
  tenant: nonEmpty("tenant"),
  location: nonEmpty("location"),
  resourceGroup: nonEmpty("resourceGroup"),
  ...CloudCommon,
});
const GcpSchema = v.strictObject({
  project: nonEmpty("project"),
  region: nonEmpty("region"),
  zone: nonEmpty("zone"),
  ...CloudCommon,
});

/** Exactly one provider block. */
const ProviderSchema = v.pipe(
  v.strictObject({
    qemu: v.optional(QemuSchema),
    aws: v.optional(AwsSchema),
    azure: v.optional(AzureSchema),
    gcp: v.optional(GcpSchema),
  }),
  v.check(
    (p) => Object.values(p).filter((x) => x !== undefined).length === 1,
    "expected exactly one of qemu, aws, azure, gcp",
  ),
);

const Hex = v.pipe(
  v.string(),
  v.check((s) => s.length > 0, "not filled in: put the image's value here (see the comment above)"),
  v.regex(/^[0-9a-fA-F]*$/, (i) => `expected hex digits, got ${i.received}`),
);

/** One expected measurement. Its length (64 or 96 hex characters) is checked against the variant. */
const MeasurementSchema = v.strictObject({
  expected: Hex,
  /** A mismatch is only reported as a warning. Absent: false (enforced). */
  warnOnly: v.optional(v.boolean(), false),
});

const MeasurementIndex = v.pipe(
  v.string(),
  v.regex(/^(0|[1-9][0-9]?)$/, (i) => `expected a PCR index 0..${MAX_MEASUREMENT_INDEX}, got ${i.received}`),
  v.check((k) => Number(k) <= MAX_MEASUREMENT_INDEX, `expected a PCR index 0..${MAX_MEASUREMENT_INDEX}`),
);

const AttestationSchema = v.strictObject({
  variant: v.picklist(Object.keys(VARIANTS) as Variant[]),
  /** Expected PCRs (or TDX registers): index → {expected, warnOnly}. Indices not listed are not checked. */
  measurements: v.record(MeasurementIndex, MeasurementSchema),
  /** SEV-SNP report policy (variants *-sev-snp). */
  snp: v.optional(SnpPolicySchema),
  /** TDX quote policy (variants *-tdx). */
  tdx: v.optional(TdxPolicySchema),
});

const NodeGroupSchema = v.strictObject({ initialCount: Count(64) });

/** The whole file. */
export const ConfigSchema = v.strictObject({
  version: v.literal(CONFIG_VERSION, (i) => `expected ${CONFIG_VERSION}, got ${i.received}`),
  name: ClusterName,
  kubernetesVersion: v.pipe(
    v.string(),
    v.regex(/^v\d+\.\d+\.\d+$/, (i) => `expected a version like v1.31.13, got ${i.received}`),
  ),
  provider: ProviderSchema,
  nodeGroups: v.strictObject({ controlPlane: NodeGroupSchema, worker: NodeGroupSchema }),
  attestation: AttestationSchema,
});

/** A validated configuration (defaults applied). */
export type Config = v.InferOutput<typeof ConfigSchema>;
/** The configuration as written in the file. */
export type ConfigInput = v.InferInput<typeof ConfigSchema>;

/** The provider a config names. */
export function configProvider(c: Config): Provider {
  for (const p of PROVIDERS) if (c.provider[p] !== undefined) return p;
  throw new Error("unreachable: the schema requires exactly one provider");
}
