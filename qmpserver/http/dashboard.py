"""The dashboard page (one self-contained HTML document, nothing loaded from elsewhere).

Two views.  Instances: the list (with a "start" button for a profile of the
store or the built-ins), the selected instance's guest ABI and its live QMP
traffic under a heading that stays in place while the traffic scrolls, with
"stop" (DELETE) and "emit" (event injection: the answer says how many clients
received it); the script reads ``/api/v1/instances`` (the ``guest-abi``
from ``/api/v1/instances/{id}``) and the WebSocket ``/api/v1/ws``.
Migration: the host-pair matrix of ``/api/v1/migration/matrix`` for the target
picked in a selector (polled with a progress bar while the server computes it;
its ``notes`` under the summary) and, for a clicked pair, the
plan of ``/api/v1/migration/plan``.  ``/#view=migration`` opens the second.

The page holds no data.  With a bearer token, open it as ``/#token=TOKEN`` (kept in
the tab's sessionStorage, sent as ``Authorization`` and as the WebSocket's
first message; never put in a URL the server sees).
"""

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>qmpserver</title>
<style>
  :root { --bg:#0f1419; --panel:#161c23; --line:#263039; --fg:#d6dde4; --dim:#7b8894;
          --in:#7cc4ff; --out:#9be38b; --ev:#f0c674; --err:#ff7b72; --sel:#1f2a35; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
  header { display:flex; align-items:center; gap:1em; padding:.6em 1em; border-bottom:1px solid var(--line); }
  header h1 { font-size:1.1em; margin:0; }
  #status { color:var(--dim); }
  #status.live { color:var(--out); }
  [hidden] { display:none !important; }
  nav { display:flex; gap:.3em; }
  nav button.active { background:var(--sel); border-color:var(--dim); }
  main { display:grid; grid-template-columns: minmax(480px, 50%) 1fr; height: calc(100vh - 3em); }
  section { overflow:auto; border-right:1px solid var(--line); }
  h2 { font-size:.95em; margin:.8em 1em .4em; color:var(--dim); font-weight:600; }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:.35em .55em; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { color:var(--dim); font-weight:500; position:sticky; top:0; background:var(--panel); }
  #instances tbody tr { cursor:pointer; }
  #instances tbody tr:hover { background:var(--panel); }
  #instances tbody tr.selected { background:var(--sel); }
  td.addr { font-family:ui-monospace, monospace; font-size:.85em; white-space:normal; word-break:break-all; }
  .state-running { color:var(--out); } .state-paused, .state-prelaunch, .state-inmigrate { color:var(--ev); }
  #traffic { font-family:ui-monospace, SFMono-Regular, monospace; font-size:12.5px; padding:0 1em 1em; }
  .msg { display:grid; grid-template-columns: 7.6em 2.2em 1.2em 1fr; gap:.5em; padding:.15em 0;
         border-bottom:1px dotted var(--line); }
  .msg .t, .msg .c { color:var(--dim); }
  .msg .text { white-space:pre-wrap; word-break:break-all; }
  .msg.in .d, .msg.in .text { color:var(--in); }
  .msg.reply .text, .msg.greeting .text { color:var(--out); }
  .msg.event .text { color:var(--ev); }
  .msg.error .text { color:var(--err); }
  .empty { color:var(--dim); padding:1em; }
  button, input { background:var(--panel); color:var(--fg); border:1px solid var(--line); border-radius:4px; padding:.25em .6em; }
  #tools { display:flex; gap:.5em; padding:0 1em .6em; align-items:center; flex-wrap:wrap; }
  .pane-head { position:sticky; top:0; z-index:2; background:var(--bg); }
  .pane-head h2 { margin-top:0; padding-top:.8em; }
  #act.bad { color:var(--err); }
  .mono { font-family:ui-monospace, monospace; font-size:.9em; }
  .dim { color:var(--dim); }
  h2 button { margin-left:.5em; font-size:.9em; padding:0 .45em; }
  #abi { padding:0 1em 1em; }
  #abi h3 { font-size:.9em; margin:.9em 0 .3em; color:var(--dim); font-weight:600; display:flex; gap:.8em; align-items:center; }
  #abi table th { position:static; background:none; width:11em; }
  #abi-summary th, #abi-summary td { padding:.2em .55em; }
  #abi-summary td { white-space:normal; }
  #abi td.fields { white-space:normal; font-family:ui-monospace, monospace; font-size:.85em; }
  #abi .f { display:inline-block; margin-right:.9em; }
  #abi .f.zero { color:var(--dim); }
  #abi input { font-size:.85em; }
  #view-migration { grid-template-columns: minmax(480px, auto) 1fr; }
  .tools { display:flex; gap:1em; padding:0 1em .6em; align-items:center; flex-wrap:wrap; }
  select { background:var(--panel); color:var(--fg); border:1px solid var(--line); border-radius:4px; padding:.2em .4em; }
  #mig-progress-box { padding:.4em 1em; display:flex; gap:.8em; align-items:center; }
  #mig-progress { width:16em; accent-color:var(--in); }
  #mig-error, .error { color:var(--err); padding:.4em 1em; white-space:pre-wrap; }
  #mig-summary, #mig-notes { padding:0 1em .4em; color:var(--dim); }
  #matrix { width:auto; border-collapse:separate; border-spacing:3px; margin:0 1em; }
  #matrix th, #matrix td { border:0; padding:0; }
  #matrix th { position:static; background:none; font-weight:500; }
  #matrix th.col { vertical-align:bottom; height:11.5em; }
  #matrix th.col span { writing-mode:vertical-rl; transform:rotate(180deg); white-space:nowrap; padding:.3em 0; }
  #matrix th.row { text-align:right; padding-right:.6em; }
  #matrix th.corner { vertical-align:bottom; text-align:right; padding:0 .6em .3em 0; font-size:.85em; }
  #matrix td.cell { width:2.3em; height:2.3em; min-width:2.3em; text-align:center; border-radius:4px; font-weight:700; }
  #matrix td.migratable { background:#1d6b38; color:#d9ffe3; cursor:pointer; }
  #matrix td.blocked { background:#8c2b27; color:#ffe1dd; cursor:pointer; }
  #matrix td.same { border:1px dashed var(--line); }
  #matrix td.migratable:hover, #matrix td.blocked:hover, #matrix td.cell:focus { filter:brightness(1.35); outline:none; }
  #matrix td.selected { box-shadow:0 0 0 2px var(--fg); }
  .legend { padding:.8em 1em; color:var(--dim); display:flex; gap:1.2em; flex-wrap:wrap; }
  .swatch { display:inline-block; width:.9em; height:.9em; border-radius:2px; vertical-align:-.1em; margin-right:.3em; }
  #tip { position:fixed; z-index:10; max-width:34em; background:#0b0f13; border:1px solid var(--dim); border-radius:4px;
         padding:.45em .6em; font-size:.85em; pointer-events:none; box-shadow:0 4px 14px #0008; }
  #tip .tip-pair { color:var(--dim); margin-bottom:.2em; }
  #tip .tip-text { white-space:pre-wrap; word-break:break-word; }
  #plan-body { padding:0 1em 1em; }
  #plan-body h3 { font-size:1em; margin:.4em 0 .6em; }
  #plan-body h4 { font-size:.85em; margin:1em 0 .3em; color:var(--dim); font-weight:600; }
  #plan-body .ok { color:var(--out); } #plan-body .no { color:var(--err); }
  #plan-body ol, #plan-body ul { margin:.2em 0; padding-left:1.6em; }
  #plan-body li { margin:.15em 0; word-break:break-word; }
  #plan-blockers li:first-child { color:var(--err); }
  #plan-blockers.folded li:nth-child(n+6) { display:none; }
  .cmd { display:flex; gap:.5em; align-items:flex-start; }
  .cmd pre { flex:1; margin:0; padding:.5em .6em; background:var(--panel); border:1px solid var(--line); border-radius:4px;
             white-space:pre-wrap; word-break:break-all; font-size:.85em; user-select:all; }
  details { margin-top:.6em; } summary { cursor:pointer; color:var(--dim); }
</style>
</head>
<body>
<header>
  <h1>qmpserver</h1>
  <nav id="tabs">
    <button data-view="instances" class="active">Instances</button>
    <button data-view="migration">Migration</button>
  </nav>
  <span id="status">connecting…</span>
  <span id="count"></span>
</header>
<main id="view-instances">
  <section>
    <h2>Instances
      <select id="new-profile" title="profile of a new instance"></select><button id="new-start">start</button>
    </h2>
    <table id="instances">
      <thead><tr><th>#</th><th>name</th><th>profile</th><th>QEMU</th><th>accel</th><th>machine</th><th>state</th>
        <th>clients</th><th>QMP</th></tr></thead>
      <tbody></tbody>
    </table>
    <div id="noinst" class="empty">No instances.</div>
    <h2><span id="abi-title">Guest ABI</span><button id="abi-reload" title="reload the guest ABI" hidden>↻</button></h2>
    <div id="abi"><div class="empty">Select an instance to see its guest ABI.</div></div>
  </section>
  <section>
    <div class="pane-head">
    <h2 id="traffic-title">Traffic</h2>
    <div id="tools">
      <label><input type="checkbox" id="show-events" checked> events</label>
      <button id="clear">clear view</button>
      <a id="replies" href="#" download style="color:var(--in)"></a>
      <input id="ev-name" placeholder="event, e.g. RESUME" size="16" disabled>
      <input id="ev-data" placeholder='data {"action":"pause"}' size="18" disabled>
      <button id="emit" disabled>emit</button>
      <button id="stop" disabled title="DELETE the instance (SIGTERM: SHUTDOWN, then exit)">stop</button>
    </div>
    <div id="act" class="dim" style="padding:0 1em .4em"></div>
    </div>
    <div id="traffic"><div class="empty">Select an instance to see its QMP traffic live.</div></div>
  </section>
</main>
<main id="view-migration" hidden>
  <section>
    <h2>Migration between hosts</h2>
    <div class="tools">
      <label>hosts
        <select id="mig-target">
          <option value="aarch64">aarch64 (virt)</option>
          <option value="ppc64">ppc64 (pseries)</option>
          <option value="x86_64">x86_64 (q35)</option>
        </select></label>
      <label>configuration
        <select id="mig-config">
          <option value="passthrough">passthrough: the same command line, -cpu host</option>
          <option value="planned">planned: the plan for each pair</option>
        </select></label>
      <label><input type="checkbox" id="both-ways"> plans both ways</label>
    </div>
    <div id="mig-progress-box" hidden><progress id="mig-progress" value="0" max="1"></progress><span id="mig-progress-text"></span></div>
    <div id="mig-error" hidden></div>
    <div id="mig-summary"></div>
    <div id="mig-notes"></div>
    <table id="matrix"></table>
    <div class="legend" id="mig-legend" hidden>
      <span><span class="swatch" style="background:#1d6b38"></span>migratable</span>
      <span><span class="swatch" style="background:#8c2b27"></span>not migratable</span>
      <span>rows: source, columns: destination; hover a cell for the first blocker, click it for the plan</span>
    </div>
  </section>
  <section>
    <h2 id="plan-title">Plan</h2>
    <div id="plan-body"><div class="empty">Click a cell of the matrix for the plan of that pair.</div></div>
  </section>
</main>
<div id="tip" hidden><div class="tip-pair"></div><div class="tip-text"></div></div>
<script>
"use strict";
const hash = new URLSearchParams(location.hash.slice(1));
let view = hash.get("view") === "migration" ? "migration" : "instances";
if (hash.get("token")) { sessionStorage.setItem("qmpserver-token", hash.get("token")); history.replaceState(null, "", location.pathname + (view === "instances" ? "" : "#view=" + view)); }
const token = sessionStorage.getItem("qmpserver-token");
const headers = token ? {"Authorization": "Bearer " + token} : {};
const instances = new Map();
let selected = null, ws = null, live = null;  // live: the instance whose backlog has been replayed
const $ = (s) => document.querySelector(s);

function fmtTime(t) { const d = new Date(t * 1000); return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0"); }
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }

function renderInstances() {
  const tb = $("#instances tbody");
  tb.textContent = "";
  const ids = [...instances.keys()].sort((a, b) => a - b);
  for (const id of ids) {
    const i = instances.get(id);
    const tr = el("tr");
    tr.dataset.id = id;
    if (id === selected) tr.classList.add("selected");
    const cells = [id, i.name || "", i.profile, i.qemu, i.accel, i.machine.type, i.runstate, i.connections,
                   i.qmp.map(a => a.address).join(" ")];
    cells.forEach((v, n) => { const td = el("td", n === 8 ? "addr" : (n === 6 ? "state-" + i.runstate : ""), String(v)); tr.appendChild(td); });
    tr.addEventListener("click", () => select(id));
    tb.appendChild(tr);
  }
  $("#noinst").style.display = ids.length ? "none" : "";
  $("#count").textContent = ids.length + " instance" + (ids.length === 1 ? "" : "s");
}

const UNKNOWN = "—";
function hex(v) { return "0x" + v.toString(16); }
function known(v, fmt) { return v === null || v === undefined ? UNKNOWN : (fmt ? fmt(v) : String(v)); }
function kvRow(tb, key, value) {
  const tr = el("tr"); tr.dataset.key = key;
  tr.appendChild(el("th", "", key));
  const td = el("td", value === UNKNOWN ? "dim" : "mono", value);
  if (value === UNKNOWN) td.title = "not known to the models (never invented)";
  tr.appendChild(td); tb.appendChild(tr);
}

let abiSeq = 0, abiFilter = "";
async function loadABI(id) {
  const seq = ++abiSeq;
  let body = null, status = "";
  try {
    const r = await fetch("/api/v1/instances/" + id, {headers});
    if (r.ok) body = await r.json(); else status = "HTTP " + r.status;
  } catch (e) { status = String(e); }
  if (seq !== abiSeq || id !== selected) return;
  if (body === null) { $("#abi").textContent = ""; $("#abi").appendChild(el("div", "empty", status)); return; }
  renderABI(body["guest-abi"]);
}

function renderABI(a) {
  const box = $("#abi");
  box.textContent = "";
  if (!a) { box.appendChild(el("div", "empty", "No guest ABI yet (the machine is not created).")); return; }
  const cpu = a.cpu, gic = a.gic;
  const t = el("table"); t.id = "abi-summary";
  const tb = el("tbody"); t.appendChild(tb);
  kvRow(tb, "machine", a.machine.type);
  kvRow(tb, "accelerator", a.accel);
  kvRow(tb, "CPU model", known(cpu.model));
  kvRow(tb, "MIDR_EL1", known(cpu.midr, hex));
  kvRow(tb, "MTE", known(a.mte, v => v === "none" ? "none" : "MTE" + v));
  kvRow(tb, "GIC", known(gic.version, v => "v" + v + (gic["in-kernel"] === null ? "" : gic["in-kernel"] ? ", in-kernel" : ", emulated")));
  kvRow(tb, "SVE vector lengths", known(cpu["sve-vector-lengths"], v => v.length ? v.join(" ") + " bits" : "off"));
  kvRow(tb, "PMU", known(cpu.pmu, v => v ? "yes" : "no"));
  kvRow(tb, "PSCI", known(a["psci-version"]));
  box.appendChild(t);
  const h = el("h3", "", "ID registers");
  box.appendChild(h);
  if (!cpu.idregs) box.appendChild(el("div", "dim", "not known to the models" + (a.accel === "tcg" ? " (of a TCG CPU model, only MIDR is)" : "")));
  else {
    h.appendChild(el("span", "dim", Object.keys(cpu.idregs).length + " fields"));
    const inp = el("input"); inp.id = "abi-filter"; inp.placeholder = "filter, e.g. MTE"; inp.value = abiFilter;
    h.appendChild(inp);
    const regs = el("table"); regs.id = "abi-idregs";
    box.appendChild(regs);
    inp.addEventListener("input", () => { abiFilter = inp.value; renderIdregs(regs, cpu.idregs, abiFilter); });
    renderIdregs(regs, cpu.idregs, abiFilter);
  }
  box.appendChild(el("h3", "", "Firmware registers"));
  if (!a.firmware) box.appendChild(el("div", "dim", "not known to the models (KVM only)"));
  else {
    const fw = el("table"); fw.id = "abi-firmware";
    const fb = el("tbody"); fw.appendChild(fb);
    for (const [k, v] of Object.entries(a.firmware)) {
      const tr = el("tr"); tr.dataset.reg = k;
      tr.appendChild(el("th", "mono", k));
      tr.appendChild(el("td", "mono", hex(v) + (v > 9 ? " (" + v + ")" : "")));
      fb.appendChild(tr);
    }
    box.appendChild(fw);
  }
}

// one row per register (fields at 0 dimmed); registers with every field 0 share one row
function renderIdregs(table, idregs, filter) {
  table.textContent = "";
  const tb = el("tbody"); table.appendChild(tb);
  const q = filter.trim().toLowerCase(), regs = new Map(), zero = [];
  for (const [k, v] of Object.entries(idregs)) {
    if (q && !k.toLowerCase().includes(q)) continue;
    const dot = k.indexOf("."), reg = k.slice(0, dot);
    if (!regs.has(reg)) regs.set(reg, []);
    regs.get(reg).push([k.slice(dot + 1), v]);
  }
  for (const [reg, fields] of regs) {
    if (!q && fields.every(([, v]) => v === 0)) { zero.push(reg); continue; }
    const tr = el("tr"); tr.dataset.reg = reg;
    tr.appendChild(el("th", "mono", reg));
    const td = el("td", "fields");
    for (const [f, v] of fields) {
      const span = el("span", v === 0 ? "f zero" : "f", f + "=" + (v > 9 ? hex(v) : v));
      span.dataset.field = reg + "." + f; span.title = reg + "." + f + " = " + v;
      td.appendChild(span);
    }
    tr.appendChild(td); tb.appendChild(tr);
  }
  if (zero.length) {
    const tr = el("tr"); tr.dataset.reg = "";
    tr.appendChild(el("th", "dim", "every field 0"));
    tr.appendChild(el("td", "fields dim", zero.join(" ")));
    tb.appendChild(tr);
  }
  if (!regs.size) tb.appendChild(el("tr")).appendChild(el("td", "dim", "no field matches"));
}

function addTraffic(m) {
  if (m.instance !== selected) return;
  if (m.kind === "event" && !$("#show-events").checked) return;
  const box = $("#traffic");
  const first = box.querySelector(".empty"); if (first) first.remove();
  let cls = "msg " + m.dir + " " + m.kind;
  if (m.kind === "reply" && m.text.startsWith('{"error"')) cls += " error";
  const row = el("div", cls);
  row.dataset.seq = m.seq;
  row.appendChild(el("span", "t", fmtTime(m.time)));
  row.appendChild(el("span", "c", "#" + m.conn));
  row.appendChild(el("span", "d", m.dir === "in" ? "→" : "←"));
  row.appendChild(el("span", "text", m.text + (m.truncated ? " …" : "")));
  const atBottom = box.parentElement.scrollTop + box.parentElement.clientHeight >= box.parentElement.scrollHeight - 40;
  box.appendChild(row);
  while (box.children.length > 2000) box.firstChild.remove();
  if (atBottom) box.parentElement.scrollTop = box.parentElement.scrollHeight;
}

// --- actions: create, stop, emit (the same routes as any API client) ---------------
async function call(method, path, body) {
  const h = Object.assign({"Content-Type": "application/json"}, headers);
  const r = await fetch(path, {method, headers: h, body: body === undefined ? undefined : JSON.stringify(body)});
  let d = null;
  try { d = await r.json(); } catch (e) { d = null; }
  return [r.status, d];
}
function say(text, bad) { const a = $("#act"); a.textContent = text; a.className = bad ? "bad" : "dim"; }
function errText(status, d) { return "HTTP " + status + ": " + (d && d.error ? d.error.message : "no answer"); }
async function loadProfiles() {
  const [status, d] = await call("GET", "/api/v1/profiles");
  if (status !== 200) return;
  const sel = $("#new-profile"); sel.textContent = "";
  for (const p of d.profiles) if (p.valid) { const o = el("option", "", p.name); o.value = p.name; sel.appendChild(o); }
}
$("#new-start").addEventListener("click", async () => {
  const profile = $("#new-profile").value;
  const [status, d] = await call("POST", "/api/v1/instances", profile ? {profile} : {});
  if (status === 201) { say("started instance #" + d.id + " (" + d.profile + ")"); instances.set(d.id, d); renderInstances(); select(d.id); }
  else say(errText(status, d), true);
});
$("#stop").addEventListener("click", async () => {
  if (selected === null) return;
  const [status, d] = await call("DELETE", "/api/v1/instances/" + selected);
  if (status === 200) say("stopped instance #" + d.id + (d.exit ? " (" + d.exit + ")" : ""));
  else say(errText(status, d), true);
});
$("#emit").addEventListener("click", async () => {
  if (selected === null) return;
  const body = {event: $("#ev-name").value.trim()};
  const raw = $("#ev-data").value.trim();
  if (raw) { try { body.data = JSON.parse(raw); } catch (e) { say("data: not JSON: " + e.message, true); return; } }
  const [status, d] = await call("POST", "/api/v1/instances/" + selected + "/events", body);
  if (status === 202) say(d.event + " delivered to " + d.delivered + " client" + (d.delivered === 1 ? "" : "s") + (d.delivered ? "" : " (kept in the transcript as conn #0)"), !d.delivered);
  else say(errText(status, d), true);
});

function select(id) {
  for (const k of ["#ev-name", "#ev-data", "#emit", "#stop"]) $(k).disabled = false;
  if (ws && selected !== null) ws.send(JSON.stringify({unsubscribe: selected}));
  selected = id;
  $("#traffic").textContent = "";
  $("#traffic").appendChild(el("div", "empty", "Waiting for traffic…"));
  $("#traffic-title").textContent = "Traffic of instance #" + id;
  const a = $("#replies"); a.textContent = "export .replies"; a.href = "#";
  $("#abi-title").textContent = "Guest ABI of instance #" + id; $("#abi-reload").hidden = false;
  live = null;
  renderInstances();
  loadABI(id);
  if (ws) ws.send(JSON.stringify({subscribe: id, backlog: 200}));
}

async function loadInstances() {
  const r = await fetch("/api/v1/instances", {headers});
  if (!r.ok) { $("#status").textContent = "HTTP " + r.status + (r.status === 401 ? " — open /#token=TOKEN" : ""); return; }
  const body = await r.json();
  instances.clear();
  for (const i of body.instances) instances.set(i.id, i);
  renderInstances();
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(proto + "//" + location.host + "/api/v1/ws");
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "hello") { if (m.auth_required) ws.send(JSON.stringify({auth: token || ""})); }
    else if (m.type === "ready") {
      $("#status").textContent = "live"; $("#status").className = "live";
      instances.clear(); for (const i of m.instances) instances.set(i.id, i); renderInstances();
      if (selected !== null) ws.send(JSON.stringify({subscribe: selected, backlog: 0}));
      else if (instances.size) select([...instances.keys()].sort((a, b) => a - b)[0]);
    }
    else if (m.type === "instance") {
      if (m.event === "removed") instances.delete(m.instance.id); else instances.set(m.instance.id, m.instance);
      renderInstances();
    }
    else if (m.type === "traffic") {
      addTraffic(m);
      const i = instances.get(m.instance);
      if (i && m.kind === "event" && /"event": "(STOP|RESUME|SHUTDOWN)"/.test(m.text)) loadInstances();
      // an incoming migration replaces the guest ABI with the source's
      if (m.instance === live && m.kind === "event" && /"event": "(RESUME|MIGRATION)"/.test(m.text)) loadABI(live);
    }
    else if (m.type === "subscribed" && m.instance === selected) live = m.instance;
  };
  ws.onclose = () => { $("#status").textContent = "disconnected — retrying"; $("#status").className = ""; ws = null; setTimeout(connect, 2000); };
}

