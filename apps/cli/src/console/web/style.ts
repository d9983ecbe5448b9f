/**
 * The console's stylesheet. Colours are chosen for WCAG 2.2 AA contrast (text ≥ 4.5:1, badges use text
 * as well as colour); focus is always visible; layout is a single column that reflows at 320 px.
 */
export const STYLE = `
:root { --fg:#1a1a1a; --muted:#4a4a4a; --bg:#ffffff; --line:#c8c8c8; --accent:#0b57d0; --accent-fg:#ffffff;
  --warn-bg:#fff4d6; --warn-fg:#6b4100; --bad-bg:#fde8e8; --bad-fg:#8a1c1c; --ok-bg:#e3f5e9; --ok-fg:#0f5a2a; }
* { box-sizing: border-box; }
html { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
body { margin: 0; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; z-index: 2; }
header { border-bottom: 1px solid var(--line); padding: .75rem 1.5rem; display: flex; gap: 2rem; align-items: center; flex-wrap: wrap; }
header .brand { font-weight: 700; font-size: 1.1rem; }
nav ul { list-style: none; display: flex; gap: 1.25rem; margin: 0; padding: 0; flex-wrap: wrap; }
nav a[aria-current=page] { font-weight: 700; text-decoration-thickness: 3px; }
main { padding: 1rem 1.5rem 3rem; max-width: 72rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; }
h3 { font-size: 1.05rem; margin: 0 0 .5rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; color: var(--muted); }
th, td { border-bottom: 1px solid var(--line); padding: .45rem .6rem; text-align: left; vertical-align: top; }
th { font-weight: 600; }
code, .hash { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .85rem; overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1.25rem; margin: 0 0 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: .75rem; font-size: .85rem; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.badge-warn { background: var(--warn-bg); color: var(--warn-fg); }
.badge-bad { background: var(--bad-bg); color: var(--bad-fg); }
.badge-ok { background: var(--ok-bg); color: var(--ok-fg); }
.badge-neutral { background: #f0f0f0; color: var(--fg); }
.banner { border: 2px solid currentColor; border-radius: .4rem; padding: .75rem 1rem; margin: 0 0 1rem; }
.banner-bad { background: var(--bad-bg); color: var(--bad-fg); }
.banner-warn { background: var(--warn-bg); color: var(--warn-fg); }
.banner-ok { background: var(--ok-bg); color: var(--ok-fg); }
.card { border: 1px solid var(--line); border-radius: .5rem; padding: 1rem 1.25rem; margin: 0 0 1.25rem; }
.card h2 { margin-top: 0; }
.nowrap { white-space: nowrap; }
.muted { color: var(--muted); }
button { font: inherit; padding: .55rem 1.1rem; border-radius: .4rem; border: 2px solid var(--accent); background: var(--accent); color: var(--accent-fg); cursor: pointer; min-height: 44px; }
button.secondary { background: var(--bg); color: var(--accent); }
button:disabled { opacity: .6; cursor: not-allowed; }
label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
input[type=text] { font: inherit; padding: .5rem; border: 2px solid #6b6b6b; border-radius: .3rem; width: min(28rem, 100%); }
.hint { color: var(--muted); font-size: .9rem; margin: .2rem 0 0; }
.status { min-height: 1.5rem; margin: 1rem 0; padding: .5rem .75rem; border-radius: .3rem; }
.status:empty { padding: 0; margin: 0; min-height: 0; }
.status-error { background: var(--bad-bg); color: var(--bad-fg); }
.status-ok { background: var(--ok-bg); color: var(--ok-fg); }
.status-info { background: #eef3fd; color: #0a3a8c; }
.actions { display: flex; gap: .75rem; flex-wrap: wrap; margin-top: 1rem; }
`;
