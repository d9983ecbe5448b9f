import { describe, expect, test } from "bun:test";
import { defineCommand, defineGroup, ExitCode } from "./command.ts";
import { rootCommand } from "./commands/index.ts";
import { memoryIo } from "./io.ts";
import { runCli } from "./runner.ts";

const echo = defineCommand({
  name: "echo",
  summary: "Echo a value",
  options: [{ name: "value", type: "string", value: "TEXT", description: "What to echo", required: true }],
  examples: ["demo echo --value hi"],
  async run({ io, values, json }) {
    io.stdout(json ? `${JSON.stringify({ value: values["value"] })}\n` : `${String(values["value"])}\n`);
    return ExitCode.OK;
  },
});
const demo = defineGroup("demo", "A demo tree", [defineGroup("sub", "A sub group", [echo])]);

async function run(argv: string[]) {
  const io = memoryIo();
  const code = await runCli(demo, argv, io);
  return { code, out: io.out.join(""), err: io.err.join("") };
}

describe("runCli", () => {
  test("dispatches nested commands and parses options", async () => {
    expect(await run(["sub", "echo", "--value", "hi"])).toEqual({ code: 0, out: "hi\n", err: "" });
  });

  test("--output json and --json", async () => {
    expect((await run(["sub", "echo", "--value", "x", "--output", "json"])).out).toBe('{"value":"x"}\n');
    expect((await run(["sub", "echo", "--value", "x", "--json"])).out).toBe('{"value":"x"}\n');
  });

  test("--help on every level", async () => {
    expect((await run(["--help"])).out).toContain("sub");
    expect((await run(["sub", "--help"])).out).toContain("echo");
    const leaf = await run(["sub", "echo", "--help"]);
    expect(leaf.code).toBe(0);
    expect(leaf.out).toContain("--value TEXT");
    expect(leaf.out).toContain("Examples:");
  });

  test.each([
    ["unknown command", ["nope"]],
    ["unknown option", ["sub", "echo", "--value", "x", "--nope"]],
    ["missing required option", ["sub", "echo"]],
    ["bad output format", ["sub", "echo", "--value", "x", "--output", "xml"]],
  ])("%s is a usage error (exit 2)", async (_name, argv) => {
    const r = await run(argv);
    expect(r.code).toBe(ExitCode.USAGE);
    expect(r.err).toStartWith("error: ");
  });

  test("usage errors are JSON under --json", async () => {
    const r = await run(["nope", "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, code: "UNKNOWN_COMMAND" });
  });

  test("a crashing command exits 3 without a stack trace", async () => {
    const boom = defineGroup("x", "x", [
      defineCommand({
        name: "boom",
        summary: "fails",
        options: [],
        examples: [],
        async run() {
          throw new Error("kaput");
        },
      }),
    ]);
    const io = memoryIo();
    expect(await runCli(boom, ["boom"], io)).toBe(ExitCode.FAILED);
    expect(io.err.join("")).toBe("error: Error: kaput\n");
  });
});

describe("asterism command tree", () => {
  function* leaves(node: typeof rootCommand, path: string[]): Generator<string[]> {
    for (const c of node.children) {
      if (c.kind === "group") yield* leaves(c, [...path, c.name]);
      else yield [...path, c.name];
    }
  }

  test("every command answers --help with examples", async () => {
    for (const path of leaves(rootCommand, [])) {
      const io = memoryIo();
      expect(await runCli(rootCommand, [...path, "--help"], io)).toBe(0);
      expect(io.out.join("")).toContain("Examples:");
    }
  });

  test("version prints the version", async () => {
    const io = memoryIo();
    expect(await runCli(rootCommand, ["version", "--json"], io)).toBe(0);
    expect(JSON.parse(io.out.join(""))).toMatchObject({ version: expect.any(String) });
  });
});
