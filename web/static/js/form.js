// The build form: the photos (1 to 8, each with its detected outline and where it was taken
// from) and the option fields, which the server generated from the options schema.
import { detectOutline } from "./api.js";

const $ = (id) => document.getElementById(id);

// Labels offered to each new photo in turn: the order makers usually shoot in (front, its left
// side, back, its right side), then the diagonals. The maker can change each one.
const SUGGESTED_VIEWS = ["front", "left", "back", "right", "45", "135", "225", "315"];
const VIEW_LABELS = new Set(["front", "left", "back", "right"]);

const photos = [];   // {id, file, url, state: "checking" | "good" | "bad", card}
let nextId = 1;
let changed = () => {};
let showError = () => {};
let photosChanged = () => {};   // the set of photos changed: a shown model is no longer theirs

export const maxPhotos = () => Number($("photo-list").dataset.maxPhotos) || 8;

/** True when the photos can be built: at least one, and none the server refused. */
export function photosReady() {
  return photos.length > 0 && photos.every((p) => p.state !== "bad");
}

export const photoCount = () => photos.length;
export const firstPhotoName = () => (photos[0] ? photos[0].file.name : null);

export function titleFromName(name) {
  return name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").trim() || "model";
}

/** The refused photos in one line for the error box (each one's reason is on its own card). */
function refusalSummary() {
  const bad = photos.filter((p) => p.state === "bad").length;
  if (!bad) return "";
  return bad === 1 ? "One photo can't be used; the reason is shown beside it. Remove it to build."
    : `${bad} photos can't be used; the reasons are shown beside them. Remove them to build.`;
}

function isImageType(file) {
  return /^image\//.test(file.type || "");
}

function drawOutline(canvas, data) {
  canvas.width = data.width;
  canvas.height = data.height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const pts = data.outline || [];
  if (pts.length < 2) return;
  const lw = Math.max(2, Math.round(Math.max(data.width, data.height) / 120));
  ctx.beginPath();
  ctx.moveTo(pts[0][0], pts[0][1]);
  for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0], pts[i][1]);
  ctx.closePath();
  ctx.fillStyle = "rgba(255, 122, 0, 0.12)";
  ctx.fill();
  ctx.lineJoin = "round";
  ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
  ctx.lineWidth = lw * 2;
  ctx.stroke();
  ctx.strokeStyle = "#ff6a00";
  ctx.lineWidth = lw;
  ctx.stroke();
}

/** The view a photo's picker says: a label, or degrees. */
function viewOf(photo) {
  const select = photo.card.querySelector(".view-select");
  return select.value === "angle" ? photo.card.querySelector(".view-angle").value.trim() : select.value;
}

function setView(photo, view) {
  const select = photo.card.querySelector(".view-select");
  const angle = photo.card.querySelector(".view-angle");
  const isLabel = VIEW_LABELS.has(view);
  select.value = isLabel ? view : "angle";
  angle.hidden = isLabel;
  if (!isLabel) angle.value = view;
}

/** The `views` field: one label per photo, in order; unset for a single photo (it is the front). */
function updateViews() {
  $("views").value = photos.length > 1 ? photos.map(viewOf).join(",") : "";
  $("photo-list").classList.toggle("single", photos.length < 2);
  const count = $("photo-count");
  count.textContent = photos.length > 1
    ? `${photos.length} photos of one object: say where each was taken from.`
    : photos.length === 1 ? `One photo; add more from other sides (up to ${maxPhotos()}) for a truer back and sides.` : "";
}

function removePhoto(photo) {
  const index = photos.indexOf(photo);
  if (index < 0) return;
  photos.splice(index, 1);
  URL.revokeObjectURL(photo.url);
  photo.card.remove();
  showError(refusalSummary());
  updateViews();
  photosChanged();
  changed();
}

function makeCard(photo) {
  const card = $("photo-card-template").content.firstElementChild.cloneNode(true);
  const img = card.querySelector(".thumb-img");
  img.src = photo.url;
  img.alt = `Photo ${photo.file.name}`;
  const name = card.querySelector(".photo-name");
  name.textContent = photo.file.name;
  name.title = photo.file.name;
  // A file the browser cannot show (a renamed text file): words where the picture would be, not a broken image.
  img.addEventListener("error", () => {
    card.classList.add("no-preview");
    img.hidden = true;
    const words = document.createElement("span");
    words.className = "thumb-missing";
    words.textContent = "No picture to show";
    img.after(words);
  });
  card.querySelector(".remove-photo").addEventListener("click", () => removePhoto(photo));
  const select = card.querySelector(".view-select");
  const angle = card.querySelector(".view-angle");
  select.addEventListener("change", () => {
    angle.hidden = select.value !== "angle";
    if (!angle.hidden) angle.focus();
    updateViews();
  });
  angle.addEventListener("input", updateViews);
  return card;
}

