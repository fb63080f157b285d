// Shared by every page: the API client (relative URLs only, so ingress's path prefix
// just works), DOM building without innerHTML, messages, dates and the two dialogs.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

// Calls the server's public API. `path` is relative ("v1/clusters"); `json` is sent
// as JSON, `body` as is with `contentType`; `query` values that are empty are left out.
export async function api(path, { method = "GET", json, body, contentType, query } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, value);
    }
    const text = params.toString();
    if (text) url += (url.includes("?") ? "&" : "?") + text;
  }
  const headers = {};
  let payload = body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  } else if (contentType) {
    headers["Content-Type"] = contentType;
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  } catch (err) {
    throw new ApiError(0, "network", "The server cannot be reached.");
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.startsWith("application/json") ? await response.json() : null;
  if (!response.ok) {
    if (response.status === 401 && !window.location.pathname.endsWith("/login")) {
      window.location.reload(); // the session ended: the page shows the key form
    }
    const error = (data && data.error) || {};
    throw new ApiError(
      response.status,
      error.code || `http_${response.status}`,
      error.message || `The server answered ${response.status}.`,
      error,
    );
  }
  return data;
}

// h("li", {class: "x", "aria-label": "…", onclick: f}, child, "text", …): children are
// nodes or text (always text: names and cameras never become markup).
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key in node && !key.includes("-") && key !== "list") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function faceImage(src, alt, className = "") {
  return h("img", { src, alt, class: className, loading: "lazy", decoding: "async", width: 88, height: 88 });
}

// A name as one path segment: "." and ".." would otherwise be taken as relative steps.
export function nameSegment(name) {
  return encodeURIComponent(name).replaceAll(".", "%2E");
}

export function faceUrl(name, faceId) {
  return `v1/database/${nameSegment(name)}/faces/${faceId}/image`;
}

export function sightingUrl(id) {
  return `v1/sightings/${id}/image`;
}

function message(text, kind) {
  const region = document.getElementById(kind === "error" ? "alerts" : "toasts");
  const toast = h("div", { class: `toast ${kind}` }, text);
  region.append(toast);
  setTimeout(() => toast.remove(), kind === "error" ? 9000 : 5000);
}

export const say = (text) => message(text, "info");
export const complain = (text) => message(text, "error");

// Runs an action, reports its error to the user instead of throwing.
export async function attempt(action) {
  try {
    return await action();
  } catch (err) {
    complain(err instanceof ApiError ? err.message : String(err));
    if (!(err instanceof ApiError)) console.warn(err);
    return undefined;
  }
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const STEPS = [
  [60, "second"], [60, "minute"], [24, "hour"], [7, "day"], [4.35, "week"], [12, "month"], [Infinity, "year"],
];

// A time as people say it ("5 minutes ago"), with the exact local time for a tooltip.
export function when(iso) {
  if (!iso) return h("span", {}, "never");
  const date = new Date(iso);
  let amount = (date.getTime() - Date.now()) / 1000;
  let unit = "second";
  for (const [size, name] of STEPS) {
    unit = name;
    if (Math.abs(amount) < size) break;
    amount /= size;
  }
  return h("time", { datetime: iso, title: date.toLocaleString() }, relative.format(Math.round(amount), unit));
}

export function percent(value) {
  return `${Math.round(value * 100)} %`;
}

export async function knownNames() {
  const listing = await api("v1/database/list");
  return listing.identities.map((identity) => identity.name).sort((a, b) => a.localeCompare(b));
}

// "This is …": a name typed or picked from everyone known (type-ahead from a datalist).
// Resolves to the name, or null when cancelled.
export async function askName(what, suggested = "") {
  const dialog = document.getElementById("name-dialog");
  const input = document.getElementById("name-input");
  document.getElementById("name-dialog-what").textContent = what;
  const names = await attempt(knownNames);
  clear(document.getElementById("known-names"), ...(names || []).map((name) => h("option", { value: name })));
  input.value = suggested;
  return new Promise((resolve) => {
    const form = document.getElementById("name-form");
    const cancel = document.getElementById("name-cancel");
    const finish = (value) => {
      form.removeEventListener("submit", submitted);
      cancel.removeEventListener("click", cancelled);
      dialog.removeEventListener("cancel", cancelled);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const submitted = (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (name) finish(name);
    };
    const cancelled = (event) => {
      event.preventDefault();
      finish(null);
    };
    form.addEventListener("submit", submitted);
    cancel.addEventListener("click", cancelled);
    dialog.addEventListener("cancel", cancelled);
    dialog.showModal();
    input.focus();
  });
}

// A yes/no question before something that cannot be undone.
export function confirmAction(title, text, okLabel) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

export function setBusy(node, busy) {
  node.setAttribute("aria-busy", busy ? "true" : "false");
}
