// The web console's script: one page, a view per location hash, every figure read from the
// admin API (/v1/admin/..., /v1/network/...) with the login's cookie. Text from the node is set
// as text, never as HTML: a system_id or a message may hold anything.

import { RateChart, formatRate } from "./chart.js";

const view = document.getElementById("view");
const notice = document.getElementById("notice");
let leaving = []; // what the current view must stop (event streams, timers) when left

// ---- small helpers ---------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let generation = 0; // bumped at each navigation: a view's late answers must not land on the next

function say(message) {
  notice.textContent = message || "";
  notice.hidden = !message;
}

// The current view's show() and say(): inert once the operator has moved on.
function screen() {
  const mine = generation;
  const alive = () => mine === generation;
  return {
    alive,
    show: (...nodes) => { if (alive()) view.replaceChildren(...nodes); },
    say: (message) => { if (alive()) say(message); },
  };
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    window.location.assign("/console/login");
    throw new ApiError(401, { detail: "logged out" });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!response.ok) throw new ApiError(response.status, data || {});
  return data;
}

// A time in UTC, as the node logs it; to the millisecond where events follow each other fast.
function when(iso, precise = false) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toISOString().replace("T", " ").slice(0, precise ? 23 : 19);
}

function table(columns, rows, empty = "none") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.label)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) =>
      h("td", { class: c.num ? "num" : null }, c.cell(row)))))));
}

function bar(used, size) {
  const share = size ? Math.min(1, used / size) : 0;
  const inner = h("i");
  inner.style.width = `${Math.round(share * 100)}%`;
  return h("span", {}, h("span", { class: "bar" }, inner), `${used}/${size}`);
}

