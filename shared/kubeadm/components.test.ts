import { describe, expect, test } from "bun:test";
import { type Component, componentsHash, parseComponentList } from "./components.ts";
import { ComponentError } from "./errors.ts";

const H = `sha256:${"0".repeat(63)}1`;
const ok = {
  url: "https://dl.k8s.io/v1.31.13/bin/linux/amd64/kubeadm",
  hash: H,
  installPath: "/usr/local/bin/kubeadm",
  extract: false,
};

function codeOf(input: unknown): string | undefined {
  try {
    parseComponentList(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ComponentError);
    return (e as ComponentError).code;
  }
  return undefined;
}

describe("parseComponentList", () => {
  test("accepts pinned http(s) and data: components; extract defaults to false", () => {
    const list = parseComponentList([
      ok,
      { url: "http://127.0.0.1:8080/cni.tgz", hash: H, installPath: "/opt/cni/bin", extract: true },
      { url: "data:application/json;base64,e30=", hash: H, installPath: "/opt/kubernetes/patches/a.json" },
    ]);
    expect(list.map((c) => c.extract)).toEqual([false, true, false]);
  });

  test.each([
    { name: "missing hash", input: [{ ...ok, hash: undefined }], wantCode: "COMPONENT_HASH_MISSING" },
    { name: "empty hash", input: [{ ...ok, hash: "" }], wantCode: "COMPONENT_HASH_MISSING" },
    { name: "null hash", input: [{ ...ok, hash: null }], wantCode: "COMPONENT_HASH_MISSING" },
    {
      name: "hash key absent",
      input: [{ url: ok.url, installPath: ok.installPath }],
      wantCode: "COMPONENT_HASH_MISSING",
    },
    {
      name: "unpinned second component",
      input: [ok, { ...ok, installPath: "/x", hash: "" }],
      wantCode: "COMPONENT_HASH_MISSING",
    },
    {
      name: "sha1 pin",
      input: [{ ...ok, hash: `sha1:${"a".repeat(40)}` }],
      wantCode: "COMPONENT_LIST_INVALID",
    },
    { name: "bare hex pin", input: [{ ...ok, hash: "a".repeat(64) }], wantCode: "COMPONENT_LIST_INVALID" },
    {
      name: "upper-case hex",
      input: [{ ...ok, hash: `sha256:${"A".repeat(64)}` }],
      wantCode: "COMPONENT_LIST_INVALID",
    },
    {
      name: "short hex",
      input: [{ ...ok, hash: `sha256:${"a".repeat(63)}` }],
      wantCode: "COMPONENT_LIST_INVALID",
    },
    { name: "file: URL", input: [{ ...ok, url: "file:///etc/shadow" }], wantCode: "COMPONENT_LIST_INVALID" },
    {
      name: "URL with credentials",
      input: [{ ...ok, url: "https://u:p@dl.k8s.io/x" }],
      wantCode: "COMPONENT_LIST_INVALID",
    },
    {
      name: "relative install path",
      input: [{ ...ok, installPath: "usr/bin/x" }],
      wantCode: "COMPONENT_LIST_INVALID",
    },
    {
      name: "install path with ..",
      input: [{ ...ok, installPath: "/usr/../etc/passwd" }],
      wantCode: "COMPONENT_LIST_INVALID",
    },
    { name: "install path /", input: [{ ...ok, installPath: "/" }], wantCode: "COMPONENT_LIST_INVALID" },
    { name: "duplicate install path", input: [ok, ok], wantCode: "COMPONENT_LIST_INVALID" },
    { name: "unknown field", input: [{ ...ok, mode: 4095 }], wantCode: "COMPONENT_LIST_INVALID" },
    {
      name: "Constellation's snake_case key",
      input: [{ url: ok.url, hash: H, install_path: "/x" }],
      wantCode: "COMPONENT_LIST_INVALID",
    },
    { name: "not an array", input: { ok }, wantCode: "COMPONENT_LIST_INVALID" },
    {
      name: "too many",
      input: Array.from({ length: 65 }, (_, i) => ({ ...ok, installPath: `/x/${i}` })),
      wantCode: "COMPONENT_LIST_INVALID",
    },
    { name: "a string element", input: ["kubeadm"], wantCode: "COMPONENT_LIST_INVALID" },
  ])("refuses $name → $wantCode", ({ input, wantCode }) => {
    expect(codeOf(input)).toBe(wantCode);
  });
});

describe("componentsHash", () => {
  test("SHA-256 over the concatenated pins (Constellation's ConfigMap naming)", async () => {
    const list: Component[] = parseComponentList([ok, { ...ok, installPath: "/y" }]);
    const expected = new Bun.CryptoHasher("sha256").update(H + H).digest("hex");
    expect(await componentsHash(list)).toBe(`sha256:${expected}`);
  });
});
