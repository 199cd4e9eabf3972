// sharelog console: a client of the public API. Every value from an event
// is written with textContent, never as HTML.
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "sharelog.token";
const MAX_LIVE_ROWS = 500;

let token = sessionStorage.getItem(TOKEN_KEY) || "";

// api fetches an API path with the token; it throws an Error carrying the
// API's own message on a non-2xx answer, and logs out on 401.
async function api(path, opts = {}) {
  const resp = await fetch(path, { ...opts, headers: { ...(opts.headers || {}), Authorization: "Bearer " + token } });
  if (!resp.ok) {
    let msg = resp.status + " " + resp.statusText;
    try { msg = (await resp.json()).error || msg; } catch (_) { /* not JSON */ }
    if (resp.status === 401) { logout(msg); }
    throw new Error(msg);
  }
  return resp;
}

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value == null ? "" : String(value);
  if (cls) el.className = cls;
  return el;
}

function utc(t) { return t ? String(t).replace("T", " ").replace(/\.\d+/, "").replace("Z", "") : ""; }

function who(ev) {
  const a = ev.actor || {};
  if (a.type === "system") return "system";
  return a.email || a.api_key_id || (a.visitor_email ? a.visitor_email + " (visitor)" : "anonymous");
}

function where(ev) {
  const g = ev.geo;
  if (!g) return "";
  return [g.city, g.country_code].filter(Boolean).join(", ");
}

// ---- workspaces seen
//
// The Workspace column is shown once the events this tab has shown come from
// more than one workspace: only a token of several workspaces (or "*") can
// see such events, and for a single-workspace token the column would repeat
// one value. The API does not say which workspaces a token may read.
const WS_KEY = "sharelog.workspaces";
const seenWS = new Set(JSON.parse(sessionStorage.getItem(WS_KEY) || "[]"));

function noteWorkspace(ev) {
  const ws = ev.workspace && ev.workspace.id;
  if (!ws || seenWS.has(ws)) return;
  seenWS.add(ws);
  sessionStorage.setItem(WS_KEY, JSON.stringify([...seenWS]));
  showWorkspaces();
}

function showWorkspaces() {
  document.body.classList.toggle("multi-ws", seenWS.size > 1);
}

// eventRow makes a table row of an event; a click opens its details in the
// side panel of the view ("live" or "log").
function eventRow(ev, view) {
  noteWorkspace(ev);
  const tr = document.createElement("tr");
  tr.dataset.id = ev.id;
  const result = ev.result + (ev.reason ? " (" + ev.reason + ")" : "");
  const ws = ev.workspace ? ev.workspace.name || ev.workspace.id : "";
  for (const [cls, v] of [["c-time", utc(ev.time)], ["c-action", ev.action], ["c-result", result], ["c-ws", ws], ["c-who", who(ev)],
    ["c-file", ev.file ? ev.file.name || ev.file.id : ""], ["c-link", ev.link ? ev.link.id : ""],
    ["c-ip", ev.client ? ev.client.ip : ""], ["c-where", where(ev)]]) {
    const td = text("td", v, cls);
    td.title = td.textContent; // the whole value when the cell is cut
    tr.appendChild(td);
  }
  tr.addEventListener("click", () => {
    if (tr.classList.contains("selected")) closePanel(view); else openPanel(view, ev, tr);
  });
  return tr;
}

// syncEmpty shows a view's table when it has rows, else its empty state.
function syncEmpty(view, message) {
  const has = $(view + "-rows").children.length > 0;
  $(view + "-table").hidden = !has;
  $(view + "-empty").hidden = has;
  if (message) $(view + "-empty").textContent = message;
}

