/**
 * A readable account of what a change does relative to what is in force, for the people about to sign
 * it (console, CLI). Each line says whether it widens trust (admits more: a measurement dropped or made
 * warn-only, a variant added, a minimum lowered, a threshold lowered, a recovery), narrows it, or is
 * neutral. Computed from the same change bytes whose digest the passkey signs.
 */
import type { ApprovedState } from "./approved-state.ts";
import type { Change, Owner, PolicyJson } from "./change.ts";

/** How a line affects who or what the cluster trusts. */
export type TrustEffect = "widens" | "narrows" | "neutral";

/** One line of a change description. */
export interface DiffItem {
  readonly what: string;
  readonly before?: string;
  readonly after?: string;
  readonly effect: TrustEffect;
}

/** What a change does. */
export interface ChangeDescription {
  readonly title: string;
  readonly items: readonly DiffItem[];
  /** True when any line widens trust: approvers should look twice. */
  readonly widensTrust: boolean;
}

const TITLES: Record<Change["kind"], string> = {
  genesis: "Enroll the first owners",
  "owner-change": "Change the owners",
  "attestation-policy": "Change the attestation policy",
  "kms-key-rotation": "Rotate a KMS key",
  "node-revocation": "Revoke nodes",
  recovery: "Allow a node recovery",
};

function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, JSON.stringify(value));
}

/** Lowering a number or allowing something is a widening; SNP policy fields read "min…" / "allow…". */
function snpEffect(path: string, before: string | undefined, after: string | undefined): TrustEffect {
  if (before === undefined) return "narrows"; // a new constraint
  if (after === undefined) return "widens"; // a constraint dropped
  const leaf = path.split(".").pop() ?? "";
  if (/^allow/i.test(leaf)) return after === "true" ? "widens" : "narrows";
  const [b, a] = [Number(before), Number(after)];
  if (Number.isFinite(a) && Number.isFinite(b)) return a < b ? "widens" : "narrows";
  return "widens"; // a different expected value (measurement, key digest): treat as admitting something new
}

function policyItems(before: PolicyJson | undefined, after: PolicyJson): DiffItem[] {
  // Without an approved policy no node may join (services fail closed): a first policy admits nodes.
  const items: DiffItem[] = before
    ? []
    : [
        {
          what: "attestation policy",
          before: "none: no node can join",
          after: "nodes matching the lines below",
          effect: "widens",
        },
      ];
  const bm = (before?.measurements ?? {}) as Record<string, { expected: string; warnOnly: boolean }>;
  const am = after.measurements as Record<string, { expected: string; warnOnly: boolean }>;
  const indices = [...new Set([...Object.keys(bm), ...Object.keys(am)])].sort(
    (x, y) => Number(x) - Number(y),
  );
  const show = (m: { expected: string; warnOnly: boolean } | undefined) =>
    m === undefined ? undefined : `${m.expected}${m.warnOnly ? " (warn only)" : ""}`;
  for (const i of indices) {
    const b = bm[i];
    const a = am[i];
    if (b && a && b.expected === a.expected && b.warnOnly === a.warnOnly) continue;
    let effect: TrustEffect;
    if (!a) effect = b?.warnOnly ? "neutral" : "widens";
    else if (!b) effect = a.warnOnly ? "neutral" : "narrows";
    else if (b.expected !== a.expected) effect = a.warnOnly && b.warnOnly ? "neutral" : "widens";
    else effect = a.warnOnly ? "widens" : "narrows";
    items.push({ what: `measurement ${i}`, before: show(b), after: show(a), effect });
  }
  const bv = before?.variants;
  const av = after.variants;
  if (JSON.stringify(bv) !== JSON.stringify(av)) {
    const admitsMore = av === undefined || (bv !== undefined && av.some((x) => !bv.includes(x)));
    items.push({
      what: "accepted variants",
      before: bv ? bv.join(", ") : before ? "any" : undefined,
      after: av ? av.join(", ") : "any",
      effect: admitsMore ? "widens" : "narrows",
    });
  }
  const bs = new Map<string, string>();
  const as = new Map<string, string>();
  if (before?.snp) flatten(before.snp, "", bs);
  if (after.snp) flatten(after.snp, "", as);
  for (const k of [...new Set([...bs.keys(), ...as.keys()])].sort()) {
    if (bs.get(k) === as.get(k)) continue;
    items.push({
      what: `SNP ${k}`,
      before: bs.get(k),
      after: as.get(k),
      effect: snpEffect(k, bs.get(k), as.get(k)),
    });
  }
  return items;
}

