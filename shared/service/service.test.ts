import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEndpointsFile,
  createJsonLogger,
  createMemoryLogger,
  handleServiceFlags,
  listenerUrl,
  MetricsRegistry,
  parseListenAddress,
} from "./index.ts";

describe("logger", () => {
  test("writes JSON lines with time, level, message and fields", () => {
    const lines: string[] = [];
    const log = createJsonLogger({
      write: (l) => void lines.push(l),
      now: () => new Date("2026-01-01T00:00:00Z"),
    });
    log.log("info", "key released", { id: "disk-1", caller: "join-service" });
    expect(JSON.parse(lines[0] as string)).toEqual({
      time: "2026-01-01T00:00:00.000Z",
      level: "info",
      msg: "key released",
      id: "disk-1",
      caller: "join-service",
    });
  });

  test("redacts fields that look like secrets and filters by level", () => {
    const log = createMemoryLogger();
    log
      .child({ component: "kms" })
      .log("warn", "x", { masterSecret: "s3cr3t", key: "k", bootstrapToken: "t", passphrase: "p", id: "ok" });
    const line = JSON.stringify(log.lines);
    for (const leaked of ["s3cr3t", '"k"', '"t"', '"p"']) expect(line).not.toContain(leaked);
    expect(log.lines[0]).toMatchObject({ component: "kms", id: "ok", masterSecret: "[redacted]" });
    const quiet: string[] = [];
    createJsonLogger({ write: (l) => void quiet.push(l), level: "error" }).log("info", "dropped");
    expect(quiet).toEqual([]);
  });
});

describe("metrics", () => {
  test("renders counters and histograms in Prometheus text format", () => {
    const m = new MetricsRegistry();
    const c = m.counter("asterism_requests_total", "Requests served");
    c.inc({ route: "/a" });
    c.inc({ route: "/a" }, 2);
    c.inc({ route: 'q"uote' });
    const h = m.histogram("asterism_latency_seconds", "Latency", [0.1, 1]);
    h.observe(0.05);
    h.observe(0.5);
    const text = m.render();
    expect(text).toContain("# TYPE asterism_requests_total counter");
    expect(text).toContain('asterism_requests_total{route="/a"} 3');
    expect(text).toContain('asterism_requests_total{route="q\\"uote"} 1');
    expect(text).toContain('asterism_latency_seconds_bucket{le="0.1"} 1');
    expect(text).toContain('asterism_latency_seconds_bucket{le="1"} 2');
    expect(text).toContain('asterism_latency_seconds_bucket{le="+Inf"} 2');
    expect(text).toContain("asterism_latency_seconds_count 2");
  });
});

describe("service flags", () => {
  const info = { name: "demo", summary: "Demo service.", env: { DEMO_PORT: "Port to listen on" } };
  test("--version, --help, unknown and none", () => {
    const out: string[] = [];
    expect(handleServiceFlags(info, ["--version"], (s) => void out.push(s))).toBe(0);
    expect(out.join("")).toStartWith("demo ");
    expect(handleServiceFlags(info, ["--help"], (s) => void out.push(s))).toBe(0);
    expect(out.join("")).toContain("DEMO_PORT");
    expect(handleServiceFlags(info, [])).toBeUndefined();
  });
});

describe("listen addresses and the endpoints file", () => {
  test.each([
    { s: "127.0.0.1:9000", want: { host: "127.0.0.1", port: 9000 } },
    { s: "[::1]:0", want: { host: "::1", port: 0 } },
    { s: "localhost:8080", want: { host: "localhost", port: 8080 } },
    { s: "127.0.0.1", want: undefined },
    { s: "127.0.0.1:70000", want: undefined },
    { s: "300.0.0.1:1", want: undefined },
    { s: "example.com:80", want: undefined },
  ])("parseListenAddress($s)", ({ s, want }) => {
    expect(parseListenAddress(s)).toEqual(want);
  });

  test("the endpoints file is rewritten whole on each change", async () => {
    const dir = mkdtempSync(join(tmpdir(), "asterism-endpoints-"));
    try {
      const path = join(dir, "endpoints.json");
      const f = createEndpointsFile(path);
      await f.set("init", listenerUrl("https", "127.0.0.1", 1234));
      await f.set("http", listenerUrl("http", "::1", 80));
      expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
        init: "https://127.0.0.1:1234",
        http: "http://[::1]:80",
      });
      await f.remove("init");
      expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ http: "http://[::1]:80" });
      await createEndpointsFile(undefined).set("x", "y");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