// --- views ---------------------------------------------------------------------------

function show(v) {
  view = v;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.view === v);
  $("#view-instances").hidden = v !== "instances";
  $("#view-migration").hidden = v !== "migration";
  history.replaceState(null, "", location.pathname + (v === "instances" ? "" : "#view=" + v));
  hideTip();
  if (v === "migration") loadMatrix();
}

// --- migration: the host-pair matrix and plans ---------------------------------------------

const mig = {gen: 0, polls: 0, matrix: null, planSeq: 0, pair: null};
const sleep = (ms) => new Promise(res => setTimeout(res, ms));
function migError(text) { const e = $("#mig-error"); e.textContent = text; e.hidden = !text; }
async function errorText(r) {
  try { const b = await r.json(); return "HTTP " + r.status + ": " + (b.error.message || b.error.desc || b.error.class); }
  catch (e) { return "HTTP " + r.status + (r.status === 401 ? " — open /#token=TOKEN" : ""); }
}

// 202 + Retry-After while the server computes (seconds): poll, with a progress bar, until 200
async function loadMatrix() {
  const gen = ++mig.gen, config = $("#mig-config").value, target = $("#mig-target").value;
  migError("");
  while (gen === mig.gen && view === "migration") {
    let r;
    try { r = await fetch("/api/v1/migration/matrix?config=" + encodeURIComponent(config) + "&target=" + encodeURIComponent(target), {headers}); }
    catch (e) { migError(String(e) + " — retrying"); await sleep(2000); continue; }
    if (gen !== mig.gen) return;
    if (r.status === 202) {
      const p = await r.json();
      if (gen !== mig.gen) return;
      mig.polls++;
      $("#mig-progress-box").hidden = false;
      $("#mig-progress").max = Math.max(p.total, 1); $("#mig-progress").value = p.done;
      $("#mig-progress-text").textContent = "computing the " + target + " " + p.config + " matrix: " + p.done + " of " + p.total + " pairs";
      if (!mig.matrix || mig.matrix.config !== config || mig.target !== target) { $("#mig-summary").textContent = ""; $("#mig-notes").textContent = ""; }
      const after = parseFloat(r.headers.get("Retry-After"));
      await sleep(1000 * (after > 0 ? Math.min(after, 10) : 1));
      continue;
    }
    $("#mig-progress-box").hidden = true;
    if (!r.ok) { migError(await errorText(r)); return; }
    const m = await r.json();
    if (gen === mig.gen) { mig.target = target; renderMatrix(m); }
    return;
  }
}

