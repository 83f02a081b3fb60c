// The ftl-mock inspector: reads the live feed (GET /__mock/events) with fetch and renders it; every
// control is a same-origin JSON call to the admin API. Data from requests is shown with textContent only.
"use strict";

const ADMIN = "/__mock";
const TOKEN_HEADER = "X-Mock-Admin-Token";
const TOKEN_KEY = "ftl-mock-admin-token";
const KEEP = 500; // journal entries the page keeps
const RETRY_MS = 1000;

const view = {
  token: sessionStorage.getItem(TOKEN_KEY),
  entries: [],
  expanded: new Set(),
  faults: {},
  operations: [],
};

const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "data") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function say(text, kind) {
  const message = $("message");
  message.textContent = text;
  message.className = kind || "";
}

function setStatus(text, kind) {
  const status = $("status");
  status.textContent = text;
  status.className = "status " + kind;
}

// --- the admin API ------------------------------------------------------------------------------

function headers(json) {
  const sent = {};
  if (view.token) sent[TOKEN_HEADER] = view.token;
  if (json) sent["Content-Type"] = "application/json";
  return sent;
}

class Locked extends Error {}

async function api(method, path, body) {
  const init = { method, headers: headers(body !== undefined), cache: "no-store", credentials: "same-origin" };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(ADMIN + path, init);
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) {
    askToken();
    throw new Locked(data.error || "the admin token is missing or wrong");
  }
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

async function act(description, call) {
  try {
    const result = await call();
    say(description, "ok");
    return result;
  } catch (error) {
    say(`${description}: ${error.message}`, "error");
    return undefined;
  }
}

function askToken() {
  $("token-form").hidden = false;
  setStatus("locked", "locked");
  $("token").focus();
}

// --- the live feed: fetch streaming, so the token travels in its header like every other call --------

async function watch() {
  for (;;) {
    try {
      const response = await fetch(ADMIN + "/events", { headers: headers(false), cache: "no-store" });
      if (response.status === 401) {
        askToken();
        await new Promise((resolve) => { view.unlocked = resolve; });
        continue;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      setStatus("live", "live");
      await readEvents(response.body);
    } catch (error) {
      console.warn("inspector feed:", error);
    }
    setStatus("reconnecting…", "connecting");
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

async function readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of message.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length && handlers[name]) handlers[name](JSON.parse(data.join("\n")));
    }
  }
}

const handlers = {
  hello(data) {
    view.operations = data.operations;
    fillOptions($("filter-operation"), [["", "all"], ["unmatched", "(no operation)"], ...data.operations.map((op) => [op, op])]);
    fillOptions($("fault-operation"), [["*", "* (every operation)"], ...data.operations.map((op) => [op, op])]);
    view.entries = [];
    view.journalSize = data.journal_size;
    renderJournal();
  },
  journal(data) {
    view.entries = [...data.entries, ...view.entries].slice(0, KEEP);
    if (data.skipped) say(`${data.skipped} requests came too fast to show`, "");
    renderJournal();
  },
  "journal-cleared"() {
    view.entries = [];
    view.expanded.clear();
    renderJournal();
  },
  streams: renderStreams,
  faults(data) {
    view.faults = data;
    renderFaults();
  },
  bindings: renderBindings,
  jobs(jobs) {
    $("jobs").replaceChildren(...jobs.map((job) => el("option", { value: job })));
  },
  metrics: renderMetrics,
};

function fillOptions(select, pairs) {
  const chosen = select.value;
  select.replaceChildren(...pairs.map(([value, label]) => el("option", { value }, label)));
  if (pairs.some(([value]) => value === chosen)) select.value = chosen;
}

// --- journal ------------------------------------------------------------------------------------

function statusClass(status) {
  return status === null ? "none" : `${Math.floor(status / 100)}xx`;
}

function shown(entry) {
  const operation = $("filter-operation").value;
  const status = $("filter-status").value;
  if (operation && (entry.operation_id || "unmatched") !== operation) return false;
  if (status && statusClass(entry.status) !== status) return false;
  if ($("filter-invalid").checked && !(entry.validation && !entry.validation.ok)) return false;
  return true;
}

function clock(iso) {
  const time = new Date(iso);
  return time.toLocaleTimeString([], { hour12: false }) + "." + String(time.getMilliseconds()).padStart(3, "0");
}