// openPanel shows an event's details in the side panel beside its row: the
// panel's top is put level with the row, moved up as far as needed for the
// panel to end inside the window.
function openPanel(view, ev, tr) {
  const panel = $(view + "-panel");
  for (const r of $(view + "-rows").querySelectorAll("tr.selected")) r.classList.remove("selected");
  tr.classList.add("selected");
  showDetail($(view + "-detail"), ev);
  panel.hidden = false;
  $(view + "-split").classList.add("open");
  panel.style.marginTop = "0px";
  const box = $(view + "-split").getBoundingClientRect(), row = tr.getBoundingClientRect();
  const top = Math.max(8, Math.min(row.top, window.innerHeight - panel.offsetHeight - 8));
  panel.style.marginTop = Math.max(0, Math.round(top - box.top)) + "px";
  // The page starts too low for the panel to end inside the window: scroll
  // it up, at most as far as keeps the panel's top (and the row) in view.
  const b = panel.getBoundingClientRect();
  if (b.bottom > window.innerHeight) window.scrollBy(0, Math.min(b.bottom - window.innerHeight + 8, b.top - 8));
}

function closePanel(view) {
  $(view + "-panel").hidden = true;
  $(view + "-split").classList.remove("open");
  for (const r of $(view + "-rows").querySelectorAll("tr.selected")) r.classList.remove("selected");
}

for (const view of ["live", "log"]) {
  $(view + "-panel").querySelector(".panel-close").addEventListener("click", () => closePanel(view));
}
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") { closePanel("live"); closePanel("log"); }
});

function showDetail(el, ev) {
  const g = ev.geo || {}, p = ev.platform || {}, s = ev.session || {};
  el.textContent =
    "Workspace: " + (ev.workspace ? ev.workspace.id + (ev.workspace.name ? " (" + ev.workspace.name + ")" : "") : "") + "\n" +
    "Where:    " + [g.city, g.subdivision, g.country_name].filter(Boolean).join(", ") + (g.latitude != null ? "  (" + g.latitude + ", " + g.longitude + ")" : "") + "\n" +
    "Platform: " + [p.client_name, p.client_version].filter(Boolean).join(" ") + " on " + [p.os_name, p.os_version].filter(Boolean).join(" ") + (p.device_type ? " (" + p.device_type + ")" : "") + "\n" +
    "Session:  " + (s.link_session_id || "—") + (s.seq ? "  event " + s.seq : "") + "\n" +
    "Client:   " + (ev.client ? ev.client.ip + "  " + (ev.client.user_agent || "") : "") + "\n\n" +
    JSON.stringify(ev, null, 2);
}

// formParams turns a form's non-empty fields into URLSearchParams.
function formParams(form, skip = []) {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) {
    if (!skip.includes(k) && String(v).trim() !== "") q.set(k, String(v).trim());
  }
  return q;
}

// ---- login and routing

async function login(t) {
  token = t;
  const resp = await api("/v1/events?limit=1");
  await resp.json();
  sessionStorage.setItem(TOKEN_KEY, t);
}

function logout(msg) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(WS_KEY);
  seenWS.clear();
  showWorkspaces();
  token = "";
  if (live.ws) live.ws.close();
  // Nothing the token read stays on the page.
  for (const view of ["live", "log"]) {
    closePanel(view);
    $(view + "-rows").replaceChildren();
    $(view + "-detail").textContent = "";
  }
  syncEmpty("live", "Waiting for events… New events appear here as they arrive.");
  syncEmpty("log", "Loading…");
  live.lastID = "";
  live.pending = [];
  logState.loaded = false;
  logState.cursors = [""];
  logState.page = 0;
  $("alerts-rows").replaceChildren();
  $("link-report").hidden = true;
  $("login-error").textContent = msg || "";
  location.hash = "#/login";
  route();
}

