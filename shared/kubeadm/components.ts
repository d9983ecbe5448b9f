import { posix } from "node:path";
import { toHex } from "@asterism/bytes";
import * as v from "valibot";
import { describeIssue } from "./_issues.ts";
import { ComponentError } from "./errors.ts";

/** Longest component list accepted: a Kubernetes install is ~10 components; 64 is generous. */
export const MAX_COMPONENTS = 64;
/** Longest URL accepted (data: URLs carry kubeadm patches inline, so allow some room). */
export const MAX_COMPONENT_URL = 64 * 1024;
/** The only pin format: `sha256:` and 64 lower-case hex digits. */
export const COMPONENT_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;
const ALLOWED_SCHEMES = new Set(["https:", "http:", "data:"]);

/**
 * One Kubernetes component to install (Constellation's `components.Component`, camel-cased): where to get it,
 * the SHA-256 it must have, where to put it and whether it is a tar.gz to unpack under `installPath`.
 * Plain `http:` is allowed because integrity comes from the pin, not the transport.
 */
export const ComponentSchema = v.strictObject({
  url: v.pipe(
    v.string(),
    v.maxLength(MAX_COMPONENT_URL),
    v.check((s) => {
      if (!URL.canParse(s)) return false;
      const u = new URL(s);
      return ALLOWED_SCHEMES.has(u.protocol) && u.username === "" && u.password === "";
    }, "must be an http(s) or data: URL without credentials"),
  ),
  hash: v.pipe(v.string(), v.regex(COMPONENT_HASH_PATTERN, "must be sha256:<64 lower-case hex digits>")),
  installPath: v.pipe(
    v.string(),
    v.maxLength(4096),
    v.check(
      (p) =>
        p.startsWith("/") && p !== "/" && !p.includes("\0") && posix.normalize(p) === p && !p.endsWith("/"),
      "must be a normalized absolute path",
    ),
  ),
  extract: v.optional(v.boolean(), false),
});

/** A validated component. */
export type Component = v.InferOutput<typeof ComponentSchema>;

/**
 * Parses a component list from JSON-shaped input. Every component MUST carry a SHA-256 pin: a missing or empty
 * `hash` is refused with `COMPONENT_HASH_MISSING` (Constellation installed hash-less components unchecked,
 * reference/constellation.md §11 item 10). Anything else malformed, or two components with the same
 * `installPath`, is `COMPONENT_LIST_INVALID`.
 */
export function parseComponentList(input: unknown): Component[] {
  if (!Array.isArray(input) || input.length > MAX_COMPONENTS) {
    throw new ComponentError("COMPONENT_LIST_INVALID", "Cannot parse component list", {
      expected: `an array of at most ${MAX_COMPONENTS} components`,
      actual: Array.isArray(input) ? `${input.length} components` : typeof input,
    });
  }
  const out: Component[] = [];
  const paths = new Set<string>();
  input.forEach((item: unknown, i) => {
    if (typeof item === "object" && item !== null && !Array.isArray(item)) {
      const hash = (item as Record<string, unknown>)["hash"];
      if (hash === undefined || hash === null || hash === "") {
        throw new ComponentError("COMPONENT_HASH_MISSING", "Refusing unpinned component", {
          expected: "a sha256:<hex> hash on every component",
          actual: `component ${i} has none`,
        });
      }
    }
    const r = v.safeParse(ComponentSchema, item);
    if (!r.success) {
      const { path, rule } = describeIssue(r.issues);
      throw new ComponentError("COMPONENT_LIST_INVALID", "Cannot parse component list", {
        expected: `component ${i} ${path}: ${rule}`,
        actual: `invalid ${path}`,
      });
    }
    if (paths.has(r.output.installPath)) {
      throw new ComponentError("COMPONENT_LIST_INVALID", "Cannot parse component list", {
        expected: "distinct install paths",
        actual: `component ${i} repeats ${r.output.installPath}`,
      });
    }
    paths.add(r.output.installPath);
    out.push(r.output);
  });
  return out;
}

/**
 * Constellation's `Components.GetHash()`: `sha256:` + hex SHA-256 over the concatenated `hash` strings, in list
 * order. Names the `k8s-components-sha256-<hex>` ConfigMap.
 */
export async function componentsHash(
  list: readonly Component[],
  crypto: Crypto = globalThis.crypto,
): Promise<string> {
  const data = new TextEncoder().encode(list.map((c) => c.hash).join(""));
  return `sha256:${toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)))}`;
}
