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

// eventRow makes a table row of an event; a click shows its details.
function eventRow(ev, detail) {
  const tr = document.createElement("tr");
  tr.dataset.id = ev.id;
  const result = ev.result + (ev.reason ? " (" + ev.reason + ")" : "");
  for (const v of [utc(ev.time), ev.action, result, who(ev), ev.file ? ev.file.name || ev.file.id : "",
    ev.link ? ev.link.id : "", ev.client ? ev.client.ip : "", where(ev)]) {
    tr.appendChild(text("td", v));
  }
  tr.addEventListener("click", () => showDetail(detail, ev));
  return tr;
}

function showDetail(el, ev) {
  const g = ev.geo || {}, p = ev.platform || {}, s = ev.session || {};
  el.textContent =
    "Where:    " + [g.city, g.subdivision, g.country_name].filter(Boolean).join(", ") + (g.latitude != null ? "  (" + g.latitude + ", " + g.longitude + ")" : "") + "\n" +
    "Platform: " + [p.client_name, p.client_version].filter(Boolean).join(" ") + " on " + [p.os_name, p.os_version].filter(Boolean).join(" ") + (p.device_type ? " (" + p.device_type + ")" : "") + "\n" +
    "Session:  " + (s.link_session_id || "—") + (s.seq ? "  event " + s.seq : "") + "\n" +
    "Client:   " + (ev.client ? ev.client.ip + "  " + (ev.client.user_agent || "") : "") + "\n\n" +
    JSON.stringify(ev, null, 2);
  el.hidden = false;
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
  token = "";
  if (live.ws) live.ws.close();
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
  body.insertBefore(eventRow(ev, $("live-detail")), body.firstChild);
  while (body.children.length > MAX_LIVE_ROWS) body.lastChild.remove();
}

$("live-filter").addEventListener("submit", (e) => {
  e.preventDefault();
  live.params = formParams(e.target);
  $("live-rows").replaceChildren();
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

async function loadLog() {
  logState.loaded = true;
  const q = formParams($("log-filter"));
  const cursor = logState.cursors[logState.page];
  if (cursor) q.set("cursor", cursor);
  try {
    const page = await (await api("/v1/events?" + q)).json();
    const body = $("log-rows");
    body.replaceChildren(...page.events.map((ev) => eventRow(ev, $("log-detail"))));
    logState.cursors[logState.page + 1] = page.next_cursor || "";
    $("log-older").disabled = !page.next_cursor;
    $("log-newer").disabled = logState.page === 0;
    $("log-page").textContent = "page " + (logState.page + 1) + " · " + page.events.length + " events";
    $("log-error").textContent = "";
  } catch (err) {
    $("log-error").textContent = err.message;
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

// chart draws opens and downloads per day as paired bars (inline SVG).
function chart(days) {
  const ns = "http://www.w3.org/2000/svg";
  const el = (tag, attrs) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const w = Math.max(320, days.length * 28 + 40), h = 160, base = 130;
  const svg = el("svg", { width: w, height: h, role: "img", "aria-label": "opens and downloads per day", id: "activity-chart" });
  const top = Math.max(1, ...days.map((d) => Math.max(d.opens, d.downloads)));
  days.forEach((d, i) => {
    const x = 30 + i * 28;
    for (const [k, dx] of [["opens", 0], ["downloads", 11]]) {
      const bh = Math.round((d[k] / top) * 110);
      const r = el("rect", { x: x + dx, y: base - bh, width: 10, height: bh, class: k });
      r.appendChild(el("title", {})).textContent = d.date + ": " + d[k] + " " + k;
      svg.appendChild(r);
    }
    svg.appendChild(el("text", { x, y: base + 14 })).textContent = d.date.slice(5);
  });
  svg.appendChild(el("text", { x: 0, y: 12 })).textContent = String(top);
  const legend = el("text", { x: w - 150, y: 12 });
  legend.textContent = "■ opens  ■ downloads";
  svg.appendChild(legend);
  return svg;
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
  for (const v of [a.rule, a.subject, a.count, a.summary]) tr.appendChild(text("td", v));
  const link = document.createElement("td");
  if (ev.link) {
    const l = text("a", ev.link.id);
    l.href = "#/link/" + encodeURIComponent(ev.link.id);
    link.appendChild(l);
  }
  tr.appendChild(link);
  if (onTop) body.insertBefore(tr, body.firstChild); else body.appendChild(tr);
}

if (token) {
  $("who").textContent = "logged in";
}
route();