const pages = ["login", "live", "log", "link", "alerts"];

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  let page = pages.includes(parts[0]) ? parts[0] : "live";
  if (!token) page = "login";
  for (const p of pages) $("page-" + p).hidden = p !== page;
  $("nav").hidden = !token;
  $("logout").hidden = !token;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  if (page === "live") live.connect();
  if (page === "log" && !logState.loaded) loadLog();
  if (page === "link" && parts[1]) { $("link-id").value = decodeURIComponent(parts[1]); loadLink(); }
  if (page === "alerts") loadAlerts();
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await login($("login-token").value.trim());
    $("login-error").textContent = "";
    $("login-token").value = "";
    location.hash = "#/live";
    route();
  } catch (err) {
    token = "";
    $("login-error").textContent = err.message;
  }
});
$("logout").addEventListener("click", () => logout(""));
window.addEventListener("hashchange", route);

// ---- live stream

const live = {
  ws: null, connecting: false, lastID: "", paused: false, pending: [], params: new URLSearchParams(), retry: null,

  // connect opens the stream unless one is open or being opened.
  async connect() {
    if (!token || this.connecting || (this.ws && this.ws.readyState <= 1)) return;
    this.connecting = true;
    clearTimeout(this.retry);
    let ticket;
    try {
      ticket = (await (await api("/v1/stream/tickets", { method: "POST" })).json()).ticket;
    } catch (err) {
      $("live-error").textContent = err.message;
      this.connecting = false;
      return;
    }
    const q = new URLSearchParams(this.params);
    q.set("ticket", ticket);
    if (this.lastID) q.set("last_event_id", this.lastID);
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(proto + "//" + location.host + "/v1/stream?" + q);
    this.ws = ws;
    this.connecting = false;
    ws.onopen = () => {
      setStatus("live", "open");
      $("live-status").title = ws.extensions ? "compressed (" + ws.extensions + ")" : "uncompressed";
      $("live-error").textContent = "";
    };
    ws.onmessage = (m) => this.message(JSON.parse(m.data));
    ws.onclose = (e) => {
      setStatus(e.reason ? "closed: " + e.reason : "disconnected", "closed");
      if (this.ws === ws) this.ws = null;
      if (token) this.retry = setTimeout(() => this.connect(), 2000);
    };
  },

  message(m) {
    if (m.type === "events") {
      for (const ev of m.events) {
        this.lastID = ev.id;
        if (ev.action === "alert.raised") addAlertRow(ev, true);
        if (this.paused) this.pending.push(ev); else addLiveRow(ev);
      }
      $("live-pending").textContent = this.paused && this.pending.length ? this.pending.length + " new" : "";
    } else if (m.type === "error") {
      $("live-error").textContent = m.error;
    } else if (m.type === "gap") {
      $("live-error").textContent = m.message;
    } else if (m.type === "filter") {
      $("live-error").textContent = "";
    }
  },
};

function setStatus(label, cls) {
  const el = $("live-status");
  el.textContent = label;
  el.className = "status " + cls;
}

function addLiveRow(ev) {
  const body = $("live-rows");
  body.insertBefore(eventRow(ev, "live"), body.firstChild);
  while (body.children.length > MAX_LIVE_ROWS) body.lastChild.remove();
  syncEmpty("live");
}

$("live-filter").addEventListener("submit", (e) => {
  e.preventDefault();
  live.params = formParams(e.target);
  $("live-rows").replaceChildren();
  closePanel("live");
  syncEmpty("live", live.params.size ? "Waiting for events that match the filter…" : "Waiting for events… New events appear here as they arrive.");
  if (live.ws && live.ws.readyState === 1) {
    live.ws.send(JSON.stringify({ type: "filter", params: live.params.toString() }));
  } else {
    live.connect();
  }
});
$("live-pause").addEventListener("click", () => {
  live.paused = !live.paused;
  $("live-pause").textContent = live.paused ? "Resume" : "Pause";
  if (!live.paused) {
    for (const ev of live.pending) addLiveRow(ev);
    live.pending = [];
    $("live-pending").textContent = "";
  }
});

// ---- access log

const logState = { loaded: false, cursors: [""], page: 0 };