async function checkOutline(photo) {
  const status = photo.card.querySelector(".outline-status");
  status.textContent = "Finding the object…";
  const answer = await detectOutline(photo.file);
  if (!photos.includes(photo)) return; // removed meanwhile
  if (!answer.ok) {
    if (answer.status === 0 || answer.status >= 500) {
      // Only the preview failed; the build checks the photo again.
      status.textContent = `The outline could not be checked: ${answer.error}`;
      photo.state = "good";
    } else {
      // The reason goes on the photo's own card, where the maker is looking.
      status.textContent = `Can't be used: ${answer.error}`;
      status.className = "outline-status bad";
      photo.card.classList.add("refused");
      photo.state = "bad";
      showError(refusalSummary());
    }
    changed();
    return;
  }
  const data = answer.data;
  drawOutline(photo.card.querySelector(".outline-canvas"), data);
  const how = data.source === "alpha" ? "from its transparency" : "cut from the background";
  status.textContent = `${data.width} × ${data.height} px, outline ${how}.`;
  status.className = "outline-status good";
  if (data.note) {
    // A large JPEG decoded reduced: say so, with the library's own line in full on hover.
    const scaled = document.createElement("span");
    scaled.className = "scaled-note";
    scaled.textContent = " Scaled down from a larger photo.";
    scaled.title = data.note;
    status.append(scaled);
    status.title = data.note;
  }
  photo.state = "good";
  changed();
}

/** Add photos (from the file picker, a drop or a paste), up to the most a job takes. */
export function addPhotos(files) {
  const room = maxPhotos() - photos.length;
  const chosen = Array.from(files || []);
  if (!chosen.length) return;
  showError(chosen.length > room
    ? `A model is built from at most ${maxPhotos()} photos; ${room > 0 ? `only the first ${room} were added` : "remove one to add another"}.`
    : "");
  for (const file of chosen.slice(0, Math.max(0, room))) {
    const photo = { id: nextId++, file, url: URL.createObjectURL(file), state: "checking", card: null };
    photo.card = makeCard(photo);
    const used = new Set(photos.map(viewOf));
    photos.push(photo);
    $("photo-list").append(photo.card);
    setView(photo, SUGGESTED_VIEWS.find((v) => !used.has(v)) || "front");
    if (!$("title").value && photos.length === 1) $("title").placeholder = titleFromName(file.name);
    checkOutline(photo);
  }
  $("drop-zone").classList.toggle("has-photo", photos.length > 0);
  updateViews();
  photosChanged();
  changed();
}

/** The request body: every photo as a repeated `photo` field, then every option field that is set. */
export function formData() {
  updateViews();
  const data = new FormData();
  for (const photo of photos) data.append("photo", photo.file, photo.file.name);
  for (const el of $("build-form").elements) {
    if (!el.name || el.disabled) continue;
    const value = String(el.value).trim();
    if (value !== "") data.append(el.name, value); // empty = unset: the library's default
  }
  return data;
}

export function setupPhotos({ onChange, onError, onPhotosChanged }) {
  changed = onChange;
  showError = onError;
  if (onPhotosChanged) photosChanged = onPhotosChanged;
  const input = $("photo-input");
  input.addEventListener("change", () => {
    addPhotos(input.files);
    input.value = ""; // choosing the same file again still adds it
  });
  const zone = $("drop-zone");
  const stop = (e) => { e.preventDefault(); e.stopPropagation(); };
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => { stop(e); zone.classList.add("drag-over"); }));
  ["dragleave", "dragend"].forEach((t) => zone.addEventListener(t, (e) => { stop(e); zone.classList.remove("drag-over"); }));
  zone.addEventListener("drop", (e) => {
    stop(e);
    zone.classList.remove("drag-over");
    addPhotos(e.dataTransfer && e.dataTransfer.files);
  });
  // A drop outside the zone must not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  window.addEventListener("paste", (e) => {
    const images = e.clipboardData ? Array.from(e.clipboardData.files || []).filter(isImageType) : [];
    if (images.length) addPhotos(images);
  });
  // Photos chosen before the script ran (restored by the browser) still count.
  if (input.files && input.files.length) addPhotos(input.files);
}

function describePrinter(p) {
  if (!p) return "";
  const volume = (p.build_volume_mm || []).map((n) => Math.round(n)).join(" × ");
  const slots = p.filament_slots > 1 ? `${p.filament_slots} filaments` : "single filament";
  const nozzle = p.nozzle_diameter_mm ? `, ${p.nozzle_diameter_mm} mm nozzle` : "";
  return `Build volume ${volume} mm, ${slots}${nozzle}.`;
}

/** The colours field offers what the chosen printer loads: auto, or 1 to its filament slots. */
function offerSlots(printer) {
  const input = $("colors");
  let list = $("colors-choices");
  if (!list) {
    list = document.createElement("datalist");
    list.id = "colors-choices";
    input.after(list);
    input.setAttribute("list", list.id);
  }
  const slots = printer ? Math.max(1, Number(printer.filament_slots) || 1) : 1;
  list.replaceChildren(...["auto", ...Array.from({ length: slots }, (_, i) => String(i + 1))].map((value) => {
    const option = document.createElement("option");
    option.value = value;
    return option;
  }));
  const note = $("colors-note");
  if (note && printer) {
    note.textContent = slots > 1
      ? `The ${printer.name} loads ${slots} filaments: auto uses one per distinct colour, up to ${slots}.`
      : `The ${printer.name} loads one filament at a time.`;
  }
}

/** The printer select remembers the maker's printer and shows its details under it. */
export function setupPrinterSelect(printerById) {
  const select = $("printer");
  const saved = localStorage.getItem("fabricate.printer");
  if (saved && printerById.has(saved)) select.value = saved;
  const update = () => {
    $("printer-note").textContent = describePrinter(printerById.get(select.value));
    offerSlots(printerById.get(select.value));
  };
  select.addEventListener("change", () => {
    localStorage.setItem("fabricate.printer", select.value);
    update();
  });
  update();
}
