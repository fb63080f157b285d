// Status: what the server runs on and how it is doing (/health and /v1/info), every 5 s.
import { api, attempt, clear, h, setBusy } from "./common.js";

const root = document.getElementById("status");

function facts(title, rows) {
  const list = h("dl", { class: "facts" });
  for (const [term, value] of rows) {
    if (value === undefined || value === null || value === "") continue;
    list.append(h("dt", {}, term), h("dd", {}, value));
  }
  return h("section", { class: "card", "aria-label": title }, h("h2", {}, title), list);
}

function megabytes(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function duration(seconds) {
  const units = [["d", 86400], ["h", 3600], ["min", 60]];
  for (const [unit, size] of units) if (seconds >= size) return `${Math.floor(seconds / size)} ${unit}`;
  return `${Math.round(seconds)} s`;
}

async function refresh() {
  // /health answers 503 with the same report while starting or degraded: read it either way.
  const health = await attempt(async () => (await fetch("health", { credentials: "same-origin" })).json());
  const info = await api("v1/info").catch(() => null);
  setBusy(root, false);
  if (!health) return;
  const sections = [
    facts("Server", [
      ["Status", h("span", { class: `badge ${health.status}` }, health.status)],
      ["Problem", health.problem || health.error],
      ["Version", health.version],
      ["Running for", duration(health.uptime_s)],
      ["Server id", health.server_id],
    ]),
    facts("Backend", [
      ["Backend", health.backend],
      ["Device", health.device],
      ["Model", health.model_id],
      ...Object.entries(health.models || {}).map(([role, model]) => [role.charAt(0).toUpperCase() + role.slice(1).replaceAll("_", " "), model]),
      ["Fell back from", health.fallback ? health.fallback.from : null],
      ["Because", health.fallback ? health.fallback.reason : null],
    ]),
    facts("Work", [
      ["Queue", `${health.queue.depth} of ${health.queue.max}`],
      ["Started in", health.startup_s !== undefined ? `${health.startup_s.toFixed(1)} s` : null],
    ]),
    facts("Gallery", [
      ["People", health.identities],
      ["Samples", health.faces],
      ["Samples being prepared", health.faces_pending || null],
    ]),
  ];
  const re = health.reembedding;
  if (re) {
    sections.push(
      facts("Re-embedding", [
        ["Model", re.model],
        ["Progress", h("progress", { max: Math.max(1, re.total), value: re.done, "aria-label": "Re-embedding progress" })],
        ["Done", `${re.done} of ${re.total}${re.failed ? `, ${re.failed} failed` : ""}${re.running ? "" : " (finished)"}`],
      ]),
    );
  }
  if (health.sightings) {
    sections.push(
      facts("Sightings", [
        ["Kept", health.sightings.enabled ? "yes" : "no (sightings are off)"],
        ["Stored", health.sightings.stored],
        ["Unknown groups", health.sightings.unknown_clusters],
        ["Size", megabytes(health.sightings.bytes)],
      ]),
    );
  }
  if (info) {
    sections.push(
      facts("Settings", [
        ["Recognition threshold", info.recognition_threshold],
        ["Detection threshold", info.detection_threshold],
        ["Largest number of faces", info.max_faces],
        ["Smallest face", `${info.min_face_size} px`],
        ["Landmarks", info.landmarks],
      ]),
    );
  }
  clear(root, ...sections);
}

refresh();
setInterval(refresh, 5000);
