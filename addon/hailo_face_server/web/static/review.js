// Review: unknown faces grouped by person (clusters), best faces first. Select whole
// groups or single faces, then "This is …", "Ignore" or "Delete".
import { api, askName, attempt, clear, confirmAction, faceImage, h, say, setBusy, sightingUrl, when } from "./common.js";

const selectedClusters = new Map(); // cluster id -> its size
const selectedFaces = new Map(); // sighting id -> its cluster id (null: a low-quality face)
const clustersNode = document.getElementById("clusters");
const buttons = {
  label: document.getElementById("label-selected"),
  ignore: document.getElementById("ignore-selected"),
  remove: document.getElementById("delete-selected"),
  clear: document.getElementById("clear-selection"),
};

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

// The single faces not already covered by a selected group.
function singleFaces() {
  return [...selectedFaces].filter(([, cluster]) => !selectedClusters.has(cluster)).map(([id]) => id);
}

function describeSelection() {
  const groups = selectedClusters.size;
  const faces = singleFaces().length;
  const parts = [];
  if (groups) parts.push(plural(groups, "group"));
  if (faces) parts.push(plural(faces, "face"));
  return parts.join(" and ");
}

function updateToolbar() {
  const text = describeSelection();
  document.getElementById("selection").textContent = text ? `${text} selected` : "Nothing selected";
  for (const button of Object.values(buttons)) button.disabled = !text;
  for (const node of clustersNode.querySelectorAll(".cluster")) {
    node.classList.toggle("selected", selectedClusters.has(Number(node.dataset.cluster)));
  }
}

function faceToggle(sighting, clusterId, label) {
  const button = h("button", {
    type: "button",
    class: "face",
    "aria-pressed": selectedFaces.has(sighting) ? "true" : "false",
    "aria-label": label,
    "data-sighting": sighting,
    onclick: () => {
      if (selectedFaces.has(sighting)) selectedFaces.delete(sighting);
      else selectedFaces.set(sighting, clusterId);
      button.setAttribute("aria-pressed", selectedFaces.has(sighting) ? "true" : "false");
      updateToolbar();
    },
  });
  button.append(faceImage(sightingUrl(sighting), ""));
  return h("li", {}, button);
}

function renderCluster(cluster, index) {
  const id = cluster.id;
  const checkbox = h("input", {
    type: "checkbox",
    id: `cluster-${id}`,
    checked: selectedClusters.has(id),
    onchange: () => {
      if (checkbox.checked) selectedClusters.set(id, cluster.size);
      else selectedClusters.delete(id);
      updateToolbar();
    },
  });
  const faces = h(
    "ul",
    { class: "faces", "aria-label": `Faces of unknown person ${index + 1}` },
    cluster.best_sighting_ids.map((sid, i) => faceToggle(sid, id, `Face ${i + 1} of unknown person ${index + 1}`)),
  );
  const section = h(
    "section",
    { class: "cluster", "data-cluster": id, "aria-labelledby": `cluster-${id}-title` },
    h(
      "div",
      { class: "cluster-head" },
      h("label", { id: `cluster-${id}-title` }, checkbox, `Unknown person ${index + 1}`),
      h(
        "span",
        { class: "meta" },
        `${plural(cluster.size, "face")} · seen ${plural(cluster.seen, "time")} · ${cluster.sources.join(", ")} · first `,
        when(cluster.first_seen),
        ", last ",
        when(cluster.last_seen),
      ),
    ),
    faces,
  );
  if (cluster.size > cluster.best_sighting_ids.length) {
    const more = h("button", {
      type: "button",
      class: "text more",
      onclick: async () => {
        const detail = await attempt(() => api(`v1/clusters/${id}`));
        if (!detail) return;
        const shown = new Set(cluster.best_sighting_ids);
        const rest = detail.sightings.filter((s) => !shown.has(s.id)).sort((a, b) => b.quality - a.quality);
        faces.append(
          ...rest.map((s, i) =>
            faceToggle(s.id, id, `Face ${shown.size + i + 1} of unknown person ${index + 1}`),
          ),
        );
        more.remove();
      },
    }, `Show all ${cluster.size}`);
    faces.append(h("li", { class: "more" }, more));
  }
  return section;
}

