import { toHex } from "@asterism/bytes";
import { EventLogError, hashInfo, parseCcel, parseEventLog, replayCcel, replayEventLog } from "@asterism/tpm";
import { defineCommand } from "../../command.ts";
import { readInputFile, stringOption } from "../../input.ts";
import { printVerdict } from "../../verdict.ts";

/** `asterism attestation replay-eventlog`: replay a TCG event log (or a TDX CCEL) to PCR/RTMR values. */
export const replayEventLogCommand = defineCommand({
  name: "replay-eventlog",
  summary: "Replay a TCG PC Client event log (crypto-agile or SHA-1) or a TDX CCEL to register values",
  description:
    'Prints the replayed PCRs per bank as { "sha1": { "0": hex, … }, "sha256": { … } }. With --ccel the log ' +
    'is a TDX CC event log and the output is { "rtmr": { "0": hex, … } } (MR index 1..4 → RTMR0..3). ' +
    "A log that does not parse exits 1.",
  options: [
    {
      name: "log",
      type: "string",
      value: "FILE",
      required: true,
      description: "Event log (binary_bios_measurements)",
    },
    { name: "ccel", type: "boolean", description: "The log is a TDX CCEL region (SHA-384, RTMRs)" },
    { name: "allow-padding", type: "boolean", description: "Accept 0x00/0xFF padding after the last event" },
  ],
  examples: [
    "asterism attestation replay-eventlog --log /sys/kernel/security/tpm0/binary_bios_measurements --json",
    "asterism attestation replay-eventlog --log ccel_data.dat --ccel --allow-padding",
  ],
  async run(ctx) {
    const bytes = readInputFile(stringOption(ctx.values["log"], "log") as string, "event log");
    const allowPadding = ctx.values["allow-padding"] === true;
    try {
      if (ctx.values["ccel"] === true) {
        const log = parseCcel(bytes, { allowPadding });
        const r = replayCcel(log);
        const rtmr = Object.fromEntries(r.rtmrs.map((v, i) => [String(i), toHex(v)]));
        if (ctx.json) {
          ctx.io.stdout(`${JSON.stringify({ rtmr })}\n`);
          return 0;
        }
        return printVerdict(ctx, {
          valid: true,
          result: { events: log.events.length, rtmr },
          summary: `${log.events.length} events\n${Object.entries(rtmr)
            .map(([i, v]) => `RTMR${i}: ${v}`)
            .join("\n")}`,
        });
      }
      const log = parseEventLog(bytes, { allowPadding });
      const replay = replayEventLog(log);
      const banks: Record<string, Record<string, string>> = {};
      for (const [alg, pcrs] of replay)
        banks[hashInfo(alg)?.name ?? `0x${alg.toString(16)}`] = Object.fromEntries(
          [...pcrs].map(([i, p]) => [String(i), toHex(p.value)]),
        );
      if (ctx.json) {
        ctx.io.stdout(`${JSON.stringify(banks)}\n`);
        return 0;
      }
      const lines = Object.entries(banks).flatMap(([bank, pcrs]) =>
        Object.entries(pcrs).map(([i, v]) => `${bank} PCR ${i.padStart(2)}: ${v}`),
      );
      return printVerdict(ctx, {
        valid: true,
        result: banks,
        summary: `${log.format} log, ${log.events.length} events\n${lines.join("\n")}`,
      });
    } catch (err) {
      if (err instanceof EventLogError) return printVerdict(ctx, { valid: false, error: err });
      throw err;
    }
  },
});