function renderJournal() {
  const rows = view.entries.filter(shown).map(entryRow);
  $("journal").replaceChildren(...rows);
  const size = view.journalSize === 0 ? " · the journal is off (--journal-size 0)" : "";
  $("journal-count").textContent = `${rows.length} shown of ${view.entries.length}${size}`;
  $("journal-empty").hidden = view.entries.length > 0;
}

function validationBadge(entry) {
  if (entry.validation === null) return el("span", { class: "badge skipped", title: "not validated" }, "–");
  if (entry.validation.ok) return el("span", { class: "badge passed" }, "valid");
  return el("span", { class: "badge failed" }, `${entry.validation.violations.length} violation(s)`);
}

function entryRow(entry) {
  const open = view.expanded.has(entry.seq);
  const summary = el(
    "div",
    {
      class: "summary",
      onclick: () => {
        if (view.expanded.has(entry.seq)) view.expanded.delete(entry.seq);
        else view.expanded.add(entry.seq);
        renderJournal();
      },
    },
    el("span", { class: "time" }, clock(entry.time)),
    el("span", { class: "method" }, entry.method),
    el("span", { class: "path", title: entry.path }, entry.path + (entry.query ? "?" + entry.query : "")),
    el("span", { class: "operation" }, entry.operation_id || "(no operation)"),
    el("span", { class: `code s${statusClass(entry.status)}` }, entry.status === null ? "—" : entry.status),
    validationBadge(entry),
  );
  const row = el("li", { class: "entry" + (open ? " open" : ""), data: { seq: entry.seq, status: entry.status ?? "none" } }, summary);
  if (open) row.append(entryDetails(entry));
  return row;
}

function entryDetails(entry) {
  const details = el("div", { class: "details" });
  if (entry.violations.length) {
    details.append(
      el("h3", {}, "Validation"),
      el(
        "ul",
        { class: "violations" },
        entry.violations.map((v) =>
          el("li", { class: "violation" }, el("code", {}, v.location), " ", el("span", { class: "rule" }, v.rule), " ", v.message),
        ),
      ),
    );
  }
  details.append(
    el("h3", {}, "Request"),
    el(
      "table",
      { class: "headers" },
      el("tr", {}, el("th", {}, "credential"), el("td", {}, entry.credential || "none")),
      Object.entries(entry.headers).map(([name, value]) => el("tr", {}, el("th", {}, name), el("td", {}, value))),
    ),
    el("h3", {}, `Body (${entry.body_bytes} bytes)`),
    el("pre", { class: "body" }, prettyBody(entry.body)),
  );
  return details;
}

