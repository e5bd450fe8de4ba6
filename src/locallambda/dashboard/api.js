// How the dashboard talks to the server: the Lambda REST API as any client calls it (JSON,
// unsigned, or for a region other than the server's default an Authorization header whose SigV4
// scope names it: the server reads the region there and checks no signature), the internal
// endpoints, and small helpers for rendering (escaped templates, formats, notices, the dialog).

export const session = {
  region: localStorage.getItem("locallambda.region") || "",
  server: null, // /_dashboard/api/server, read at start
  ready: null, // the promise of it
};

/** The region shown: the one chosen, else the server's default. */
export function region() {
  return session.region || session.server?.Region || "us-east-1";
}

export function setRegion(region) {
  session.region = region;
  localStorage.setItem("locallambda.region", region);
}

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

function scope(service) {
  // The server reads the region from the credential scope; it does not check the signature.
  return `AWS4-HMAC-SHA256 Credential=dashboard/20000101/${region()}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, value);
  }
  const text = params.toString();
  return text ? `${path}${path.includes("?") ? "&" : "?"}${text}` : path;
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function send(method, url, { body, headers = {}, raw = false } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
    init.headers["content-type"] ??= "application/json";
  }
  const early = method === "GET" && !raw ? window.prefetched?.[url] : undefined;
  if (early) delete window.prefetched[url]; // an answer is used once
  const response = await (early || fetch(url, init));
  if (raw) return response;
  const text = await response.text();
  const doc = text ? parse(text) : null;
  if (!response.ok) {
    const type = response.headers.get("x-amzn-errortype")?.split(":")[0] || doc?.__type || doc?.Type || "";
    throw new ApiError(response.status, type, doc?.message || doc?.Message || text || response.statusText);
  }
  return doc;
}

/** A Lambda API call: `path` with its version prefix (/2015-03-31/functions …). Unsigned (the
 * server's default region) unless a region was chosen in the header. */
export function lambda(method, path, options = {}) {
  const headers = { ...(session.region ? { authorization: scope("lambda") } : {}), ...(options.headers || {}) };
  return send(method, withQuery(path, options.query), { ...options, headers });
}

/** An internal endpoint of this server (/_aws/lambda/…, /_dashboard/api/…). */
export function internal(method, path, options = {}) {
  return send(method, withQuery(path, options.query), options);
}

export const fn = (name) => encodeURIComponent(name);

/** Shows the current route again, from fresh data. */
export const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

// -- rendering -----------------------------------------------------------------------------------

export class Html {
  constructor(text) {
    this.text = text;
  }
  toString() {
    return this.text;
  }
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const esc = (value) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);

function part(value) {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(part).join("");
  if (value === null || value === undefined || value === false) return "";
  return esc(value);
}

/** An HTML template: every interpolated value escaped, except `Html` (nested templates). */
export function html(strings, ...values) {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1];
  return new Html(out);
}

export function bytes(n) {
  if (n === null || n === undefined) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function when(value) {
  if (!value) return "";
  const date = typeof value === "number" ? new Date(value) : new Date(String(value).replace(/\+0000$/, "Z"));
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** An ISO 8601 time to the millisecond, as the journal records it. */
export function whenMs(value) {
  return value ? String(value).replace("T", " ") : "";
}

export function age(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

export function pretty(text) {
  const doc = parse(text);
  return doc === null && text !== "null" ? text : JSON.stringify(doc, null, 2);
}

export function badge(state) {
  const kind = { Active: "ok", Successful: "ok", Success: "ok", Enabled: "ok", idle: "ok", busy: "busy",
    Pending: "busy", InProgress: "busy", starting: "busy", Creating: "busy", Failed: "bad", Error: "bad",
    Timeout: "bad", Throttled: "warn", Inactive: "warn", Disabled: "warn", reset: "warn" }[state] || "plain";
  return html`<span class="badge ${kind}">${state || "—"}</span>`;
}

export function table(columns, rows, empty = "None") {
  if (!rows.length) return html`<p class="empty">${empty}</p>`;
  return html`<table><thead><tr>${columns.map((c) => html`<th>${c}</th>`)}</tr></thead>
    <tbody>${rows.map((r) => html`<tr>${r.map((cell) => html`<td>${cell}</td>`)}</tr>`)}</tbody></table>`;
}

export function notify(message, kind = "error") {
  const box = document.getElementById("notices");
  const note = document.createElement("div");
  note.className = `notice ${kind}`;
  note.textContent = message;
  note.addEventListener("click", () => note.remove());
  box.append(note);
  setTimeout(() => note.remove(), kind === "error" ? 10000 : 4000);
}

/** Asks the user through the page's <dialog>; resolves true when they confirm. */
export function confirmAction(title, body, action) {
  const dialog = document.getElementById("confirm");
  dialog.querySelector("h2").textContent = title;
  dialog.querySelector(".body").innerHTML = part(body);
  dialog.querySelector("button[value=yes]").textContent = action;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
}

/** Reads a file input's file as bytes. */
export async function fileBytes(input) {
  const file = input.files?.[0];
  return file ? new Uint8Array(await file.arrayBuffer()) : null;
}
