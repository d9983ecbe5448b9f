/**
 * Reproducible OCI images without a container daemon: deterministic tar and gzip, OCI image layout and
 * archive, Debian runtime files checked against dpkg's records, and the Asterism service image recipe.
 *
 * @module
 */
export { type DebianFiles, type DebianSourceOptions, debianFiles, imagePathOf } from "./debian.ts";
export { OciError, type OciErrorCode } from "./errors.ts";
export { GZIP_LEVEL, gzipDeterministic, gzipDeterministicAsync } from "./gzip.ts";
export {
  type Blob,
  type BuiltImage,
  buildImage,
  type Descriptor,
  type ImageRuntimeConfig,
  type ImageSpec,
  type LayerCache,
  type LayerSpec,
  MEDIA_TYPES,
  ociArchive,
  sha256Digest,
  writeOciLayout,
} from "./image.ts";
export {
  BUN_RUNTIME_LIBS,
  buildServiceImage,
  RUNTIME_UID,
  runtimeBaseEntries,
  type ServiceImageOptions,
} from "./service-image.ts";
export { createTar, FIXED_MTIME, type TarEntry } from "./tar.ts";
