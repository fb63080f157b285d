// People: everyone known, with their most typical sample as avatar, samples and last sighting.
import { api, attempt, clear, complain, confirmAction, faceUrl, h, nameSegment, say, setBusy, when } from "./common.js";
import { acceptPhotos, uploadPhotos } from "./upload.js";

const list = document.getElementById("people");

function avatar(identity) {
  if (identity.avatar_face_id === null) {
    return h("span", { class: "avatar initials", "aria-hidden": "true" }, identity.name.slice(0, 1).toUpperCase());
  }
  return h("img", {
    class: "avatar",
    src: faceUrl(identity.name, identity.avatar_face_id),
    alt: `${identity.name}`,
    width: 96,
    height: 96,
    loading: "lazy",
  });
}

function personLink(name) {
  return `person?${new URLSearchParams({ name })}`;
}

function card(identity, seen) {
  return h(
    "li",
    { class: "person-card", "data-person": identity.name },
    avatar(identity),
    h("a", { href: personLink(identity.name) }, identity.name),
    h("span", { class: "meta" }, `${identity.faces} sample${identity.faces === 1 ? "" : "s"}`),
    seen
      ? h("span", { class: "meta" }, `Last seen by ${seen.source} `, when(seen.last_seen))
      : h("span", { class: "meta" }, "Not seen yet"),
  );
}

function ignoredCard(identity) {
  return h(
    "li",
    { class: "person-card" },
    avatar(identity),
    h("span", {}, identity.name),
    h("button", {
      type: "button",
      "aria-label": `Stop ignoring ${identity.name}`,
      onclick: async () => {
        const ok = await confirmAction(
          `Stop ignoring ${identity.name}?`,
          "Its faces are forgotten: the next time a camera sees it, it is an unknown face again.",
          "Stop ignoring",
        );
        if (ok && (await attempt(() => api(`v1/database/${nameSegment(identity.name)}`, { method: "DELETE" })))) {
          say(`${identity.name} is no longer ignored.`);
          load();
        }
      },
    }, "Stop ignoring"),
  );
}

async function load() {
  setBusy(list, true);
  const [listing, summary] = await Promise.all([
    attempt(() => api("v1/database/list", { query: { kind: "all" } })),
    attempt(() => api("v1/sightings/summary")).then((s) => s || { people: [] }),
  ]);
  setBusy(list, false);
  if (!listing) return;
  const seen = new Map(summary.people.map((p) => [p.identity_id, p]));
  const people = listing.identities.filter((i) => i.kind === "person");
  const ignored = listing.identities.filter((i) => i.kind === "ignored");
  clear(list, ...people.map((identity) => card(identity, seen.get(identity.id))));
  document.getElementById("people-empty").hidden = people.length > 0;
  document.getElementById("ignored").hidden = ignored.length === 0;
  document.getElementById("ignored-count").textContent = ignored.length ? String(ignored.length) : "";
  clear(document.getElementById("ignored-list"), ...ignored.map(ignoredCard));
}

const nameInput = document.getElementById("new-name");
document.getElementById("new-person").addEventListener("submit", (event) => event.preventDefault());
acceptPhotos(async (files) => {
  const name = nameInput.value.trim();
  if (!name) {
    complain("Type the person's name first, then add their photos.");
    nameInput.focus();
    return;
  }
  const taught = await uploadPhotos(name, files);
  if (taught) {
    say(`${name}: ${taught} photo${taught === 1 ? "" : "s"} added.`);
    nameInput.value = "";
    await load();
  }
});

load();
