/**
 * Server-rendered pages of the console (hono/html escapes every interpolated value). Pages work without
 * script except for the passkey buttons; every control has a label, tables have captions and header
 * cells, status is announced through a live region, and meaning never rests on colour alone.
 */
import { toHex } from "@asterism/bytes";
import {
  type ApprovalProgress,
  type AuditEntry,
  type ChangeDescription,
  changeDigest,
  type Owner,
  type PendingChange,
  type TrustEffect,
} from "@asterism/owner";
import { html } from "hono/html";
import type { ApprovalsView, NodeView } from "./source.ts";

type Html = ReturnType<typeof html>;

export type Tab = "overview" | "changes" | "audit" | "enroll" | "login";

/** The page frame: skip link, header with navigation, main landmark, status live region. */
export function layout(opts: { title: string; tab: Tab; body: Html; nav: boolean; pending?: number }): Html {
  const link = (tab: Tab, href: string, text: string) =>
    html`<li><a href="${href}" ${opts.tab === tab ? html`aria-current="page"` : ""}>${text}</a></li>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · Asterism console</title>
<link rel="stylesheet" href="/style.css">
<script type="module" src="/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <span class="brand">Asterism</span>
  ${
    opts.nav
      ? html`<nav aria-label="Console">
    <ul>
      ${link("overview", "/", "Overview")}
      ${link("changes", "/changes", `Pending changes${opts.pending ? ` (${opts.pending})` : ""}`)}
      ${link("audit", "/audit", "Audit log")}
    </ul>
  </nav>
  <button type="button" class="secondary" data-action="logout">Sign out</button>`
      : ""
  }
</header>
<main id="main" tabindex="-1">
<h1>${opts.title}</h1>
<div id="status" class="status" role="status" aria-live="polite"></div>
${opts.body}
</main>
</body>
</html>`;
}

const short = (h: string) => `${h.slice(0, 16)}…`;

function verdictBadge(status: string | undefined): Html {
  switch (status) {
    case "affirming":
      return html`<span class="badge badge-ok">✓ trusted</span>`;
    case "warning":
      return html`<span class="badge badge-warn">⚠ trusted with warnings</span>`;
    case "contraindicated":
      return html`<span class="badge badge-bad">✗ rejected</span>`;
    default:
      return html`<span class="badge badge-neutral">no verdict</span>`;
  }
}

function effectBadge(effect: TrustEffect): Html {
  if (effect === "widens") return html`<span class="badge badge-warn">⚠ widens trust</span>`;
  if (effect === "narrows") return html`<span class="badge badge-ok">narrows trust</span>`;
  return html`<span class="badge badge-neutral">neutral</span>`;
}

/** Banners for what the console refuses: a log that does not verify, a policy edited without approval. */
export function refusalBanners(a: ApprovalsView): Html {
  const code = a.error && "code" in a.error ? String((a.error as { code: unknown }).code) : undefined;
  return html`${
    a.error
      ? html`<div class="banner banner-bad" role="alert"><strong>Audit log refused${code ? ` (${code})` : ""}.</strong>
      ${a.error.message}. Nothing in it is shown as approved.</div>`
      : ""
  }${
    a.policyObjectTampered
      ? html`<div class="banner banner-bad" role="alert"><strong>Policy edited without approval (POLICY_NOT_APPROVED).</strong>
      The attestation policy object in cluster state differs from the last approved policy. Services refuse it and
      keep enforcing the approved policy shown below.</div>`
      : ""
  }`;
}

function ownersTable(owners: readonly Owner[], threshold: number): Html {
  return html`<table>
  <caption>Owners: ${threshold} of ${owners.length} must approve each change</caption>
  <thead><tr><th scope="col">Owner</th><th scope="col">Passkeys</th></tr></thead>
  <tbody>${owners.map(
    (o) =>
      html`<tr><th scope="row">${o.name}</th><td>${o.credentials.map((c) => c.label ?? short(c.id)).join(", ")}</td></tr>`,
  )}</tbody></table>`;
}