function tipFor(c) {
  if (c.migratable) return "migratable" + (c["qemu-args"] ? " with " + shellJoin(c["qemu-args"]) : "");
  return c["first-blocker"] || "not migratable";
}

function renderMatrix(m) {
  mig.matrix = m;
  const names = m.profiles.map(p => p.name);
  const summary = new Map(m.profiles.map(p => [p.name, p.summary]));
  const cells = new Map(m.cells.map(c => [c.source + "\n" + c.destination, c]));
  const t = $("#matrix");
  t.textContent = "";
  const head = el("tr");
  head.appendChild(el("th", "corner dim", "source ↓  destination →"));
  for (const n of names) { const th = el("th", "col"); th.title = summary.get(n) || ""; th.appendChild(el("span", "", n)); head.appendChild(th); }
  t.appendChild(el("thead")).appendChild(head);
  const tb = el("tbody");
  for (const src of names) {
    const tr = el("tr");
    const th = el("th", "row mono", src); th.title = summary.get(src) || ""; tr.appendChild(th);
    for (const dst of names) {
      const c = src === dst ? null : cells.get(src + "\n" + dst);
      const td = el("td", "cell");
      if (src === dst) { td.classList.add("same"); td.title = "same host"; }
      else if (c) {
        td.classList.add(c.migratable ? "migratable" : "blocked");
        td.textContent = c.migratable ? "✓" : "✗";
        td.dataset.source = src; td.dataset.destination = dst; td.dataset.tip = tipFor(c);
        td.tabIndex = 0;
        td.setAttribute("aria-label", src + " to " + dst + ": " + td.dataset.tip);
        if (mig.pair && mig.pair[0] === src && mig.pair[1] === dst) td.classList.add("selected");
      }
      tr.appendChild(td);
    }
    tb.appendChild(tr);
  }
  t.appendChild(tb);
  const ok = m.cells.filter(c => c.migratable).length;
  $("#mig-summary").textContent = m.config + ": " + ok + " of " + m.cells.length + " ordered pairs of " + names.length + " hosts migratable";
  $("#mig-notes").textContent = (m.notes || []).join(" ");
  $("#mig-legend").hidden = false;
}

