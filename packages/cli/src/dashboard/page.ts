// The dashboard's page and styles. The HTML is a fixed frame with no data in it: the script
// (web/app.ts, bundled into dist/dashboard/app.js) fills it through the DOM, as text.

/** The one page of the dashboard. */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="referrer" content="no-referrer" />
    <title>Guildhall dashboard</title>
    <link rel="stylesheet" href="app.css" />
    <script src="app.js" defer></script>
  </head>
  <body>
    <header>
      <h1>Guildhall</h1>
      <span id="connection" class="muted">connecting…</span>
    </header>
    <main>
      <section id="hosts-section">
        <h2>Hosts</h2>
        <div id="hosts"></div>
      </section>
      <section id="guilds-section">
        <h2>Guilds</h2>
        <div id="guilds"></div>
      </section>
      <section id="agent-section" hidden>
        <h2 id="agent-title">Agent</h2>
        <div id="agent"></div>
      </section>
      <section id="messages-section">
        <h2 id="messages-title">Messages</h2>
        <div id="thread-bar" hidden></div>
        <div id="messages"></div>
      </section>
    </main>
  </body>
</html>
`;

/** The page's styles. */
export const PAGE_CSS = `:root {
  color-scheme: light dark;
  --line: #8884;
  --muted: #888;
  --ok: #2a9d4b;
  --warn: #c98a00;
  --bad: #d33;
  font: 14px/1.4 system-ui, sans-serif;
}
body { margin: 0; }
header { display: flex; align-items: baseline; gap: 1rem; padding: 0.6rem 1rem; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.2rem; margin: 0; }
h2 { font-size: 1rem; margin: 1rem 0 0.4rem; }
h3 { font-size: 0.95rem; margin: 0.8rem 0 0.3rem; }
main { padding: 0 1rem 2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.selectable { cursor: pointer; }
tr.selectable:hover, tr.selected { background: #8882; }
pre { margin: 0.2rem 0; white-space: pre-wrap; word-break: break-word; font-size: 12px; }
pre.logs { max-height: 18rem; overflow: auto; background: #8881; padding: 0.4rem; }
summary { cursor: pointer; font-family: ui-monospace, monospace; font-size: 12px; }
button.link { background: none; border: none; padding: 0; color: inherit; text-decoration: underline dotted; cursor: pointer; font: inherit; }
.muted { color: var(--muted); }
.id { font-family: ui-monospace, monospace; font-size: 11px; }
.state-ready, .state-serving { color: var(--ok); }
.state-crashed, .state-exited, .state-unreachable, .state-not-running { color: var(--bad); }
.state-starting, .state-restarting, .state-stopping, .state-hibernated, .state-draining { color: var(--warn); }
.guild { margin-bottom: 1rem; }
.tabs { display: flex; gap: 0.5rem; margin: 0.3rem 0; }
.tabs button[aria-pressed="true"] { font-weight: 700; }
.stderr { color: var(--bad); }
.problem { color: var(--bad); }
`;
