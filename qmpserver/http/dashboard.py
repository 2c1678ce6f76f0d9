"""The dashboard page: instances, their guest ABI and live QMP traffic (one self-contained HTML document).

It holds no data: the script reads ``/api/v1/instances`` (the selected
instance's ``guest-abi`` from ``/api/v1/instances/{id}``) and the WebSocket
``/api/v1/ws``.  With a bearer token, open it as ``/#token=TOKEN`` (kept in
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
  #tools { display:flex; gap:.5em; padding:0 1em .6em; align-items:center; }
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
</style>
</head>
<body>
<header>
  <h1>qmpserver</h1>
  <span id="status">connecting…</span>
  <span id="count"></span>
</header>
<main>
  <section>
    <h2>Instances</h2>
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
    <h2 id="traffic-title">Traffic</h2>
    <div id="tools">
      <label><input type="checkbox" id="show-events" checked> events</label>
      <button id="clear">clear view</button>
      <a id="replies" href="#" download style="color:var(--in)"></a>
    </div>
    <div id="traffic"><div class="empty">Select an instance to see its QMP traffic live.</div></div>
  </section>
</main>
<script>
"use strict";
const hash = new URLSearchParams(location.hash.slice(1));
if (hash.get("token")) { sessionStorage.setItem("qmpserver-token", hash.get("token")); history.replaceState(null, "", location.pathname); }
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

function select(id) {
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
</script>
</body>
</html>
"""
