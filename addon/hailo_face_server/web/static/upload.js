// Teaching from photos: several at once by drag and drop or the file picker. A photo
// with several faces shows their boxes; the one clicked is taught.
import { ApiError, api, clear, complain, h } from "./common.js";

const progress = () => document.getElementById("upload-progress");

// Lets the user click one of `faces` on the photo; resolves to its bbox, or null (skip).
function pickFace(file, found) {
  const faces = [...found].sort((a, b) => a.bbox[0] - b.bbox[0]); // left to right, as they are read
  const picker = document.getElementById("picker");
  const photo = document.getElementById("picker-photo");
  const url = URL.createObjectURL(file);
  const image = h("img", { src: url, alt: `The photo ${file.name}` });
  document.getElementById("picker-text").textContent =
    `${file.name} shows ${faces.length} faces. Click the face of the person to add.`;
  return new Promise((resolve) => {
    const skip = document.getElementById("picker-skip");
    const finish = (bbox) => {
      skip.removeEventListener("click", skipped);
      picker.hidden = true;
      clear(photo);
      URL.revokeObjectURL(url);
      document.querySelector("[data-dropzone] .button")?.focus();  // focus back where the user was
      resolve(bbox);
    };
    const skipped = () => finish(null);
    skip.addEventListener("click", skipped);
    image.addEventListener(
      "error",
      () => {
        // A photo this browser cannot show: the faces as a list of buttons instead.
        photo.append(
          ...faces.map((face, i) =>
            h("button", { type: "button", onclick: () => finish(face.bbox) }, `Face ${i + 1} of ${faces.length}`),
          ),
        );
      },
      { once: true },
    );
    image.addEventListener(
      "load",
      () => {
        const width = image.naturalWidth;
        const height = image.naturalHeight;
        const boxes = faces.map((face, i) => {
          const [x1, y1, x2, y2] = face.bbox;
          const box = h(
            "button",
            {
              type: "button",
              class: "box",
              "aria-label": `Face ${i + 1} of ${faces.length}`,
              onclick: () => finish(face.bbox),
            },
            h("span", { "aria-hidden": "true" }, String(i + 1)),
          );
          box.style.left = `${(100 * Math.max(0, x1)) / width}%`;
          box.style.top = `${(100 * Math.max(0, y1)) / height}%`;
          box.style.width = `${(100 * (Math.min(width, x2) - Math.max(0, x1))) / width}%`;
          box.style.height = `${(100 * (Math.min(height, y2) - Math.max(0, y1))) / height}%`;
          return box;
        });
        photo.append(...boxes);
        boxes[0].focus();
      },
      { once: true },
    );
    clear(photo, image);
    picker.hidden = false;
    picker.scrollIntoView({ block: "nearest" });
  });
}

async function teach(name, file, bbox) {
  return api("v1/database/add", {
    method: "POST",
    query: { name, bbox: bbox ? bbox.join(",") : null },
    body: file,
    contentType: file.type || "application/octet-stream",
  });
}

// Teaches `name` from each file in turn. Resolves to the number of photos taught.
export async function uploadPhotos(name, files) {
  let taught = 0;
  const all = [...files];
  for (const [index, file] of all.entries()) {
    progress().textContent = `Photo ${index + 1} of ${all.length}: ${file.name}…`;
    try {
      await teach(name, file, null);
      taught += 1;
    } catch (err) {
      if (err instanceof ApiError && err.code === "multiple_faces" && Array.isArray(err.details.faces)) {
        const bbox = await pickFace(file, err.details.faces);
        if (bbox) {
          try {
            await teach(name, file, bbox);
            taught += 1;
          } catch (again) {
            complain(`${file.name}: ${again.message}`);
          }
        }
      } else {
        complain(`${file.name}: ${err instanceof ApiError ? err.message : String(err)}`);
      }
    }
  }
  progress().textContent = all.length ? `${taught} of ${all.length} photos added.` : "";
  return taught;
}

// Wires a drop zone and its file input: `onFiles(files)` gets what was dropped or chosen,
// one batch at a time (the zone is disabled until a batch is done).
export function acceptPhotos(onFiles) {
  const zone = document.querySelector("[data-dropzone]");
  const input = document.getElementById("photos");
  let busy = false;
  const take = async (files) => {
    if (busy || !files.length) return;
    busy = true;
    input.disabled = true;
    zone.setAttribute("aria-disabled", "true");
    try {
      await onFiles(files);
    } finally {
      busy = false;
      input.disabled = false;
      zone.removeAttribute("aria-disabled");
    }
  };
  input.addEventListener("change", () => {
    const files = [...input.files];
    input.value = "";
    take(files);
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    take([...event.dataTransfer.files].filter((f) => f.type.startsWith("image/")));
  });
}