function asValue(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

// ---- overview --------------------------------------------------------------------------------

async function overview() {
  const ui = screen();
  const rateIn = h("span", { class: "value", id: "rate-in" }, "–");
  const rateOut = h("span", { class: "value", id: "rate-out" }, "–");
  const receipts = h("span", { class: "value", id: "receipts-waiting" }, "–");
  const webhooks = h("span", { class: "value", id: "webhooks-waiting" }, "–");
  const live = h("span", { class: "live", id: "live" }, "connecting…");
  const canvas = h("canvas", { id: "chart" });
  const queue = h("div", { id: "queue" });
  const sessions = h("div", { id: "sessions" });
  const connectors = h("div", { id: "connectors" });
  const errors = h("div", { id: "errors" });
  ui.show(
    h("div", { class: "tiles" },
      h("div", { class: "tile in" }, rateIn, h("div", { class: "label" }, "messages/s in")),
      h("div", { class: "tile out" }, rateOut, h("div", { class: "label" }, "messages/s out")),
      h("div", { class: "tile" }, receipts, h("div", { class: "label" }, "receipts waiting")),
      h("div", { class: "tile" }, webhooks, h("div", { class: "label" }, "webhooks waiting"))),
    h("h2", {}, "The last hour ", live),
    canvas,
    h("div", { class: "legend" }, h("span", { class: "in" }, "— in"), h("span", { class: "out" }, "— out")),
    h("h2", {}, "Queue by state"), queue,
    h("h2", {}, "Bound sessions"), sessions,
    h("h2", {}, "Connectors"), connectors,
    h("h2", {}, "Errors by status"), errors,
  );
  const chart = new RateChart(canvas);
  chart.draw(); // the axes, before any figure
  const redraw = () => chart.draw();
  window.addEventListener("resize", redraw);
  leaving.push(() => window.removeEventListener("resize", redraw));

  const render = (status) => {
    document.getElementById("node").textContent =
      `${status.node} ${status.version}${status.draining ? " (draining)" : ""}`;
    rateIn.textContent = formatRate(status.rates.in_per_s);
    rateOut.textContent = formatRate(status.rates.out_per_s);
    receipts.textContent = status.receipts_waiting;
    webhooks.textContent = status.webhooks_waiting;
    const byCount = (object) => Object.entries(object || {}).map(([name, count]) => ({ name, count }));
    queue.replaceChildren(table(
      [{ label: "state", cell: (r) => r.name }, { label: "messages", num: true, cell: (r) => r.count }],
      byCount(status.queue), "empty"));
    sessions.replaceChildren(table([
      { label: "system_id", cell: (s) => h("a", { href: `#/session/${encodeURIComponent(s.id)}`, class: "session-link", title: "its PDUs, live" }, s.system_id) },
      { label: "mode", cell: (s) => s.mode },
      { label: "door", cell: (s) => s.door },
      { label: "address", cell: (s) => s.address },
      { label: "bound at", cell: (s) => when(s.bound_at) },
      { label: "window", cell: (s) => bar(s.window_used, s.window) },
      { label: "msg/s", num: true, cell: (s) => formatRate(s.throughput_per_s) },
      { label: "submitted", num: true, cell: (s) => s.submitted },
      { label: "delivered", num: true, cell: (s) => s.delivered },
    ], status.sessions || [], "no session bound"));
    connectors.replaceChildren(table([
      { label: "name", cell: (c) => c.name },
      { label: "state", cell: (c) => h("span", { class: `state-${c.state}` }, c.state) },
      { label: "window", cell: (c) => bar(c.window_used, c.window) },
      { label: "sent", num: true, cell: (c) => c.sent },
      { label: "failed", num: true, cell: (c) => c.failed },
      { label: "last error", cell: (c) => c.last_error || "" },
    ], status.connectors || [], "no connector"));
    errors.replaceChildren(table(
      [{ label: "status", cell: (r) => r.name }, { label: "count", num: true, cell: (r) => r.count }],
      byCount(status.errors), "no error"));
  };

  try {
    const history = await api("GET", "/v1/admin/history?minutes=60");
    chart.setPoints(history.points || []);
    render(await api("GET", "/v1/admin/status"));
  } catch (error) {
    ui.say(`The overview: ${error.message}`);
  }
  if (!ui.alive()) return; // left while loading: no stream for a page no one sees

  const events = new EventSource("/v1/admin/events");
  leaving.push(() => events.close());
  events.addEventListener("open", () => { live.textContent = "live"; live.className = "live on"; });
  events.addEventListener("error", async () => {
    live.textContent = "reconnecting…";
    live.className = "live off";
    // A closed stream after a 401 does not retry by itself: find out whether we were logged out.
    if (events.readyState === EventSource.CLOSED) {
      try { await api("GET", "/v1/admin/status"); } catch { /* api() went to the login */ }
    }
  });
  events.addEventListener("status", (event) => {
    const status = JSON.parse(event.data);
    render(status);
    chart.add(new Date().toISOString(), status.rates.in_per_s, status.rates.out_per_s);
  });
}

// ---- one session's PDUs, live ---------------------------------------------------------------

const TAIL_ROWS = 500; // the oldest go: a busy session sends hundreds a second

async function session(id) {
  const ui = screen();
  const rows = h("tbody", { id: "tail" });
  const live = h("span", { class: "live", id: "live" }, "connecting…");
  ui.show(
    h("h2", {}, "Session ", h("code", {}, id), " ", live),
    h("p", { class: "muted" }, "Every PDU in and out, decoded as opensmsc decode does; newest first."),
    h("table", {}, h("thead", {}, h("tr", {}, ["at", "", "command", "sequence", "status", "fields"].map((c) => h("th", {}, c)))), rows),
  );
  const events = new EventSource(`/v1/admin/sessions/${encodeURIComponent(id)}/tail`);
  leaving.push(() => events.close());
  events.addEventListener("open", () => { live.textContent = "live"; live.className = "live on"; });
  events.addEventListener("error", () => {
    live.textContent = events.readyState === EventSource.CLOSED ? "ended" : "reconnecting…";
    live.className = "live off";
  });
  events.addEventListener("pdu", (event) => {
    const pdu = JSON.parse(event.data);
    rows.prepend(h("tr", {},
      h("td", {}, when(pdu.at)),
      h("td", {}, pdu.direction === "in" ? "→" : "←"),
      h("td", {}, pdu.command),
      h("td", { class: "num" }, pdu.sequence),
      h("td", { class: "num" }, `0x${Number(pdu.status).toString(16).padStart(8, "0")}`),
      h("td", {}, h("code", { title: pdu.hex }, JSON.stringify(pdu.fields || {})))));
    while (rows.children.length > TAIL_ROWS) rows.lastChild.remove();
  });
}

// ---- messages --------------------------------------------------------------------------------

const FILTERS = ["account", "source", "destination", "state", "since", "until"];

async function messages(query) {
  const ui = screen();
  const inputs = Object.fromEntries(FILTERS.map((name) =>
    [name, h("input", { name, id: `filter-${name}`, value: query.get(name) || "",
      placeholder: name === "since" || name === "until" ? "2026-01-01T00:00:00Z" : "" })]));
  const results = h("div", { id: "results" });
  const form = h("form", { class: "filters", id: "message-filters", onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of FILTERS) if (inputs[name].value.trim()) next.set(name, inputs[name].value.trim());
    window.location.hash = `#/messages?${next}`;
  } },
  FILTERS.map((name) => h("label", {}, name, inputs[name])),
  h("button", { type: "submit", id: "search" }, "Search"));
  ui.show(form, results);

  const load = async (cursor, rows) => {
    const params = new URLSearchParams();
    for (const name of FILTERS) if (query.get(name)) params.set(name, query.get(name));
    params.set("limit", "100");
    if (cursor) params.set("cursor", cursor);
    let page;
    try {
      page = await api("GET", `/v1/admin/messages?${params}`);
    } catch (error) {
      results.replaceChildren();
      showErrors(form, error);
      return;
    }
    rows.push(...page.messages);
    results.replaceChildren(
      table([
        { label: "id", cell: (m) => h("a", { href: `#/message/${encodeURIComponent(m.id)}`, class: "message-link" }, m.id) },
        { label: "account", cell: (m) => m.account },
        { label: "source", cell: (m) => m.source },
        { label: "destination", cell: (m) => m.destination },
        { label: "state", cell: (m) => m.state },
        { label: "submitted", cell: (m) => when(m.submitted_at) },
        { label: "updated", cell: (m) => when(m.updated_at) },
        { label: "attempts", num: true, cell: (m) => m.attempts },
        { label: "route", cell: (m) => m.route || "" },
        { label: "error", cell: (m) => m.error || "" },
      ], rows, "no message matches"),
      page.next_cursor
        ? h("button", { id: "more", onclick: () => load(page.next_cursor, rows) }, "More")
        : "",
    );
  };
  await load(null, []);
}

