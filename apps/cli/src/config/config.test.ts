import { describe, expect, test } from "bun:test";
import { defaultBootComponentBytes } from "../boot/components.ts";
import { precomputeBootMeasurements } from "../boot/precompute.ts";
import { ConfigError } from "./errors.ts";
import { generateConfig } from "./generate.ts";
import { parseConfig } from "./load.ts";
import { PROVIDER_VARIANTS, PROVIDERS } from "./schema.ts";

const qemu = generateConfig({
  provider: "qemu",
  variant: "qemu-vtpm",
  name: "mini",
  measurements: precomputeBootMeasurements(defaultBootComponentBytes("qemu-vtpm")),
});

function issues(text: string): string[] {
  try {
    parseConfig(text, "config.yaml");
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).lines();
  }
  return [];
}

/** 1-based line number of the first line containing `needle`. */
const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

describe("config generate", () => {
  test("qemu with precomputed measurements is valid and commented", () => {
    const c = parseConfig(qemu);
    expect(c.provider.qemu?.bootComponents.kernel).toBe("boot/kernel.efi");
    expect(Object.keys(c.attestation.measurements).map(Number)).toEqual([...Array(15).keys()]);
    expect(qemu).toContain("# PCR 4 (EV_EFI_BOOT_SERVICES_APPLICATION)");
    expect(qemu).toContain("PCR 15 is not listed");
  });

  for (const provider of PROVIDERS) {
    for (const variant of PROVIDER_VARIANTS[provider]) {
      test(`${provider}/${variant}: YAML with only fill-in problems`, () => {
        const text = generateConfig({ provider, variant, name: "c" });
        for (const line of issues(text)) {
          expect(line).toMatch(
            /^config\.yaml:\d+:\d+: \S+: (not filled in|.* must not be empty|must be \d+ bytes|exactly \d+ bytes)/,
          );
        }
      });
    }
  }
});

describe("config validation points at the line", () => {
  const cases: { name: string; edit: (t: string) => string; needle: string; want: RegExp; below?: number }[] =
    [
      {
        name: "measurement one hex digit short",
        edit: (t) => t.replace(/(0:.*\n\s+expected: ")([0-9a-f]{63})[0-9a-f]"/, '$1$2"'),
        needle: "0: # firmware",
        below: 1,
        want: /^config\.yaml:(\d+):17: attestation\.measurements\.0\.expected: expected 64 hex characters, got 63$/,
      },
      {
        name: "non-hex measurement",
        edit: (t) => t.replace(/(4:.*\n\s+expected: ")[0-9a-f]{2}/, "$1zz"),
        needle: "4: # kernel",
        below: 1,
        want: /^config\.yaml:(\d+):17: attestation\.measurements\.4\.expected: expected hex digits, got "zz/,
      },
      {
        name: "unknown field is pointed at its key",
        edit: (t) => t.replace("    diskPbkdf: pbkdf2", "    diskPbkdf: pbkdf2\n    diskPbkfd: argon2id"),
        needle: "diskPbkfd",
        want: /^config\.yaml:(\d+):5: provider\.qemu\.diskPbkfd: unknown field "diskPbkfd"$/,
      },
      {
        name: "wrong type",
        edit: (t) =>
          t.replace("  controlPlane:\n    initialCount: 1", "  controlPlane:\n    initialCount: three"),
        needle: "initialCount: three",
        want: /^config\.yaml:(\d+):19: nodeGroups\.controlPlane\.initialCount: expected number, got "three"$/,
      },
      {
        name: "PCR index out of range",
        edit: (t) => t.replace("    14: # unused", "    24: # unused"),
        needle: "24: # unused",
        want: /^config\.yaml:(\d+):\d+: attestation\.measurements\.24: expected a PCR index 0\.\.23/,
      },
      {
        name: "variant of another provider",
        edit: (t) => t.replace("variant: qemu-vtpm", "variant: aws-sev-snp"),
        needle: "variant: aws-sev-snp",
        want: /^config\.yaml:(\d+):12: attestation\.variant: aws-sev-snp does not run on qemu/,
      },
      {
        name: "bad cluster name",
        edit: (t) => t.replace("name: mini", "name: Mini_Cluster"),
        needle: "name: Mini_Cluster",
        want: /^config\.yaml:(\d+):7: name: expected lower-case letters/,
      },
      {
        name: "missing field points at the parent",
        edit: (t) => t.replace("      initrd: boot/initrd.img # PCR 9 (EV_IPL)\n", ""),
        needle: "firmware: boot/firmware.bin",
        want: /^config\.yaml:(\d+):7: provider\.qemu\.bootComponents\.initrd: missing/,
      },
      {
        name: "YAML syntax error",
        edit: (t) => t.replace("name: mini", "name: mini: twice"),
        needle: "name: mini: twice",
        want: /^config\.yaml:(\d+):\d+: /,
      },
      {
        name: "duplicate key",
        edit: (t) => t.replace("name: mini", "name: mini\nname: other"),
        needle: "name: other",
        want: /^config\.yaml:(\d+):1: Map keys must be unique/,
      },
    ];
  test.each(cases)("$name", ({ edit, needle, want, below }) => {
    const text = edit(qemu);
    expect(text).not.toBe(qemu);
    const got = issues(text);
    const hit = got.find((l) => want.test(l));
    expect({ got, found: hit !== undefined }).toEqual({ got, found: true });
    // Points at the line of the offending node (or, for a missing field, its parent's first child).
    expect(Number(hit?.match(want)?.[1])).toBe(lineOf(text, needle) + (below ?? 0));
  });

  test("all problems are reported at once, in file order", () => {
    const text = qemu
      .replace("name: mini", "name: X")
      .replace("  worker:\n    initialCount: 1", "  worker:\n    initialCount: -1");
    const got = issues(text);
    expect(got.map((l) => l.split(": ")[1])).toEqual(["name", "nodeGroups.worker.initialCount"]);
  });

  test("unquoted all-digit hex stays a string", () => {
    const digits = "1".repeat(64);
    const c = parseConfig(qemu.replace(/(8: # unused\n\s+expected: )"0+"/, `$1${digits}`));
    expect(c.attestation.measurements["8"]?.expected).toBe(digits);
  });

  test("aliases are refused", () => {
    expect(
      issues(qemu.replace("name: mini", "name: &n mini\nkubernetesVersion2: *n")).length,
    ).toBeGreaterThan(0);
  });
});
