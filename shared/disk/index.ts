/**
 * The encrypted state disk: LUKS2 through cryptsetup with keys passed out of band (stdin or a private
 * memory-backed file, never argv), first-boot formatting under a random passphrase, replacement by the
 * join ticket's key, verification with `--test-passphrase`, and the dm-crypt mapping behind an
 * interface (device-mapper exists in VM guests, not on our CI host).
 *
 * @module
 */
export { type CryptsetupRunner, type PbkdfOptions, systemCryptsetup } from "./cryptsetup.ts";
export { DiskError, type DiskErrorCode } from "./errors.ts";
export { cryptsetupMapper, type DeviceMapper, Luks2, noDeviceMapper } from "./luks.ts";
export { installDiskKey, prepareStateDisk, type StateDiskDeps, type StateDiskResult } from "./state-disk.ts";