function ownerItems(
  before: readonly Owner[],
  bt: number | undefined,
  after: readonly Owner[],
  at: number,
): DiffItem[] {
  const items: DiffItem[] = [];
  const describe = (o: Owner) =>
    `${o.credentials.length} passkey(s): ${o.credentials.map((c) => c.label ?? c.id.slice(0, 10)).join(", ")}`;
  for (const o of after) {
    const prev = before.find((p) => p.name === o.name);
    if (!prev) items.push({ what: `owner ${o.name}`, after: describe(o), effect: "widens" });
    else {
      const added = o.credentials.filter((c) => !prev.credentials.some((p) => p.id === c.id));
      const removed = prev.credentials.filter((c) => !o.credentials.some((p) => p.id === c.id));
      if (added.length || removed.length)
        items.push({
          what: `owner ${o.name}`,
          before: describe(prev),
          after: describe(o),
          effect: added.length ? "widens" : "narrows",
        });
    }
  }
  for (const p of before)
    if (!after.some((o) => o.name === p.name))
      items.push({ what: `owner ${p.name}`, before: describe(p), effect: "narrows" });
  if (bt !== at)
    items.push({
      what: "approvals required",
      ...(bt === undefined ? {} : { before: String(bt) }),
      after: `${at} of ${after.length}`,
      effect: bt !== undefined && at < bt ? "widens" : "narrows",
    });
  return items;
}

/**
 * Describe `change` against the state in force (`undefined` before genesis).
 *
 * @example
 * const d = describeChange(state, change);
 * for (const i of d.items) console.log(i.effect, i.what, i.before, "→", i.after);
 */
export function describeChange(state: ApprovedState | undefined, change: Change): ChangeDescription {
  let items: DiffItem[];
  switch (change.kind) {
    case "genesis":
      items = [
        ...ownerItems([], undefined, change.payload.owners, change.payload.threshold),
        {
          what: "relying party",
          after: `${change.payload.rp.id} (${change.payload.rp.origins.join(", ")})`,
          effect: "neutral",
        },
      ];
      break;
    case "owner-change":
      items = ownerItems(
        state?.owners ?? [],
        state?.threshold,
        change.payload.owners,
        change.payload.threshold,
      );
      break;
    case "attestation-policy":
      items = policyItems(state?.policy?.json, change.payload.policy);
      if (items.length === 0) items = [{ what: "policy", after: "unchanged", effect: "neutral" }];
      break;
    case "kms-key-rotation":
      items = [
        { what: `key ${change.payload.key}`, after: `rotate (${change.payload.reason})`, effect: "neutral" },
      ];
      break;
    case "node-revocation":
      items = change.payload.nodes.map((n) => ({
        what: `node ${n}`,
        after: `revoked (${change.payload.reason})`,
        effect: "narrows",
      }));
      break;
    case "recovery":
      items = [
        {
          what: `node ${change.payload.node}`,
          after: `may recover disk ${change.payload.disk} once, for nonce ${change.payload.nonce.slice(0, 16)}… (${change.payload.reason})`,
          effect: "widens",
        },
      ];
      break;
  }
  return { title: TITLES[change.kind], items, widensTrust: items.some((i) => i.effect === "widens") };
}