/** The overview: cluster identity, owners, nodes and their verdicts, and the approved policy. */
export function overviewPage(a: ApprovalsView, nodes: readonly NodeView[]): Html {
  const s = a.log?.state;
  if (!s && !a.error)
    return html`<p>No owners are enrolled for this cluster yet. Run <code>asterism owner enroll</code> to enroll the
    first owners; until then no attestation policy can take effect.</p>`;
  const policy = s?.policy;
  return html`${refusalBanners(a)}
<h2>Cluster</h2>
<dl class="facts">
  <dt>Cluster ID</dt><dd><code>${s?.clusterId ?? "unknown"}</code></dd>
  <dt>Genesis (anchor)</dt><dd><code>${s?.genesisHash ?? "–"}</code>
    ${
      a.anchor
        ? html`<span class="badge badge-ok">✓ pinned</span>`
        : html`<span class="badge badge-warn">⚠ not pinned: compare with the hash printed at enrollment</span>`
    }</dd>
  <dt>Audit log head</dt><dd>entry ${s?.head.sequence ?? "–"} · <code>${s ? short(s.head.hash) : "–"}</code></dd>
</dl>
${s ? ownersTable(s.owners, s.threshold) : ""}
<h2>Nodes</h2>
${
  nodes.length === 0
    ? html`<p class="muted">No nodes have joined yet.</p>`
    : html`<table>
  <caption>${nodes.length} node(s); verdict of each node's last attestation</caption>
  <thead><tr><th scope="col">Node</th><th scope="col">Role</th><th scope="col">Variant</th><th scope="col">Last attestation</th><th scope="col">Verdict</th></tr></thead>
  <tbody>${nodes.map(
    (
      n,
    ) => html`<tr><th scope="row">${n.name}${s?.revokedNodes.has(n.name) ? html` <span class="badge badge-bad">revoked</span>` : ""}</th>
    <td>${n.role}</td><td>${n.variant ?? "–"}</td><td>${n.lastAttestation?.at ?? "–"}</td>
    <td>${verdictBadge(n.lastAttestation?.status)}${
      n.lastAttestation?.warnings?.length
        ? html`<div class="hint">${n.lastAttestation.warnings.join("; ")}</div>`
        : ""
    }</td></tr>`,
  )}</tbody></table>`
}
<h2>Attestation policy</h2>
${
  !policy
    ? html`<div class="banner banner-warn"><strong>No approved attestation policy.</strong> Nodes cannot join until the owners approve one.</div>`
    : html`<p>Approved in audit entry ${policy.sequence}. Accepted variants: <strong>${policy.json.variants?.join(", ") ?? "any"}</strong>.</p>
<table>
  <caption>Expected measurements (${Object.keys(policy.json.measurements).length})</caption>
  <thead><tr><th scope="col">Index</th><th scope="col">Expected value</th><th scope="col">Enforcement</th></tr></thead>
  <tbody>${Object.entries(policy.json.measurements as Record<string, { expected: string; warnOnly: boolean }>)
    .sort(([x], [y]) => Number(x) - Number(y))
    .map(
      ([i, m]) =>
        html`<tr><th scope="row">${i}</th><td><code>${m.expected}</code></td><td>${
          m.warnOnly
            ? html`<span class="badge badge-warn">⚠ warn only</span>`
            : html`<span class="badge badge-ok">enforced</span>`
        }</td></tr>`,
    )}</tbody></table>
${
  policy.json.snp
    ? html`<table><caption>SEV-SNP requirements (TCB minimums, guest policy)</caption>
  <thead><tr><th scope="col">Setting</th><th scope="col">Value</th></tr></thead>
  <tbody>${Object.entries(policy.json.snp).map(
    ([k, v]) => html`<tr><th scope="row">${k}</th><td><code>${JSON.stringify(v)}</code></td></tr>`,
  )}</tbody></table>`
    : ""
}`
}
${
  s && (s.keyRotations.length > 0 || s.recoveries.length > 0)
    ? html`<h2>Approved operations</h2><ul>${[
        ...s.keyRotations.map(
          (e) =>
            html`<li>Entry ${e.sequence}: rotate KMS key <code>${e.payload.key}</code> (${e.payload.reason})</li>`,
        ),
        ...s.recoveries.map(
          (e) =>
            html`<li>Entry ${e.sequence}: recovery of node ${e.payload.node} allowed (${e.payload.reason})</li>`,
        ),
      ]}</ul>`
    : ""
}
${
  s && s.revokedNodes.size > 0
    ? html`<h2>Revoked nodes</h2><ul>${[...s.revokedNodes].map(
        ([n, e]) => html`<li>${n}: ${e.payload.reason} (entry ${e.sequence})</li>`,
      )}</ul>`
    : ""
}`;
}

