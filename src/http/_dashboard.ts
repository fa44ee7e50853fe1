// The live dashboard: one HTML page with inline CSS and JS (no build step), fed by the
// server-sent events of `dashboard/events` (relative, so the API can be mounted under a prefix).
// Everything from the server is written with textContent, never as HTML.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Troupe dashboard</title>
<style>
  :root { color-scheme: light; font-family: system-ui, sans-serif; font-size: 14px; }
  body { margin: 0; background: #f4f5f7; color: #1d2430; }
  header { background: #1d2430; color: #fff; padding: 10px 18px; display: flex; gap: 18px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  #connection { margin-left: auto; font-size: 12px; }
  #connection[data-state="live"] { color: #7ee2a8; }
  #connection[data-state="lost"] { color: #ff9b9b; }
  main { display: grid; grid-template-columns: 1.4fr 1fr; gap: 14px; padding: 14px; }
  section { background: #fff; border-radius: 8px; padding: 12px 14px; box-shadow: 0 1px 2px #0002; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: #5b6474; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e6e8ec; font-variant-numeric: tabular-nums; }
  .status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #e6e8ec; }
  .status-up { background: #c9f0d8; } .status-joining, .status-leaving, .status-exiting { background: #fde9b6; }
  .status-down, .status-removed { background: #ffd0d0; }
  tr[data-reachable="false"] td { color: #b42318; }
  .rates { display: flex; gap: 24px; }
  .rate b { display: block; font-size: 22px; }
  ul.tree { list-style: none; padding-left: 16px; margin: 2px 0; font-family: ui-monospace, monospace; font-size: 12px; }
  .muted { color: #8a92a0; }
</style>
</head>
<body>
<header><h1>Troupe</h1><span id="node" class="muted"></span><span id="leader"></span>
<span id="connection" data-state="connecting">connecting…</span></header>
<main>
<section><h2>Members</h2>
<table><thead><tr><th>node</th><th>status</th><th>reachable</th><th>φ</th><th>roles</th><th>address</th></tr></thead>
<tbody id="members"></tbody></table><p id="no-cluster" class="muted" hidden>No cluster configured on this node.</p></section>
<section><h2>Rates</h2><div class="rates">
<div class="rate">messages/s<b id="messages-rate">–</b></div>
<div class="rate">dead letters/s<b id="dead-rate">–</b></div>
<div class="rate">dead letters<b id="dead-total">–</b></div></div></section>
<section><h2>Actors <span id="actor-count" class="muted"></span></h2><div id="actors"></div></section>
<section><h2>Shards per node</h2><div id="sharding"></div></section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, attrs) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  };
  // Members seen earlier but gone from the view were removed: keep them, marked so.
  const seen = new Map();
  function renderMembers(cluster) {
    const body = $("members");
    $("no-cluster").hidden = cluster !== null;
    if (cluster === null) { body.replaceChildren(); return; }
    $("leader").textContent = "leader: " + (cluster.leader ?? "none");
    const current = new Set();
    for (const m of cluster.members) { seen.set(m.node, m); current.add(m.node); }
    const rows = [];
    for (const [node, m] of [...seen.entries()].sort(([a], [b]) => a < b ? -1 : 1)) {
      const status = current.has(node) ? m.status : "removed";
      const reachable = current.has(node) ? m.reachable : false;
      const row = el("tr", undefined, { "data-node": node, "data-status": status, "data-reachable": reachable });
      const name = el("td", node + (node === cluster.leader ? " ★" : "") + (node === cluster.self ? " (this node)" : ""));
      const badge = el("span", status, { class: "status status-" + status });
      const cell = el("td"); cell.append(badge);
      row.append(name, cell, el("td", reachable ? "yes" : "no"),
        el("td", m.phi === null || !current.has(node) ? "–" : m.phi.toFixed(2)),
        el("td", m.roles.join(", ") || "–"), el("td", m.address));
      rows.push(row);
    }
    body.replaceChildren(...rows);
  }
  function renderTree(nodes) {
    const list = el("ul", undefined, { class: "tree" });
    for (const n of nodes) {
      const item = el("li", n.id + " ", { "data-path": n.path });
      item.append(el("span", (n.type ?? "?") + (n.mailboxSize > 0 ? " · " + n.mailboxSize + " queued" : "") +
        (n.truncated ? " · " + n.childCount + " children (some not shown)" : ""), { class: "muted" }));
      if (n.children.length > 0) item.append(renderTree(n.children));
      list.append(item);
    }
    return list;
  }
  function renderSharding(sharding) {
    const box = $("sharding");
    if (sharding === null) {
      box.replaceChildren(el("p", "No sharding provider on this node.", { class: "muted" }));
      return;
    }
    const table = el("table");
    table.append(el("tr")).append(el("th", "type"), el("th", "node"), el("th", "shards"), el("th", "entities"));
    for (const t of sharding) if (t.unavailable !== undefined) {
      const row = el("tr", undefined, { "data-type": t.type });
      row.append(el("td", t.type), el("td", "unavailable now (" + t.unavailable + ")", { colspan: "3", class: "muted" }));
      table.append(row);
    }
    for (const t of sharding) for (const n of t.nodes) {
      const row = el("tr", undefined, { "data-type": t.type, "data-node": n.node });
      row.append(el("td", t.type), el("td", n.node), el("td", n.shards), el("td", n.entities));
      table.append(row);
    }
    box.replaceChildren(table);
  }
  function render(state) {
    $("node").textContent = "node " + state.node;
    renderMembers(state.cluster);
    $("messages-rate").textContent = state.rates.messagesPerSecond;
    $("dead-rate").textContent = state.rates.deadLettersPerSecond;
    $("dead-total").textContent = state.deadLetters;
    $("actor-count").textContent = "(" + state.actors.total + ")";
    $("actors").replaceChildren(renderTree(state.actors.roots));
    renderSharding(state.sharding);
    document.body.dataset.updated = String(Date.now());
  }
  const source = new EventSource("dashboard/events");
  source.addEventListener("state", (event) => {
    $("connection").textContent = "live";
    $("connection").dataset.state = "live";
    render(JSON.parse(event.data));
  });
  source.addEventListener("error", () => {
    $("connection").textContent = "reconnecting…";
    $("connection").dataset.state = "lost";
  });
})();
</script>
</body>
</html>
`;