function showTip(td) {
  if (!td || !td.dataset.tip) { hideTip(); return; }
  const tip = $("#tip");
  tip.querySelector(".tip-pair").textContent = td.dataset.source + " → " + td.dataset.destination;
  tip.querySelector(".tip-text").textContent = td.dataset.tip;
  tip.hidden = false;
  const r = td.getBoundingClientRect(), w = tip.offsetWidth, h = tip.offsetHeight;
  let x = r.right + 8, y = r.top;
  if (x + w > innerWidth - 4) x = Math.max(4, r.left - 8 - w);
  if (y + h > innerHeight - 4) y = Math.max(4, innerHeight - 4 - h);
  tip.style.left = x + "px"; tip.style.top = y + "px";
}
function hideTip() { $("#tip").hidden = true; }

function shellJoin(args) {
  return args.map(a => /^[A-Za-z0-9_@%+=:,.\/-]+$/.test(a) ? a : "'" + a.replace(/'/g, "'\\''") + "'").join(" ");
}

async function loadPlan(src, dst) {
  const seq = ++mig.planSeq, both = $("#both-ways").checked;
  mig.pair = [src, dst];
  for (const td of document.querySelectorAll("#matrix td.selected")) td.classList.remove("selected");
  const td = [...document.querySelectorAll("#matrix td.cell")].find(c => c.dataset.source === src && c.dataset.destination === dst);
  if (td) td.classList.add("selected");
  $("#plan-title").textContent = "Plan: " + src + (both ? " ⇄ " : " → ") + dst;
  const body = $("#plan-body");
  body.textContent = "";
  body.appendChild(el("div", "empty", "Planning… (each candidate is proved by migrating between two instances: a few seconds)"));
  let r, p = null, err = "";
  try {
    r = await fetch("/api/v1/migration/plan?source=" + encodeURIComponent(src) + "&destination=" + encodeURIComponent(dst) + (both ? "&both-ways=true" : ""), {headers});
    if (r.ok) p = await r.json(); else err = await errorText(r);
  } catch (e) { err = String(e); }
  if (seq !== mig.planSeq) return;
  body.textContent = "";
  if (p === null) { body.appendChild(el("div", "error", err)); return; }
  renderPlan(body, p);
}

function renderPlan(body, p) {
  const h = el("h3", p.migratable ? "ok" : "no", p.migratable ? "✓ migratable" : "✗ not migratable");
  h.id = "plan-verdict";
  body.appendChild(h);
  if (p.configuration) {
    body.appendChild(el("h4", "", "Command line (the same on both hosts)"));
    const box = el("div", "cmd"), pre = el("pre", "", shellJoin(p.configuration["qemu-args"])), btn = el("button", "", "copy");
    pre.id = "plan-args"; btn.id = "plan-copy";
    btn.addEventListener("click", () => copyText(pre, btn));
    box.appendChild(pre); box.appendChild(btn); body.appendChild(box);
  }
  if (p.blockers.length) {
    body.appendChild(el("h4", "", "Blockers (the first decides)"));
    const ol = el("ol"); ol.id = "plan-blockers";
    for (const b of p.blockers) ol.appendChild(el("li", "", b));
    body.appendChild(ol);
    if (p.blockers.length > 5) {  // the first decides; the rest on demand
      ol.className = "folded";
      const more = el("button", "", "show " + (p.blockers.length - 5) + " more"); more.id = "plan-more";
      more.addEventListener("click", () => { ol.classList.toggle("folded"); more.textContent = ol.classList.contains("folded") ? "show " + (p.blockers.length - 5) + " more" : "show fewer"; });
      body.appendChild(more);
    }
  }
  if (p.notes.length) {
    body.appendChild(el("h4", "", "Notes"));
    const ul = el("ul"); ul.id = "plan-notes";
    for (const n of p.notes) ul.appendChild(el("li", "", n));
    body.appendChild(ul);
  }
  if (p.tried.length) {
    const d = el("details"); d.id = "plan-tried";
    d.appendChild(el("summary", "", "Tried " + p.tried.length + " configuration" + (p.tried.length === 1 ? "" : "s")));
    for (const t of p.tried) {
      d.appendChild(el("pre", "mono", shellJoin(t["qemu-args"])));
      const ul = el("ul");
      for (const tr of t.trials) {
        const n = (tr.reasons || []).length;
        ul.appendChild(el("li", tr.result === "completed" ? "ok" : "no", tr.direction + ": " + tr.result + (n ? " (" + n + " reason" + (n === 1 ? "" : "s") + ": " + tr.reasons[0] + (n > 1 ? " …" : "") + ")" : "")));
      }
      d.appendChild(ul);
    }
    body.appendChild(d);
  }
}

async function copyText(pre, btn) {
  let ok = false;
  try { await navigator.clipboard.writeText(pre.textContent); ok = true; }
  catch (e) {
    const range = document.createRange(); range.selectNodeContents(pre);
    const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range);
    try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
  }
  btn.textContent = ok ? "copied" : "selected: press Ctrl+C";
  setTimeout(() => { btn.textContent = "copy"; }, 2000);
}

for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => show(b.dataset.view));
for (const s of ["#mig-config", "#mig-target"]) $(s).addEventListener("change", () => { $("#matrix").textContent = ""; $("#mig-legend").hidden = true; loadMatrix(); });
$("#both-ways").addEventListener("change", () => { if (mig.pair) loadPlan(mig.pair[0], mig.pair[1]); });
const matrixTable = $("#matrix");
matrixTable.addEventListener("mouseover", (ev) => showTip(ev.target.closest("td.cell")));
matrixTable.addEventListener("mouseleave", hideTip);
matrixTable.addEventListener("focusin", (ev) => showTip(ev.target.closest("td.cell")));
matrixTable.addEventListener("focusout", hideTip);
matrixTable.addEventListener("click", (ev) => {
  const td = ev.target.closest("td.cell");
  if (td && td.dataset.source) loadPlan(td.dataset.source, td.dataset.destination);
});
matrixTable.addEventListener("keydown", (ev) => {
  const td = ev.target.closest("td.cell");
  if (td && td.dataset.source && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); loadPlan(td.dataset.source, td.dataset.destination); }
});

$("#clear").addEventListener("click", () => { $("#traffic").textContent = ""; });
$("#abi-reload").addEventListener("click", () => { if (selected !== null) loadABI(selected); });
$("#replies").addEventListener("click", async (ev) => {
  ev.preventDefault();
  if (selected === null) return;
  const r = await fetch("/api/v1/instances/" + selected + "/transcript.replies", {headers});
  if (!r.ok) return;
  const name = (r.headers.get("Content-Disposition") || "").replace(/.*filename="([^"]+)".*/, "$1") || "qmp.replies";
  const url = URL.createObjectURL(await r.blob());
  const link = el("a"); link.href = url; link.download = name; link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
});
loadInstances().finally(connect);
loadProfiles();
if (view !== "instances") show(view);
</script>
</body>
</html>
"""
