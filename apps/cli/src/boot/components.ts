/**
 * The declared boot components of the local cluster: files in the workspace, named by the config's
 * `provider.qemu.bootComponents`. `config generate qemu` writes a default set; the user may replace any
 * of them (and re-run `measurements precompute`).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { BootComponents } from "../config/schema.ts";
import { WorkspaceError } from "../workspace/errors.ts";
import type { BootComponentBytes } from "./events.ts";

/** The component names, in boot order. */
export const COMPONENT_NAMES = ["firmware", "kernel", "initrd", "cmdline"] as const;

/** Largest component accepted (a real UKI is ~100 MiB; this bounds memory on a typo'd path). */
export const MAX_COMPONENT_BYTES = 512 * 1024 * 1024;

/** Default relative paths, as `config generate qemu` declares them. */
export const DEFAULT_BOOT_COMPONENTS: BootComponents = {
  firmware: "boot/firmware.bin",
  kernel: "boot/kernel.efi",
  initrd: "boot/initrd.img",
  cmdline: "boot/cmdline.txt",
};

/** Resolve a declared path against the directory of the config file. */
export function componentPath(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** Read the declared components. A missing or oversized file is a WorkspaceError naming it. */
export function readBootComponents(baseDir: string, decl: BootComponents): BootComponentBytes {
  const read = (name: (typeof COMPONENT_NAMES)[number]) => {
    const path = componentPath(baseDir, decl[name]);
    try {
      const bytes = readFileSync(path);
      if (bytes.length > MAX_COMPONENT_BYTES) {
        throw new WorkspaceError("BOOT_COMPONENT_UNREADABLE", `Cannot read boot component ${name} ${path}`, {
          expected: `at most ${MAX_COMPONENT_BYTES} bytes`,
          actual: `${bytes.length} bytes`,
        });
      }
      return new Uint8Array(bytes);
    } catch (cause) {
      if (cause instanceof WorkspaceError) throw cause;
      throw new WorkspaceError("BOOT_COMPONENT_UNREADABLE", `Cannot read boot component ${name} ${path}`, {
        actual: cause instanceof Error ? cause.message : String(cause),
        cause,
      });
    }
  };
  return {
    firmware: read("firmware"),
    kernel: read("kernel"),
    initrd: read("initrd"),
    cmdline: read("cmdline"),
  };
}

/**
 * Deterministic filler: SHA-256 in counter mode over a label. Every workspace gets the same default
 * components, so the default measurements are the same everywhere (like a release image's).
 */
function filler(label: string, size: number): Uint8Array {
  const header = new TextEncoder().encode(
    `ASTERISM SIMULATED ${label.toUpperCase()}: not executable; measured by the local cluster's simulated firmware.\n`,
  );
  const out = new Uint8Array(size);
  out.set(header.subarray(0, size));
  for (let off = header.length, i = 0; off < size; i++) {
    const block = createHash("sha256").update(`asterism-${label}-v1-${i}`).digest();
    out.set(block.subarray(0, Math.min(block.length, size - off)), off);
    off += block.length;
  }
  return out;
}

/** The default components' contents. */
export function defaultBootComponentBytes(variant: string): BootComponentBytes {
  return {
    firmware: filler("firmware", 256 * 1024),
    kernel: filler("kernel", 1024 * 1024),
    initrd: filler("initrd", 512 * 1024),
    cmdline: new TextEncoder().encode(
      `console=ttyS0 asterism.csp=qemu asterism.attestation-variant=${variant}\n`,
    ),
  };
}

/**
 * Write the default components where `decl` says, skipping files that exist (the user's own components
 * are never overwritten). Returns the paths written.
 */
export function writeDefaultBootComponents(baseDir: string, decl: BootComponents, variant: string): string[] {
  const bytes = defaultBootComponentBytes(variant);
  const written: string[] = [];
  for (const name of COMPONENT_NAMES) {
    const path = componentPath(baseDir, decl[name]);
    if (existsSync(path)) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes[name], { flag: "wx" });
    written.push(path);
  }
  return written;
}

/** Copy the declared components into a node's own boot directory (each "VM" boots its own copy). */
export function copyBootComponents(
  baseDir: string,
  decl: BootComponents,
  nodeBootDir: string,
): BootComponents {
  mkdirSync(nodeBootDir, { recursive: true });
  const out: Record<string, string> = {};
  for (const name of COMPONENT_NAMES) {
    const target = join(nodeBootDir, name);
    writeFileSync(target, readFileSync(componentPath(baseDir, decl[name])));
    out[name] = target;
  }
  return out as BootComponents;
}