/** One pending change as the changes page shows it. */
export interface PendingView {
  readonly pending: PendingChange;
  readonly description: ChangeDescription;
  readonly progress: ApprovalProgress | undefined;
  /** Why it cannot be approved (stale, expired, invalid approvals), if so. */
  readonly blocked: string | undefined;
}

/** Pending changes with a readable diff and an approve button each. */
export function changesPage(
  a: ApprovalsView,
  views: readonly PendingView[],
  unreadable: readonly { name: string; code: string }[],
  omitted = 0,
): Html {
  return html`${refusalBanners(a)}
${omitted ? html`<div class="banner banner-warn" role="note">${omitted} more proposal(s) not shown. Someone may be flooding cluster state with proposals.</div>` : ""}
${views.length === 0 ? html`<p>No changes are waiting for approval.</p>` : ""}
${views.map((v) => {
  const c = v.pending.change;
  const id = `change-${v.pending.digest.slice(0, 12)}`;
  return html`<section class="card" aria-labelledby="${id}">
  <h2 id="${id}">${v.description.title} <span class="muted">(entry ${c.sequence})</span></h2>
  ${v.description.widensTrust ? html`<div class="banner banner-warn"><strong>⚠ This change widens trust.</strong> Check every line marked “widens trust”.</div>` : ""}
  ${c.description ? html`<p><strong>Proposer's note</strong> (not verified): ${c.description}</p>` : ""}
  <table>
    <caption>What changes</caption>
    <thead><tr><th scope="col">What</th><th scope="col">Before</th><th scope="col">After</th><th scope="col">Effect</th></tr></thead>
    <tbody>${v.description.items.map(
      (i) =>
        html`<tr><th scope="row">${i.what}</th><td><code>${i.before ?? "–"}</code></td><td><code>${i.after ?? "–"}</code></td><td>${effectBadge(i.effect)}</td></tr>`,
    )}</tbody>
  </table>
  <dl class="facts">
    <dt>Change digest (what your passkey signs)</dt><dd><code>${v.pending.digest}</code></dd>
    <dt>Valid</dt><dd>${c.createdAt} to ${c.expiresAt}</dd>
    <dt>Approvals</dt><dd>${
      v.progress
        ? html`${v.progress.approvedBy.length} of ${v.progress.required} owner(s)${v.progress.approvedBy.length ? html`: ${v.progress.approvedBy.join(", ")}` : ""}${
            v.progress.possessionMissing.length
              ? html`; ${v.progress.possessionMissing.length} new passkey(s) still to prove possession`
              : ""
          }`
        : "–"
    }</dd>
  </dl>
  ${
    v.blocked
      ? html`<p class="banner banner-bad" role="note">Cannot be approved: ${v.blocked}</p>`
      : html`<div class="actions"><button type="button" data-action="approve" data-digest="${v.pending.digest}">Approve with passkey</button></div>`
  }
</section>`;
})}
${
  unreadable.length
    ? html`<h2>Unreadable proposals</h2><p>These objects in cluster state are not valid changes and can never be approved:</p>
<ul>${unreadable.map((u) => html`<li><code>${u.name}</code> (${u.code})</li>`)}</ul>`
    : ""
}`;
}

/** Who approved each entry, by owner name (owners as they were at that entry). */
export function approversByEntry(entries: readonly AuditEntry[]): string[][] {
  let owners: readonly Owner[] = [];
  return entries.map((e) => {
    const before = owners;
    if (e.change.kind === "genesis" || e.change.kind === "owner-change") owners = e.change.payload.owners;
    const names = new Set<string>();
    for (const a of e.approvals) {
      const has = (x: Owner) => x.credentials.some((c) => c.id === a.credentialId);
      // Current owners approve; passkeys a change adds only prove possession (genesis: all of them).
      const current = e.change.kind === "genesis" ? undefined : before.find(has);
      const added = owners.find(has);
      names.add(
        current
          ? current.name
          : added
            ? `${added.name} (new passkey)`
            : `unknown ${a.credentialId.slice(0, 8)}`,
      );
    }
    return [...names];
  });
}

