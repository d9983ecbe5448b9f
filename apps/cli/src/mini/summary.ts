import { relative } from "node:path";
import { IMAGE_PCR_MEANINGS, PCR_MEANINGS } from "../boot/events.ts";
import type { CliIo } from "../command.ts";
import { createStyle } from "../ui/style.ts";
import type { MiniUpResult } from "./session.ts";

/** The readable summary `mini up` ends with. */
export function renderUpSummary(io: CliIo, r: MiniUpResult): string {
  const s = createStyle(io);
  const rel = (p: string) => {
    const r = relative(io.cwd, p);
    return r === "" ? "." : r.startsWith("..") ? p : r;
  };
  const w = Math.max(...r.nodes.map((n) => n.name.length));
  const meanings = r.kind === "vm" ? IMAGE_PCR_MEANINGS : PCR_MEANINGS;
  const lines = [
    "",
    `${s.bold(`Local confidential cluster "${r.name}" is up`)} (${(r.durationMs / 1000).toFixed(1)} s).`,
    "",
    `  cluster ID   ${r.clusterId}`,
    ...(r.owner
      ? [
          `  owners       ${r.owner.owners.join(", ")} (${r.owner.threshold} must approve each change)`,
          `  owner anchor ${r.owner.anchor}  ${s.yellow("(pin it: audit verify, console and services check the log from it)")}`,
          `               initial attestation policy approved in audit entry ${r.owner.policyApprovedIn}`,
        ]
      : []),
    "",
    "  nodes",
    ...r.nodes.map(
      (n) =>
        `    ${n.name.padEnd(w)}  ${n.role.padEnd(13)}  ${n.ips.join(",")}  verify ${n.verifyUrl}  ${n.verified ? s.green("✓ verified") : s.red("✗ not verified")}`,
    ),
    "",
    "  measurements (enforced on init, every join and every verify)",
    ...Object.entries(r.measurements).map(
      ([i, v]) => `    PCR ${i.padStart(2)}  ${v}  ${s.dim(meanings[Number(i)] ?? "")}`,
    ),
    "",
    "  files",
    `    config             ${rel(r.files["config"] ?? "")}`,
    `    state              ${rel(r.files["state"] ?? "")}`,
    `    master secret      ${rel(r.files["masterSecret"] ?? "")}  ${s.yellow("(0600; the only key to the disks: keep it safe)")}`,
    `    admin kubeconfig   ${rel(r.files["adminKubeconfig"] ?? "")}`,
    ...(r.files["image"] ? [`    node image         ${rel(r.files["image"])}`] : []),
    ...(r.files["ownerLog"] ? [`    owners' audit log  ${rel(r.files["ownerLog"])}`] : []),
    r.kind === "vm"
      ? `    VMs, serial logs   ${rel(r.files["nodes"] ?? "")}/<control-plane-i|worker-i>/serial.log`
      : `    node files, logs   ${rel(r.files["nodes"] ?? "")}/<node>/`,
    "",
    r.kubernetes.performed
      ? "  Kubernetes: installed."
      : `  Kubernetes: not installed${r.kubernetes.note ? ` (${r.kubernetes.note})` : ""}. This local cluster has no kubelets.`,
    "",
    `Next: ${s.cyan("asterism verify")}  ·  ${s.cyan("asterism mini status")}  ·  ${s.cyan("asterism mini down")}${
      r.owner ? `  ·  ${s.cyan("asterism console")}  ·  ${s.cyan("asterism audit verify")}` : ""
    }`,
    "",
  ];
  return lines.join("\n");
}
