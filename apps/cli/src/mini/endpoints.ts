/**
 * How the launcher learns where a service listens: every service binds port 0 (a free port) and announces
 * its URLs in `ASTERISM_ENDPOINTS_FILE` (docs/lifecycle.md §5, rewritten atomically) or, for the KMS, in
 * its `kms.listening` log line.
 */
import { readFileSync } from "node:fs";
import { MiniError } from "./errors.ts";
import { waitFor } from "./ports.ts";
import { type DaemonRecord, isRunning, logTail } from "./processes.ts";

/** The announced endpoints (`{"init": "https://127.0.0.1:41234", "http": "http://…"}`), or {} while absent. */
export function readEndpointsFile(path: string): Record<string, string> {
  try {
    const v = JSON.parse(readFileSync(path, "utf8")) as unknown;
    if (v === null || typeof v !== "object" || Array.isArray(v)) return {};
    return Object.fromEntries(
      Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string"),
    );
  } catch {
    return {};
  }
}

/** Wait until `key` is announced in `file` by the process `r`; TIMEOUT / START_FAILED name its log. */
export async function waitForEndpoint(
  r: DaemonRecord,
  file: string,
  key: string,
  timeoutMs: number,
): Promise<string> {
  const url = await waitFor(() => readEndpointsFile(file)[key], { timeoutMs, alive: () => isRunning(r) });
  if (url !== undefined) return url;
  throw new MiniError(
    isRunning(r) ? "TIMEOUT" : "START_FAILED",
    `${r.name} did not announce its ${key} endpoint`,
    {
      expected: `an endpoint within ${timeoutMs / 1000} s`,
      actual: `${isRunning(r) ? "still starting" : "exited"}; see ${r.log}: ${logTail(r.log, 3)}`,
    },
  );
}

/** Wait for a JSON log line with `msg` in the process's log and return it. */
export async function waitForLogLine(
  r: DaemonRecord,
  msg: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const line = await waitFor(
    () => {
      if (!r.log) return undefined;
      let text: string;
      try {
        text = readFileSync(r.log, "utf8");
      } catch {
        return undefined;
      }
      for (const l of text.split("\n")) {
        if (!l.includes(msg)) continue;
        try {
          const o = JSON.parse(l) as Record<string, unknown>;
          if (o["msg"] === msg) return o;
        } catch {
          /* not a JSON line */
        }
      }
      return undefined;
    },
    { timeoutMs, alive: () => isRunning(r) },
  );
  if (line) return line;
  throw new MiniError(isRunning(r) ? "TIMEOUT" : "START_FAILED", `${r.name} did not log ${msg}`, {
    actual: `see ${r.log}: ${logTail(r.log, 3)}`,
  });
}