async function message(id) {
  const ui = screen();
  const path = `/v1/admin/messages/${encodeURIComponent(id)}`;
  let found, trail;
  try {
    [found, trail] = await Promise.all([api("GET", path), api("GET", `${path}/trail`).catch((e) => e)]);
  } catch (error) {
    ui.show(h("p", { class: "error" }, error.message), h("a", { href: "#/messages" }, "Back to the search"));
    return;
  }
  const action = (verb) => h("button", { id: `message-${verb}`, onclick: async () => {
    try { await api("POST", `${path}/${verb}`); ui.say(""); route(); } catch (error) { ui.say(error.message); }
  } }, verb);
  const fields = Object.entries(found);
  // The timeline first: "what happened to it" is why one opens a message.
  ui.show(
    h("h2", {}, "Message ", h("code", {}, found.id), " ", h("span", { id: "message-state" }, found.state)),
    h("p", {}, action("cancel"), " ", action("retry"), " ", action("expire")),
    h("h2", {}, "Timeline", trail && trail.trace_id ? h("span", { class: "muted" }, ` trace ${trail.trace_id}`) : ""),
    trail instanceof Error
      ? h("p", { class: "error" }, trail.message)
      : h("ol", { class: "timeline", id: "timeline" }, (trail.events || []).map((event) =>
        h("li", {}, h("span", { class: "muted" }, when(event.at, true)), h("span", { class: "kind" }, event.kind),
          h("code", {}, Object.keys(event.detail || {}).length ? JSON.stringify(event.detail) : "")))),
    h("h2", {}, "Fields"),
    h("dl", { class: "fields" }, fields.flatMap(([key, value]) => [h("dt", {}, key), h("dd", {}, asValue(value))])),
  );
}

