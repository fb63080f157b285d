// One person: samples (with where and when they came from), "not this person" faces,
// rename, forget, and more photos.
import { api, attempt, clear, complain, confirmAction, faceUrl, h, nameSegment, say, setBusy, when } from "./common.js";
import { acceptPhotos, uploadPhotos } from "./upload.js";

let name = new URLSearchParams(window.location.search).get("name") || "";
const root = document.getElementById("person");
const title = document.getElementById("title");

function origin(item, fallback) {
  if (item.source) return [`${item.source} · `, when(item.seen_at || item.created_at)];
  return [`${fallback} `, when(item.created_at)];
}

function sampleTile(sample, index) {
  return h(
    "li",
    { class: "tile", "data-face": sample.id },
    h("img", { src: faceUrl(name, sample.id), alt: `Sample ${index + 1} of ${name}`, loading: "lazy" }),
    h("p", {}, ...origin(sample, "uploaded")),
    sample.usable ? null : h("p", {}, "being prepared for the current model"),
    h("button", {
      type: "button",
      class: "danger",
      "aria-label": `Delete sample ${index + 1} of ${name}`,
      onclick: async () => {
        const done = await attempt(() =>
          api(`v1/database/${nameSegment(name)}/faces/${sample.id}`, { method: "DELETE" }),
        );
        if (done) {
          say(`Sample deleted; ${name} has ${done.identity.faces} left.`);
          load();
        }
      },
    }, "Delete"),
  );
}

function negativeTile(negative, index) {
  return h(
    "li",
    { class: "tile", "data-negative": negative.id },
    h("img", {
      src: `v1/database/${nameSegment(name)}/negatives/${negative.id}/image`,
      alt: `Face ${index + 1} that is not ${name}`,
      loading: "lazy",
    }),
    h("p", {}, ...origin(negative, "marked")),
    h("button", {
      type: "button",
      "aria-label": `Remove face ${index + 1} from the faces that are not ${name}`,
      onclick: async () => {
        const done = await attempt(() =>
          api(`v1/database/${nameSegment(name)}/negatives/${negative.id}`, { method: "DELETE" }),
        );
        if (done) {
          say("Removed.");
          load();
        }
      },
    }, "Remove"),
  );
}

async function load() {
  setBusy(root, true);
  const listing = await attempt(() => api("v1/database/list", { query: { kind: "all" } }));
  setBusy(root, false);
  if (!listing) return;
  const identity = listing.identities.find((i) => i.name === name);
  if (!identity) {
    root.hidden = true;
    const missing = document.getElementById("missing");
    missing.hidden = false;
    clear(missing, `No one called “${name}” is known. `, h("a", { href: "people" }, "All people"));
    return;
  }
  title.textContent = identity.name;
  document.title = `${identity.name} · Faces`;
  const avatar = document.getElementById("avatar");
  if (identity.avatar_face_id !== null) {
    avatar.src = faceUrl(identity.name, identity.avatar_face_id);
    avatar.alt = identity.name;
    avatar.hidden = false;
  } else {
    avatar.hidden = true;
  }
  clear(
    document.getElementById("summary"),
    identity.kind === "ignored" ? "Ignored face (never reported as anyone). " : "",
    `${identity.faces} sample${identity.faces === 1 ? "" : "s"} · known since `,
    when(identity.created_at),
  );
  document.getElementById("rename-input").value = identity.name;
  document.getElementById("samples-count").textContent = String(identity.samples.length);
  document.getElementById("negatives-count").textContent = identity.negatives.length ? String(identity.negatives.length) : "";
  clear(document.getElementById("samples"), ...identity.samples.map(sampleTile));
  clear(document.getElementById("negatives"), ...identity.negatives.map(negativeTile));
  document.getElementById("negatives-empty").hidden = identity.negatives.length > 0;
}

document.getElementById("rename").addEventListener("submit", async (event) => {
  event.preventDefault();
  const wanted = document.getElementById("rename-input").value.trim();
  if (!wanted || wanted === name) return;
  const done = await attempt(() =>
    api(`v1/database/${nameSegment(name)}`, { method: "PATCH", json: { name: wanted } }),
  );
  if (!done) return;
  say(`Renamed ${name} to ${done.identity.name}.`);
  name = done.identity.name;
  window.history.replaceState(null, "", `person?${new URLSearchParams({ name })}`);
  load();
});

document.getElementById("forget").addEventListener("click", async () => {
  const ok = await confirmAction(
    `Forget ${name}?`,
    `All samples of ${name}, the faces marked as not ${name}, and every sighting named ${name} are deleted. This cannot be undone.`,
    "Forget",
  );
  if (!ok) return;
  const done = await attempt(() => api(`v1/database/${nameSegment(name)}`, { method: "DELETE" }));
  if (done) window.location.assign("people");
});

document.getElementById("upload-form").addEventListener("submit", (event) => event.preventDefault());
acceptPhotos(async (files) => {
  if (!name) {
    complain("No person is open.");
    return;
  }
  const taught = await uploadPhotos(name, files);
  if (taught) {
    say(`${taught} photo${taught === 1 ? "" : "s"} added to ${name}.`);
    load();
  }
});

load();