// Loads can overlap (a page opened, then a filter submitted at once): each
// has a number, only the newest draws the table, and the table is
// aria-busy until it has.
async function loadLog() {
  logState.loaded = true;
  const seq = (logState.seq || 0) + 1;
  logState.seq = seq;
  $("log-rows").setAttribute("aria-busy", "true");
  const q = formParams($("log-filter"));
  const cursor = logState.cursors[logState.page];
  if (cursor) q.set("cursor", cursor);
  try {
    const page = await (await api("/v1/events?" + q)).json();
    if (seq !== logState.seq) return; // a newer load draws the table
    const body = $("log-rows");
    body.replaceChildren(...page.events.map((ev) => eventRow(ev, "log")));
    closePanel("log");
    syncEmpty("log", "No events match these filters.");
    logState.cursors[logState.page + 1] = page.next_cursor || "";
    $("log-older").disabled = !page.next_cursor;
    $("log-newer").disabled = logState.page === 0;
    $("log-page").textContent = "page " + (logState.page + 1) + " · " + page.events.length + " events";
    $("log-error").textContent = "";
  } catch (err) {
    if (seq !== logState.seq) return;
    $("log-error").textContent = err.message;
    $("log-empty").textContent = "";
  } finally {
    if (seq === logState.seq) $("log-rows").removeAttribute("aria-busy");
  }
}

$("log-filter").addEventListener("submit", (e) => {
  e.preventDefault();
  logState.cursors = [""];
  logState.page = 0;
  loadLog();
});
$("log-older").addEventListener("click", () => { logState.page++; loadLog(); });
$("log-newer").addEventListener("click", () => { logState.page = Math.max(0, logState.page - 1); loadLog(); });

// exportCSV downloads the access log or audit log CSV of the current
// filters: fetched with the token, saved from a Blob.
async function exportCSV(shape) {
  const q = formParams($("log-filter"), ["limit"]);
  q.set("format", "csv");
  q.set("shape", shape);
  try {
    const resp = await api("/v1/events?" + q);
    const blob = await resp.blob();
    const cd = resp.headers.get("Content-Disposition") || "";
    const m = /filename="?([^";]+)"?/.exec(cd);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = m ? m[1] : shape + ".csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (err) {
    $("log-error").textContent = err.message;
  }
}
$("export-access").addEventListener("click", () => exportCSV("access"));
$("export-audit").addEventListener("click", () => exportCSV("audit"));

// ---- link activity

async function loadLink() {
  const id = $("link-id").value.trim();
  if (!id) return;
  const q = formParams($("link-form"));
  try {
    const r = await (await api("/v1/links/" + encodeURIComponent(id) + "/activity?" + q)).json();
    const dl = $("link-counts");
    dl.replaceChildren();
    for (const [k, v] of [["Opens", r.opens], ["Views", r.views], ["Downloads", r.downloads], ["Saves", r.saves],
      ["Failed passwords", r.failed_passwords], ["Blocked", r.blocked], ["Unique visitors", r.unique_visitors], ["Sessions", r.sessions],
      ["First access", utc(r.first_access)], ["Last access", utc(r.last_access)], ["Workspace", r.workspace_id]]) {
      dl.appendChild(text("dt", k));
      dl.appendChild(text("dd", v, "count-" + k.toLowerCase().replace(/ /g, "-")));
    }
    $("link-chart").replaceChildren(chart(r.days || []));
    $("link-countries").replaceChildren(...(r.countries || []).map((c) => text("li", (c.name || c.code) + " (" + c.code + "): " + c.count)));
    $("link-status").replaceChildren(...(r.status || []).map((s) => text("li", utc(s.time) + "  " + s.action + "  by " + s.actor)));
    $("link-report").hidden = false;
    $("link-error").textContent = "";
  } catch (err) {
    $("link-report").hidden = true;
    $("link-error").textContent = err.message;
  }
}