function prettyBody(body) {
  if (body === null) return "(empty)";
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

// --- streams, metrics, faults, scenarios ------------------------------------------------------

function renderStreams(data) {
  $("streams-count").textContent = data.open > data.shown.length ? `${data.open} (newest ${data.shown.length})` : String(data.open);
  $("streams-empty").hidden = data.open > 0;
  const items = [...data.shown].reverse().map((stream) =>
    el(
      "li",
      { class: "stream", data: { job: stream.job_id } },
      el(
        "div",
        { class: "stream-head" },
        el("strong", {}, stream.job_id),
        el("span", {}, stream.client || "?"),
        el("span", { title: stream.opened }, "since " + clock(stream.opened)),
        el("span", { class: "events" }, `${stream.events} events`),
      ),
      el(
        "ol",
        { class: "tail" },
        stream.tail.map((message) =>
          el(
            "li",
            { class: "msg", data: { event: message.event || "" } },
            message.event === null
              ? el("span", { class: "raw" }, message.raw)
              : [el("b", {}, message.event), " ", el("span", { class: "data" }, message.data)],
          ),
        ),
      ),
    ),
  );
  $("streams").replaceChildren(...items);
}

function renderMetrics(data) {
  const figures = [
    ["requests answered", data.requests],
    ["2xx / 4xx / 5xx", `${data.by_class["2xx"]} / ${data.by_class["4xx"]} / ${data.by_class["5xx"]}`],
    ["validation failed", data.validation_failed],
    ["mean latency", data.mean_latency_ms === null ? "–" : `${data.mean_latency_ms} ms`],
    ["open streams", data.open_streams],
    ["connections / reconnections", `${data.stream_connections} / ${data.stream_reconnections}`],
    ["mean stream time", data.mean_stream_s === null ? "–" : `${data.mean_stream_s} s`],
    ["events sent", Object.entries(data.events_sent).map(([name, n]) => `${name} ${n}`).join(", ") || "0"],
    ["slow consumers dropped", data.slow_consumers_dropped],
    ["journal entries", data.journal_entries],
  ];
  $("metrics").replaceChildren(...figures.flatMap(([name, value]) => [el("dt", {}, name), el("dd", { data: { metric: name } }, value)]));
}

function describeFault(fault) {
  const parts = [];
  if (fault.error_status != null) {
    const p = fault.error_probability ?? 1;
    parts.push(`HTTP ${fault.error_status}` + (p < 1 ? ` (p=${p})` : ""));
  }
  if (fault.latency_ms) parts.push(`+${fault.latency_ms} ms`);
  if (fault.drop_connection) parts.push(fault.drop_connection >= 1 ? "drop" : `drop (p=${fault.drop_connection})`);
  return parts.join(", ") || "none";
}

function renderFaults() {
  const rows = Object.entries(view.faults).map(([operation, fault]) =>
    el(
      "tr",
      { class: "fault", data: { operation } },
      el("td", {}, operation),
      el("td", {}, describeFault(fault)),
      el("td", {}, el("button", { type: "button", onclick: () => removeFault(operation) }, "Remove")),
    ),
  );
  $("faults").tBodies[0].replaceChildren(...rows);
  $("faults").hidden = rows.length === 0;
  $("faults-empty").hidden = rows.length > 0;
}

async function removeFault(operation) {
  const table = { ...view.faults };
  delete table[operation];
  await act(`fault on ${operation} removed`, () => api("PUT", "/faults", table));
}

function renderBindings(data) {
  $("default-scenario").textContent = data.default ? `default: ${data.default}` : "";
  $("bindings-empty").hidden = Object.keys(data.bindings).length > 0;
  $("bindings-empty").textContent = data.default ? `No binding: every stream plays ${data.default}.` : "No binding: every stream is live.";
  fillOptions($("bind-scenario"), data.scenarios.map((name) => [name, name]));
  $("bindings").replaceChildren(
    ...Object.entries(data.bindings).map(([job, scenario]) =>
      el(
        "li",
        { class: "binding", data: { job } },
        el("strong", {}, job),
        " plays ",
        el("code", {}, scenario.name),
        " ",
        el("button", { type: "button", onclick: () => act(`${job} streams live again`, () => api("DELETE", `/streams/${encodeURIComponent(job)}`)) }, "Unbind"),
      ),
    ),
  );
}

// --- controls -------------------------------------------------------------------------------------

function number(id) {
  const value = $(id).value.trim();
  return value === "" ? undefined : Number(value);
}

function bindControls() {
  for (const id of ["filter-operation", "filter-status", "filter-invalid"]) $(id).addEventListener("change", renderJournal);
  $("clear-journal").addEventListener("click", () => act("journal cleared", () => api("DELETE", "/journal")));
  $("clear-faults").addEventListener("click", () => act("every fault removed", () => api("DELETE", "/faults")));
  $("fault-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const fault = {};
    const status = number("fault-status");
    const probability = number("fault-probability");
    const latency = number("fault-latency");
    if (status !== undefined) fault.error_status = status;
    if (status !== undefined && probability !== undefined) fault.error_probability = probability;
    if (latency !== undefined) fault.latency_ms = latency;
    if ($("fault-drop").checked) fault.drop_connection = probability ?? true;
    const operation = $("fault-operation").value;
    act(`fault on ${operation} set`, () => api("PUT", "/faults", { ...view.faults, [operation]: fault }));
  });
  $("bind-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const job = $("bind-job").value.trim();
    const scenario = $("bind-scenario").value;
    act(`${job} streams play ${scenario}`, () => api("PUT", `/streams/${encodeURIComponent(job)}`, { scenario }));
  });
  $("insert-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const job = $("insert-job").value.trim();
    const result = await act(`predictions inserted into ${job}`, () =>
      api("POST", `/jobs/${encodeURIComponent(job)}/predictions`, { count: number("insert-count") ?? 1 }),
    );
    if (result) say(`${result.inserted} predictions inserted into ${job} (total ${result.total_count})`, "ok");
  });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    view.token = $("token").value;
    sessionStorage.setItem(TOKEN_KEY, view.token);
    $("token-form").hidden = true;
    say("token set for this tab", "ok");
    if (view.unlocked) view.unlocked();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  bindControls();
  watch();
});