// ---- accounts, connectors, routes ------------------------------------------------------------

// The key that names an item of each kind in /v1/admin/{kind}/{name}.
const NAME_KEYS = { accounts: "system_id", connectors: "name", routes: "prefix" };
const READ_ONLY = new Set(["enabled", "source"]);
// The keys a new item is offered even when the kind has none yet (docs/configuration.md), with
// a value of their type: "4477" typed as a prefix is text, typed as a port a number. Any other
// key goes in the form's free row, read as JSON when it parses ("\"4477\"" for text).
const NEW_FIELDS = {
  accounts: { system_id: "", password_hash: "", networks: [], throughput: 0, window: 0 },
  connectors: { name: "", host: "", port: 0, system_id: "", password: "", bind: "" },
  routes: { prefix: "", route: "" },
};
// The columns of each kind's list; every other key is in the item's form.
const SUMMARY = {
  accounts: ["system_id", "enabled", "source", "networks", "throughput", "window", "default_route"],
  connectors: ["name", "enabled", "source", "host", "port", "tls", "system_id", "bind", "window"],
  routes: ["prefix", "route", "enabled", "source"],
};

function nameOf(kind, item) {
  return item[NAME_KEYS[kind]] ?? item.name ?? item.id;
}

// The value typed in a field, as the JSON the API takes: text for what was text, else JSON.
function parseField(text, example) {
  if (text.trim() === "") return null;
  if (typeof example === "string") return text;
  try { return JSON.parse(text); } catch { return text; }
}

// Puts each of a 422's errors next to its field; what names no field goes to the form's foot.
function showErrors(form, error) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  const problem = error.problem || {};
  // A 422 lists its errors; a 400 about one parameter names it in `field`.
  const errors = Array.isArray(problem.errors) ? problem.errors
    : problem.field ? [{ key: problem.field, message: problem.detail || error.message }] : [];
  const rest = [];
  for (const item of errors) {
    const key = item.key ?? (Array.isArray(item.location) ? item.location.at(-1) : undefined);
    const message = item.message || item.msg || JSON.stringify(item);
    const last = typeof key === "string" ? key.split(/[.[\]]/).filter(Boolean).at(-1) : key;
    const input = form.querySelector(`[name="${CSS.escape(String(key))}"]`) ||
      (last !== undefined && form.querySelector(`[name="${CSS.escape(String(last))}"]`));
    if (input) input.closest("label").append(h("span", { class: "field-error", "data-key": String(key) }, message));
    else rest.push(key === undefined ? message : `${key}: ${message}`);
  }
  if (!errors.length) rest.push(error.message);
  if (rest.length) form.append(h("span", { class: "field-error" }, rest.join("; ")));
}

function editForm({ id, fields, examples, onsave, extraKeys }) {
  const form = h("form", { class: "edit", id });
  const inputs = {};
  for (const [key, value] of fields) {
    inputs[key] = h("input", { name: key, value: asValue(value), "data-original": asValue(value) });
    form.append(h("label", {}, h("span", {}, key), inputs[key]));
  }
  let extraKey, extraValue;
  if (extraKeys) {
    extraKey = h("input", { name: "_key", placeholder: "another key" });
    extraValue = h("input", { name: "_value", placeholder: "its value" });
    form.append(h("label", {}, extraKey, extraValue));
  }
  form.append(h("div", {}, h("button", { type: "submit" }, "Save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const [key, input] of Object.entries(inputs)) {
      if (input.value === input.getAttribute("data-original") && !extraKeys) continue;
      const value = parseField(input.value, examples[key]);
      if (value !== null) body[key] = value;
    }
    if (extraKey && extraKey.value.trim()) body[extraKey.value.trim()] = parseField(extraValue.value, undefined);
    try {
      await onsave(body);
    } catch (error) {
      showErrors(form, error);
    }
  });
  return form;
}