// The chart's two series: the per-day counters of the activity report.
const SERIES = [["opens", "Opens"], ["downloads", "Downloads"]];

// chart draws opens and downloads per day as paired bars (inline SVG, as
// wide as the page allows) under a legend naming both series in their
// colours (style.css: .opens, .downloads).
function chart(days) {
  const ns = "http://www.w3.org/2000/svg";
  const el = (tag, attrs) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const legend = document.createElement("ul");
  legend.className = "legend";
  legend.id = "chart-legend";
  for (const [k, label] of SERIES) {
    const li = document.createElement("li");
    li.dataset.series = k;
    li.appendChild(text("span", "", "swatch " + k));
    li.appendChild(document.createTextNode(label));
    legend.appendChild(li);
  }
  const w = Math.max(320, days.length * 28 + 40), h = 160, base = 130;
  const svg = el("svg", { viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img", "aria-label": "opens and downloads per day", id: "activity-chart" });
  const top = Math.max(1, ...days.map((d) => Math.max(d.opens, d.downloads)));
  svg.appendChild(el("line", { x1: 28, y1: base, x2: w, y2: base, class: "axis" }));
  days.forEach((d, i) => {
    const x = 30 + i * 28;
    SERIES.forEach(([k], j) => {
      const bh = Math.round((d[k] / top) * 110);
      const r = el("rect", { x: x + j * 11, y: base - bh, width: 10, height: bh, class: k });
      r.appendChild(el("title", {})).textContent = d.date + ": " + d[k] + " " + k;
      svg.appendChild(r);
    });
    svg.appendChild(el("text", { x, y: base + 14 })).textContent = d.date.slice(5);
  });
  svg.appendChild(el("text", { x: 0, y: 12 })).textContent = String(top);
  svg.appendChild(el("text", { x: 0, y: base })).textContent = "0";
  const frag = document.createDocumentFragment();
  frag.append(legend, svg);
  return frag;
}

$("link-form").addEventListener("submit", (e) => {
  e.preventDefault();
  location.hash = "#/link/" + encodeURIComponent($("link-id").value.trim());
});

// ---- alerts

async function loadAlerts() {
  try {
    const page = await (await api("/v1/events?action=alert.raised&limit=200")).json();
    $("alerts-rows").replaceChildren();
    for (const ev of page.events.reverse()) addAlertRow(ev, true);
    syncAlertsEmpty();
    $("alerts-error").textContent = "";
  } catch (err) {
    $("alerts-error").textContent = err.message;
  }
}

function addAlertRow(ev, onTop) {
  const a = ev.alert || {};
  const body = $("alerts-rows");
  if (body.querySelector('tr[data-id="' + CSS.escape(ev.id) + '"]')) return;
  const tr = document.createElement("tr");
  tr.dataset.id = ev.id;
  tr.appendChild(text("td", utc(ev.time)));
  const sev = document.createElement("td");
  sev.appendChild(text("span", a.severity, "sev sev-" + a.severity));
  tr.appendChild(sev);
  for (const [cls, v] of [["c-rule", a.rule], ["c-subject", a.subject], ["c-count", a.count], ["c-summary", a.summary]]) {
    const td = text("td", v, cls);
    td.title = td.textContent;
    tr.appendChild(td);
  }
  const link = document.createElement("td");
  link.className = "c-link";
  if (ev.link) {
    const l = text("a", ev.link.id);
    l.href = "#/link/" + encodeURIComponent(ev.link.id);
    link.appendChild(l);
  }
  tr.appendChild(link);
  if (onTop) body.insertBefore(tr, body.firstChild); else body.appendChild(tr);
  syncAlertsEmpty();
}

function syncAlertsEmpty() {
  const has = $("alerts-rows").children.length > 0;
  $("alerts-table").hidden = !has;
  $("alerts-empty").hidden = has;
}

if (token) {
  $("who").textContent = "logged in";
}
showWorkspaces();
route();