async function load() {
  setBusy(clustersNode, true);
  const listing = await attempt(() => api("v1/clusters", { query: { low_quality_limit: 200 } }));
  setBusy(clustersNode, false);
  if (!listing) return;
  const known = new Set(listing.clusters.map((c) => c.id));
  for (const id of [...selectedClusters.keys()]) if (!known.has(id)) selectedClusters.delete(id);
  if (listing.clusters.length) {
    clear(clustersNode, ...listing.clusters.map(renderCluster));
  } else {
    clear(
      clustersNode,
      h(
        "p",
        { class: "muted" },
        "No unknown faces to review. Faces appear here when Home Assistant scans a camera and sees someone it does not know.",
      ),
    );
  }
  const low = listing.low_quality;
  const lowNode = document.getElementById("low-quality");
  lowNode.hidden = low.total === 0;
  document.getElementById("low-quality-count").textContent = low.total ? String(low.total) : "";
  clear(
    document.getElementById("low-quality-faces"),
    ...low.sightings.map((s, i) => faceToggle(s.id, null, `Low-quality face ${i + 1}, ${s.source}`)),
  );
  // Faces still shown stay selected (e.g. after an action failed for them); gone ones do not.
  const shown = new Set([...document.querySelectorAll(".face[data-sighting]")].map((b) => Number(b.dataset.sighting)));
  for (const id of [...selectedFaces.keys()]) if (!shown.has(id)) selectedFaces.delete(id);
  updateToolbar();
}

let working = false;

// Runs the action on every selected group, then on the single faces; what failed stays selected.
async function forEachSelected(clusterAction, facesAction) {
  if (working) return { done: 0, failed: 0 };
  working = true;
  for (const button of Object.values(buttons)) button.disabled = true;
  const clusters = [...selectedClusters.keys()];
  const faces = singleFaces();
  let done = 0;
  let failed = 0;
  try {
    for (const id of clusters) {
      if (await attempt(() => clusterAction(id))) {
        done += 1;
        selectedClusters.delete(id);
      } else {
        failed += 1;
      }
    }
    if (faces.length) {
      if (await attempt(() => facesAction(faces))) {
        done += faces.length;
        for (const id of faces) selectedFaces.delete(id);
      } else {
        failed += faces.length;
      }
    }
  } finally {
    working = false;
    await load();
  }
  return { done, failed };
}

buttons.label.addEventListener("click", async () => {
  const name = await askName(`Name ${describeSelection()}.`);
  if (!name) return;
  const { done, failed } = await forEachSelected(
    (id) => api(`v1/clusters/${id}/label`, { method: "POST", json: { name } }),
    (ids) => api("v1/sightings/label", { method: "POST", json: { sighting_ids: ids, name } }),
  );
  if (done && !failed) say(`Saved: that is ${name}. They are recognised from now on.`);
});

buttons.ignore.addEventListener("click", async () => {
  const { done, failed } = await forEachSelected(
    (id) => api(`v1/clusters/${id}/ignore`, { method: "POST", json: {} }),
    (ids) => api("v1/sightings/ignore", { method: "POST", json: { sighting_ids: ids } }),
  );
  if (done && !failed) say("Ignored: those faces are never reported as anyone.");
});

buttons.remove.addEventListener("click", async () => {
  const what = describeSelection();
  if (!(await confirmAction("Delete these faces?", `${what}: their crops are deleted from the server.`, "Delete"))) {
    return;
  }
  const { done, failed } = await forEachSelected(
    (id) => api(`v1/clusters/${id}`, { method: "DELETE" }),
    async (ids) => {
      for (const id of ids) await api(`v1/sightings/${id}`, { method: "DELETE" });
      return true;
    },
  );
  if (done && !failed) say(`Deleted ${what}.`);
});

buttons.clear.addEventListener("click", () => {
  selectedClusters.clear();
  selectedFaces.clear();
  for (const box of clustersNode.querySelectorAll("input[type=checkbox]")) box.checked = false;
  for (const face of document.querySelectorAll(".face")) face.setAttribute("aria-pressed", "false");
  updateToolbar();
});

load();