async function configKind(kind, query) {
  const ui = screen();
  let items;
  try {
    items = (await api("GET", `/v1/admin/${kind}`)).items || [];
  } catch (error) {
    ui.show(h("p", { class: "error" }, error.message));
    return;
  }
  const editing = query.get("edit");
  const keys = [...new Set(items.flatMap((item) => Object.keys(item)))];
  const columns = SUMMARY[kind].filter((key) => keys.includes(key));
  const examples = {};
  for (const item of items) for (const [key, value] of Object.entries(item)) examples[key] ??= value;
  for (const [key, value] of Object.entries(NEW_FIELDS[kind])) examples[key] ??= value;
  const toggle = (item) => {
    const verb = item.enabled === false ? "enable" : "disable";
    return h("button", { id: `${verb}-${nameOf(kind, item)}`, onclick: async () => {
      try { await api("POST", `/v1/admin/${kind}/${encodeURIComponent(nameOf(kind, item))}/${verb}`); ui.say(""); route(); }
      catch (error) { ui.say(error.message); }
    } }, verb);
  };
  const remove = (item) => h("button", { onclick: async () => {
    if (!window.confirm(`Delete ${nameOf(kind, item)}?`)) return;
    try { await api("DELETE", `/v1/admin/${kind}/${encodeURIComponent(nameOf(kind, item))}`); ui.say(""); route(); }
    catch (error) { ui.say(error.message); }
  } }, "delete");
  const parts = [
    h("h2", {}, kind[0].toUpperCase() + kind.slice(1)),
    table([
      ...columns.map((key) => ({ label: key, cell: (item) => key === "enabled"
        ? h("span", { class: item.enabled === false ? "state-disabled" : "state-up", "data-enabled": String(item.enabled !== false) },
          item.enabled === false ? "disabled" : "enabled")
        : asValue(item[key]) })),
      { label: "", cell: (item) => h("span", {},
        h("a", { href: `#/config/${kind}?edit=${encodeURIComponent(nameOf(kind, item))}` }, "edit"), " ",
        toggle(item), " ", remove(item)) },
    ], items, `no ${kind}`),
  ];
  const target = items.find((item) => String(nameOf(kind, item)) === editing);
  if (target) {
    const name = nameOf(kind, target);
    parts.push(h("h2", {}, `Edit ${name}`), editForm({
      id: "edit-form",
      fields: Object.entries(target).filter(([key]) => !READ_ONLY.has(key)),
      examples,
      onsave: async (body) => {
        await api("PATCH", `/v1/admin/${kind}/${encodeURIComponent(name)}`, body);
        window.location.hash = `#/config/${kind}`;
      },
    }));
  }
  parts.push(h("h2", {}, `Add to ${kind}`), editForm({
    id: "add-form",
    fields: [...new Set([...Object.keys(NEW_FIELDS[kind]), ...keys])].filter((key) => !READ_ONLY.has(key)).map((key) => [key, ""]),
    examples,
    extraKeys: true,
    onsave: async (body) => {
      await api("POST", `/v1/admin/${kind}`, body);
      route();
    },
  }));
  ui.show(...parts);
}

// ---- the simulated network's subscribers -----------------------------------------------------

// network/subscriber.py's SubscriberState values; a value the node has and this list lacks
// still shows (the select starts from the subscriber's own state).
const SUBSCRIBER_STATES = ["attached", "absent", "memory_full", "busy", "barred", "unknown",
  "not_provisioned_for_sms", "facility_not_supported", "system_failure", "data_missing",
  "unexpected_data_value", "unidentified", "illegal_subscriber", "illegal_equipment",
  "not_sm_equipped"];
const SUBSCRIBER_KEYS = ["msisdn", "state", "imsi", "home_network", "msc_address", "ported_to",
  "serving_network", "latency", "failure_probability", "absent_diagnostic"];

