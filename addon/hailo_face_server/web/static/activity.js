// Activity: every face the cameras saw, newest first, by camera and person; correct any of them.
import { api, askName, attempt, clear, faceImage, h, knownNames, percent, say, setBusy, sightingUrl, when } from "./common.js";

const list = document.getElementById("sightings");
const more = document.getElementById("more");
const filters = {
  source: document.getElementById("filter-source"),
  person: document.getElementById("filter-person"),
  outcome: document.getElementById("filter-outcome"),
};
let cursor = null;

function who(sighting) {
  if (sighting.outcome === "named") return h("span", { class: "who" }, sighting.name);
  if (sighting.outcome === "ignored") return h("span", { class: "who ignored" }, "Ignored face");
  return h("span", { class: "who unknown" }, "Unknown");
}

function row(sighting) {
  const label = sighting.outcome === "named" ? sighting.name : sighting.outcome === "ignored" ? "an ignored face" : "an unknown face";
  const actions = h("div", { class: "actions" });
  if (sighting.outcome === "named") {
    actions.append(
      h("button", {
        type: "button",
        "aria-label": `Not ${sighting.name}: face seen by ${sighting.source}`,
        onclick: () => notThisPerson(sighting),
      }, "Not this person"),
    );
  }
  actions.append(
    h("button", {
      type: "button",
      "aria-label": `This is…: face seen by ${sighting.source}`,
      onclick: () => thisIs(sighting),
    }, "This is…"),
  );
  return h(
    "li",
    { class: "sighting", "data-sighting": sighting.id, "data-outcome": sighting.outcome },
    faceImage(sightingUrl(sighting.id), `Face of ${label}`),
    h(
      "div",
      {},
      who(sighting),
      sighting.outcome === "named" ? h("span", { class: "meta" }, ` · ${percent(sighting.confidence)}`) : null,
      h(
        "div",
        { class: "meta" },
        `${sighting.source} · `,
        when(sighting.last_seen),
        sighting.times_seen > 1 ? ` · seen ${sighting.times_seen} times` : "",
      ),
    ),
    actions,
  );
}

async function notThisPerson(sighting) {
  const result = await attempt(() =>
    api(`v1/sightings/${sighting.id}/reject`, { method: "POST", json: {} }),
  );
  if (!result) return;
  say(`Noted: that was not ${result.rejected.name}. Faces like it will not be named ${result.rejected.name}.`);
  await reload();
}

async function thisIs(sighting) {
  const name = await askName("Who is this?", "");
  if (!name) return;
  let result;
  if (sighting.outcome === "named" && sighting.name !== name) {
    // "This is Bob, not Alice": one call teaches Bob and tells the server it was not Alice.
    result = await attempt(() => api(`v1/sightings/${sighting.id}/reject`, { method: "POST", json: { name } }));
  } else if (sighting.outcome !== "named") {
    result = await attempt(() =>
      api("v1/sightings/label", { method: "POST", json: { sighting_ids: [sighting.id], name } }),
    );
  } else {
    return; // already that person
  }
  if (result) {
    say(`Saved: that is ${name}.`);
    await reload();
  }
}

function query() {
  return {
    source: filters.source.value,
    person: filters.person.value,
    outcome: filters.outcome.value,
  };
}

async function page(append) {
  setBusy(list, true);
  const found = await attempt(() => api("v1/sightings", { query: { ...query(), limit: 30, cursor: append ? cursor : null } }));
  setBusy(list, false);
  if (!found) return;
  if (!append) clear(list);
  list.append(...found.sightings.map(row));
  cursor = found.next_cursor;
  more.hidden = !cursor;
  document.getElementById("sightings-empty").hidden = list.children.length > 0;
}

async function reload() {
  cursor = null;
  await page(false);
}

async function loadFilters() {
  const params = new URLSearchParams(window.location.search);
  const [summary, names] = await Promise.all([attempt(() => api("v1/sightings/summary")), attempt(knownNames)]);
  const sources = new Set((summary ? summary.sources : []).map((s) => s.source));
  const people = new Set(names || []);
  if (params.get("source")) sources.add(params.get("source"));
  if (params.get("person")) people.add(params.get("person"));
  filters.source.append(...[...sources].sort().map((s) => h("option", { value: s }, s)));
  filters.person.append(...[...people].sort().map((p) => h("option", { value: p }, p)));
  for (const [key, select] of Object.entries(filters)) select.value = params.get(key) || "";
}

for (const select of Object.values(filters)) {
  select.addEventListener("change", () => {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query())) if (value) params.set(key, value);
    const text = params.toString();
    window.history.replaceState(null, "", text ? `activity?${text}` : "activity");
    reload();
  });
}
more.addEventListener("click", () => page(true));

await loadFilters();
await reload();
