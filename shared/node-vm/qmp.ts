import { connect } from "node:net";
import { NodeVmError } from "./errors.ts";

/**
 * Send one QMP command over QEMU's unix socket (QMP spec: greeting, `qmp_capabilities`, command) and
 * resolve with its `return` value. Bounded by `timeoutMs`.
 */
export async function qmpCommand(socketPath: string, command: string, timeoutMs = 3000): Promise<unknown> {
  return await new Promise((ok, fail) => {
    const sock = connect(socketPath);
    let buf = "";
    let stage = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      fail(
        new NodeVmError("QMP_FAILED", `Cannot run QMP ${command}`, {
          expected: "a reply",
          actual: "timeout",
        }),
      );
    }, timeoutMs);
    const done = (err: Error | undefined, value?: unknown) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) fail(err);
      else ok(value);
    };
    sock.on("error", (e) => done(new NodeVmError("QMP_FAILED", `Cannot run QMP ${command}`, { cause: e })));
    sock.on("close", () => {
      if (stage === 2) done(undefined, undefined);
    });
    sock.on("data", (chunk) => {
      buf += chunk.toString();
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === "") continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch (e) {
          done(new NodeVmError("QMP_FAILED", `Cannot parse QMP reply`, { cause: e }));
          return;
        }
        if ("event" in msg) continue;
        if ("error" in msg) {
          done(
            new NodeVmError("QMP_FAILED", `Cannot run QMP ${command}`, { actual: JSON.stringify(msg.error) }),
          );
          return;
        }
        if (stage === 0 && "QMP" in msg) {
          stage = 1;
          sock.write(`${JSON.stringify({ execute: "qmp_capabilities" })}\n`);
        } else if (stage === 1 && "return" in msg) {
          stage = 2;
          sock.write(`${JSON.stringify({ execute: command })}\n`);
        } else if (stage === 2 && "return" in msg) {
          done(undefined, msg.return);
          return;
        }
      }
    });
  });
}