async function subscribers(query) {
  const ui = screen();
  const offset = Number(query.get("offset") || 0);
  let page;
  try {
    page = await api("GET", `/v1/network/subscribers?offset=${offset}&limit=100`);
  } catch (error) {
    ui.show(h("p", { class: "error" }, error.message));
    return;
  }
  // What is typed is text, but for these two numbers: "447700900123" stays a number's text.
  const examples = Object.fromEntries(SUBSCRIBER_KEYS.map((key) => [key, ""]));
  examples.failure_probability = 0;
  examples.absent_diagnostic = 0;
  const stateSelect = (subscriber) => {
    const select = h("select", { "data-msisdn": subscriber.msisdn },
      [...new Set([subscriber.state, ...SUBSCRIBER_STATES])].map((state) =>
        h("option", { value: state, selected: state === subscriber.state }, state)));
    select.addEventListener("change", async () => {
      try {
        await api("PATCH", `/v1/network/subscribers/${encodeURIComponent(subscriber.msisdn)}`, { state: select.value });
        ui.say("");
        route();
      } catch (error) { ui.say(error.message); }
    });
    return select;
  };
  const editing = page.subscribers.find((s) => s.msisdn === query.get("edit"));
  const parts = [
    h("h2", {}, `Subscribers (${page.total})`),
    table([
      { label: "msisdn", cell: (s) => h("a", { href: `#/subscribers?edit=${encodeURIComponent(s.msisdn)}` }, s.msisdn) },
      { label: "state", cell: stateSelect },
      { label: "imsi", cell: (s) => s.imsi },
      { label: "home", cell: (s) => s.home_network },
      { label: "ported to", cell: (s) => s.ported_to || "" },
      { label: "latency", cell: (s) => s.latency },
      { label: "failure p", num: true, cell: (s) => s.failure_probability },
      { label: "waiting", cell: (s) => (s.message_waiting ? "yes" : "") },
    ], page.subscribers, "no subscriber listed: every number is an attached subscriber"),
    page.total > offset + 100 ? h("a", { href: `#/subscribers?offset=${offset + 100}` }, "Next page") : "",
  ];
  if (editing) {
    parts.push(h("h2", {}, `Edit ${editing.msisdn}`), editForm({
      id: "edit-form",
      fields: SUBSCRIBER_KEYS.filter((key) => key !== "msisdn").map((key) => [key, editing[key]]),
      examples,
      onsave: async (body) => {
        await api("PATCH", `/v1/network/subscribers/${encodeURIComponent(editing.msisdn)}`, body);
        window.location.hash = "#/subscribers";
      },
    }));
  }
  parts.push(h("h2", {}, "Add a subscriber"), editForm({
    id: "add-form",
    fields: SUBSCRIBER_KEYS.map((key) => [key, ""]),
    examples,
    onsave: async (body) => {
      await api("POST", "/v1/network/subscribers", body);
      route();
    },
  }));
  ui.show(...parts);
}

// ---- the router ------------------------------------------------------------------------------

function route() {
  generation += 1;
  for (const stop of leaving) stop();
  leaving = [];
  const [path, search] = window.location.hash.replace(/^#/, "").split("?");
  const query = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean);
  const name = parts[0] === "config" ? parts[1] : parts[0] || "overview";
  for (const link of document.querySelectorAll("nav a")) {
    const under = { message: "messages", session: "overview" }[name];
    link.classList.toggle("current", link.dataset.view === name || link.dataset.view === under);
  }
  say("");
  if (parts[0] === "config" && NAME_KEYS[parts[1]]) return configKind(parts[1], query);
  if (parts[0] === "messages") return messages(query);
  if (parts[0] === "message" && parts[1]) return message(decodeURIComponent(parts[1]));
  if (parts[0] === "subscribers") return subscribers(query);
  if (parts[0] === "session" && parts[1]) return session(decodeURIComponent(parts[1]));
  return overview();
}

window.addEventListener("hashchange", route);
route();
