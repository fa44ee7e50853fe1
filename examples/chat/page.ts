// The chat page every node serves at `/`: one HTML file with its CSS and JavaScript inline, no
// build step. It opens an EventSource on /chat/events (server → browser), joins streams and
// posts with fetch POSTs (browser → server), and shows each stream's history then its live
// messages. The elements carry data- attributes the browser test waits for.

/** The page's HTML. */
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Troupe chat</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { display: flex; gap: 1em; align-items: center; padding: .6em 1em; background: #1d2330; color: #fff; }
  header a { color: #9cc3ff; margin-left: auto; }
  #status[data-state="live"] { color: #7ee08a; }
  #status[data-state="down"] { color: #ff8a80; }
  form { display: flex; gap: .5em; padding: .6em 1em; flex-wrap: wrap; }
  input { font: inherit; padding: .3em .5em; }
  main { display: flex; gap: 1em; padding: 0 1em 1em; flex-wrap: wrap; }
  section { background: #fff; border: 1px solid #d5d9e0; border-radius: 6px; flex: 1 1 320px; min-width: 280px; }
  section h2 { font-size: 1em; margin: 0; padding: .5em .8em; border-bottom: 1px solid #d5d9e0; }
  ol { list-style: none; margin: 0; padding: .5em .8em; max-height: 60vh; overflow: auto; }
  li .meta { color: #6b7385; font-size: .85em; }
  li.history { opacity: .7; }
</style>
</head>
<body>
<header>
  <strong>Troupe chat</strong>
  <span>node <b id="node">?</b></span>
  <span id="status" data-state="connecting">connecting…</span>
  <a href="/dashboard">dashboard</a>
</header>
<form id="join">
  <input id="name" placeholder="your name" maxlength="32" required>
  <input id="stream" placeholder="stream (e.g. lobby)" maxlength="40" pattern="[a-z0-9][a-z0-9-]*" required>
  <button>join</button>
</form>
<form id="post">
  <select id="target"></select>
  <input id="text" placeholder="say something" maxlength="500" required size="50">
  <button>post</button>
  <span id="error" role="alert"></span>
</form>
<main id="streams"></main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$("name").value = params.get("name") || localStorage.getItem("chat-name") || "";
let connection = null;
const joined = new Set();
const wanted = (params.get("streams") || "").split(",").filter(Boolean);

function panel(stream) {
  let section = document.querySelector('section[data-stream="' + stream + '"]');
  if (section) return section.querySelector("ol");
  section = document.createElement("section");
  section.dataset.stream = stream;
  const h2 = document.createElement("h2");
  h2.textContent = "#" + stream;
  section.append(h2, document.createElement("ol"));
  $("streams").append(section);
  const option = document.createElement("option");
  option.value = option.textContent = stream;
  $("target").append(option);
  $("target").value = stream;
  return section.querySelector("ol");
}

function show(message, fromHistory) {
  const list = panel(message.stream);
  if (list.querySelector('li[data-seq="' + message.seq + '"]')) return;
  const li = document.createElement("li");
  li.dataset.seq = message.seq;
  li.dataset.from = message.from;
  if (fromHistory) li.className = "history";
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = new Date(message.at).toLocaleTimeString() + " via " + message.via + " ";
  const who = document.createElement("b");
  who.textContent = message.from + ": ";
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = message.text;
  li.append(meta, who, text);
  list.append(li);
  list.scrollTop = list.scrollHeight;
}

async function call(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

async function join(stream) {
  $("error").textContent = "";
  try {
    panel(stream);
    joined.add(stream);
    if (connection) await call("/chat/join", { connection, stream });
  } catch (error) {
    $("error").textContent = String(error.message || error);
  }
}

function connect() {
  const events = new EventSource("/chat/events");
  events.addEventListener("hello", (e) => {
    const hello = JSON.parse(e.data);
    connection = hello.connection;
    $("node").textContent = hello.node;
    $("status").textContent = "live";
    $("status").dataset.state = "live";
    // A new connection (also after a reconnect) joins every stream again.
    for (const stream of joined) join(stream);
  });
  events.addEventListener("history", (e) => {
    const history = JSON.parse(e.data);
    panel(history.stream);
    for (const message of history.messages) show(message, true);
  });
  events.addEventListener("message", (e) => show(JSON.parse(e.data), false));
  events.onerror = () => {
    connection = null;
    $("status").textContent = "reconnecting…";
    $("status").dataset.state = "down";
  };
}

$("join").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem("chat-name", $("name").value);
  join($("stream").value.trim());
  $("stream").value = "";
});
$("post").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("error").textContent = "";
  try {
    await call("/chat/post", { stream: $("target").value, from: $("name").value, text: $("text").value });
    $("text").value = "";
  } catch (error) {
    $("error").textContent = String(error.message || error);
  }
});
for (const stream of wanted) joined.add(stream), panel(stream);
connect();
</script>
</body>
</html>
`;