function summary(e: AuditEntry): string {
  const c = e.change;
  switch (c.kind) {
    case "genesis":
      return `owners ${c.payload.owners.map((o) => o.name).join(", ")}; ${c.payload.threshold} must approve`;
    case "owner-change":
      return `owners ${c.payload.owners.map((o) => o.name).join(", ")}; ${c.payload.threshold} must approve`;
    case "attestation-policy":
      return `${Object.keys(c.payload.policy.measurements).length} measurement(s); variants ${c.payload.policy.variants?.join(", ") ?? "any"}`;
    case "kms-key-rotation":
      return `key ${c.payload.key}: ${c.payload.reason}`;
    case "node-revocation":
      return `${c.payload.nodes.join(", ")}: ${c.payload.reason}`;
    case "recovery":
      return `${c.payload.node} (disk ${c.payload.disk}): ${c.payload.reason}`;
  }
}

/** The audit log, with its verification status. */
export function auditPage(a: ApprovalsView): Html {
  const approvers = approversByEntry(a.entries);
  return html`${refusalBanners(a)}
${
  a.log
    ? html`<div class="banner banner-ok" role="status"><strong>✓ Verified:</strong> ${a.log.hashes.length} entries, every approval checked,
    chained from genesis <code>${a.log.state.genesisHash}</code>${a.anchor ? " (pinned)" : " (not pinned)"}.</div>`
    : ""
}
<p>Anyone can check this log offline: download <a href="/api/audit-log">audit-log.json</a> and run
<code>asterism audit verify audit-log.json --anchor &lt;genesis hash&gt;</code>.</p>
<table>
  <caption>${a.entries.length} approved change(s), oldest first</caption>
  <thead><tr><th scope="col">#</th><th scope="col">Change</th><th scope="col">Summary</th><th scope="col">Approved by</th><th scope="col">Created</th><th scope="col">Digest</th></tr></thead>
  <tbody>${a.entries.map(
    (e, i) =>
      html`<tr><th scope="row">${e.change.sequence}</th><td>${e.change.kind}</td><td>${summary(e)}</td><td>${(approvers[i] ?? []).join(", ")}</td><td class="nowrap">${e.change.createdAt.replace("T", " ")}</td><td class="nowrap"><code>${short(toHex(changeDigest(e.change)))}</code></td></tr>`,
  )}</tbody>
</table>`;
}

/** Sign-in with a passkey. */
export function loginPage(enrolled: boolean): Html {
  return enrolled
    ? html`<p>Sign in with the passkey you enrolled as a cluster owner.</p>
<div class="actions"><button type="button" data-action="login">Sign in with passkey</button></div>`
    : html`<p>No owners are enrolled yet. Run <code>asterism owner enroll</code>, which opens the enrollment page.</p>`;
}

/** Enrollment: register passkeys for one owner, then prove possession in the change that adds them. */
export function enrollPage(opts: { genesis: boolean; clusterId: string; initialPolicy?: boolean }): Html {
  return html`<p>${
    opts.genesis
      ? html`Enroll the first owner of cluster <code>${opts.clusterId}</code>. Register at least one passkey; a second one on another device is a good backup.`
      : html`Add an owner. The change takes effect once the current owners approve it.`
  }</p>${
    opts.initialPolicy
      ? html`<p>Next, the owners approve the cluster's initial attestation policy on this same page session:
  no node can join before they do.</p>`
      : ""
  }
<form onsubmit="return false">
  <label for="owner-name">Owner name</label>
  <input type="text" id="owner-name" name="name" required maxlength="64" autocomplete="name" aria-describedby="owner-name-hint">
  <p class="hint" id="owner-name-hint">Shown to other owners in approvals and in the audit log.</p>
  <label for="passkey-label">Passkey label (optional)</label>
  <input type="text" id="passkey-label" name="label" maxlength="64" aria-describedby="passkey-label-hint">
  <p class="hint" id="passkey-label-hint">Tells your passkeys apart, e.g. “YubiKey 5C” or “laptop”.</p>
  <div class="actions">
    <button type="button" data-action="register">Register a passkey</button>
    <button type="button" class="secondary" data-action="finish">Finish enrollment</button>
  </div>
</form>
<h2>Registered passkeys</h2>
<ul id="registered" aria-live="polite"></ul>
<p id="done" class="banner banner-ok" tabindex="-1" hidden></p>`;
}
