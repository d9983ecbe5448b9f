import { createHash } from "node:crypto";
import { gzipDeterministicAsync } from "./gzip.ts";
import { createTar, type TarEntry } from "./tar.ts";

/** OCI media types (image-spec v1.1, media-types.md). */
export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

/** A content-addressed blob. */
export interface Blob {
  readonly digest: string;
  readonly bytes: Uint8Array;
}

/** An OCI descriptor (image-spec descriptor.md). */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** What runs: the OCI image config's `config` section, limited to what our images set. */
export interface ImageRuntimeConfig {
  /** `uid:gid`, numeric so no passwd lookup is needed. */
  readonly user: string;
  readonly entrypoint: readonly string[];
  readonly env?: readonly string[];
  readonly exposedPorts?: readonly number[];
  readonly labels?: Readonly<Record<string, string>>;
}

export interface LayerSpec {
  /** Shown in the config history (e.g. "debian runtime libraries", "join-service binary"). */
  readonly comment: string;
  readonly entries: readonly TarEntry[];
}

export interface ImageSpec {
  readonly layers: readonly LayerSpec[];
  readonly config: ImageRuntimeConfig;
  /** Annotations of the manifest (provenance: source revision, Debian package versions). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Tag recorded as `org.opencontainers.image.ref.name` in index.json. */
  readonly refName: string;
}

/** A built image: every blob plus the top-level index.json, ready to write as a layout or archive. */
export interface BuiltImage {
  /** The image digest: sha256 of the manifest, what a registry and a `image@sha256:` reference use. */
  readonly digest: string;
  readonly manifest: Descriptor;
  readonly index: Uint8Array;
  readonly blobs: readonly Blob[];
}

/**
 * Compressed layers by uncompressed digest: identical layers (the shared base) are compressed once, also
 * when several images are built concurrently (the cache holds the pending compression).
 */
export type LayerCache = Map<string, Promise<Blob>>;

const FIXED_CREATED = "1970-01-01T00:00:00Z";

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** JSON with the key order of our literals and no whitespace: the same values give the same bytes. */
function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function blobOf(bytes: Uint8Array): Blob {
  return { digest: sha256Digest(bytes), bytes };
}

/**
 * Builds an OCI image from explicit layer contents. Reproducible: no timestamps (created = epoch), no
 * host ownership, sorted tar entries, fixed gzip header, deterministic JSON. Building the same spec twice
 * gives the same digest (tests/k8s/images.test.ts).
 *
 * @example
 * const img = await buildImage({ layers: [base, app], config: { user: "65532:65532", entrypoint: ["/app"] }, refName: "v1" });
 */
export async function buildImage(spec: ImageSpec, cache: LayerCache = new Map()): Promise<BuiltImage> {
  const layers = await Promise.all(
    spec.layers.map(async (l) => {
      const tar = createTar(l.entries);
      const diffId = sha256Digest(tar);
      let pending = cache.get(diffId);
      if (pending === undefined) {
        pending = gzipDeterministicAsync(tar).then(blobOf);
        cache.set(diffId, pending);
      }
      return { diffId, blob: await pending, comment: l.comment };
    }),
  );
  const c = spec.config;
  const config = blobOf(
    jsonBytes({
      created: FIXED_CREATED,
      architecture: "amd64",
      os: "linux",
      config: {
        User: c.user,
        Entrypoint: c.entrypoint,
        Env: c.env ?? [],
        WorkingDir: "/",
        ExposedPorts: Object.fromEntries((c.exposedPorts ?? []).map((p) => [`${p}/tcp`, {}])),
        Labels: c.labels ?? {},
      },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((l) => ({
        created: FIXED_CREATED,
        created_by: "asterism oci-image",
        comment: l.comment,
      })),
    }),
  );
  const manifestBlob = blobOf(
    jsonBytes({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: { mediaType: MEDIA_TYPES.config, digest: config.digest, size: config.bytes.length },
      layers: layers.map((l) => ({
        mediaType: MEDIA_TYPES.layerGzip,
        digest: l.blob.digest,
        size: l.blob.bytes.length,
      })),
      ...(spec.annotations === undefined ? {} : { annotations: spec.annotations }),
    }),
  );
  const manifest: Descriptor = {
    mediaType: MEDIA_TYPES.manifest,
    digest: manifestBlob.digest,
    size: manifestBlob.bytes.length,
    annotations: { "org.opencontainers.image.ref.name": spec.refName },
  };
  const index = jsonBytes({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: [manifest] });
  const blobs = new Map<string, Blob>();
  for (const b of [config, manifestBlob, ...layers.map((l) => l.blob)]) blobs.set(b.digest, b);
  return { digest: manifestBlob.digest, manifest, index, blobs: [...blobs.values()] };
}

/** The OCI image layout (image-spec image-layout.md) as tar entries: oci-layout, index.json, blobs. */
function layoutEntries(img: BuiltImage): TarEntry[] {
  return [
    { type: "file", path: "oci-layout", mode: 0o644, content: jsonBytes({ imageLayoutVersion: "1.0.0" }) },
    { type: "file", path: "index.json", mode: 0o644, content: img.index },
    ...img.blobs.map(
      (b): TarEntry => ({
        type: "file",
        path: `blobs/sha256/${b.digest.slice(7)}`,
        mode: 0o644,
        content: b.bytes,
      }),
    ),
  ];
}

/**
 * The image as an OCI archive (an uncompressed tar of the image layout, what `skopeo copy oci-archive:`
 * and `podman load` read). Reproducible like the image itself.
 */
export function ociArchive(img: BuiltImage): Uint8Array {
  return createTar(layoutEntries(img));
}

/** Writes the image layout into `dir` (created if needed), e.g. for `umoci unpack --image dir:tag`. */
export async function writeOciLayout(img: BuiltImage, dir: string): Promise<void> {
  for (const e of layoutEntries(img)) if (e.type === "file") await Bun.write(`${dir}/${e.path}`, e.content);
}
