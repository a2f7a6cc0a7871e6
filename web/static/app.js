// fabricate web page: photo → outline → build job → live progress → 3D preview, report, downloads, share.
import * as THREE from "three";
import { ThreeMFLoader } from "three/addons/loaders/3MFLoader.js";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

const $ = (id) => document.getElementById(id);

const PREVIEW_BACKGROUND = 0xe9ecef;
// Readiness hook for tests and curious users: frames rendered with the model in the scene.
window.__preview = { frames: 0, error: null, meshes: 0, background: "#e9ecef" };

const printers = JSON.parse($("printers-data").textContent || "[]");
const printerById = new Map(printers.map((p) => [p.id, p]));

const STAGE_WORDS = {
  image: "Reading the photo",
  reconstruct: "Building the 3D shape",
  mesh: "Making a watertight mesh",
  color: "Colouring",
  printing: "Fitting it to the printer",
  export: "Writing the files",
};

const FIELD_WORDS = {
  photo: "Photo", printer: "Printer", height_mm: "Height", resolution: "Detail", colors: "Colours",
  preset: "Preset", layer_height: "Layer height", infill: "Infill", supports: "Supports", brim_mm: "Brim",
  orientation: "Orientation", back: "Back side", title: "Title", description: "Description",
  licence: "Licence", tags: "Tags",
};

const state = {
  file: null,          // the chosen photo (File)
  photoOk: false,      // false when the outline call said the file can't be used
  outlineToken: 0,     // ignores answers for an older photo
  thumbUrl: null,
  job: null,           // last job object
  events: null,        // EventSource
  pollTimer: null,
  elapsedBase: 0,      // elapsed_s from the server ...
  elapsedAt: 0,        // ... and when we received it (performance.now())
  elapsedTimer: null,
  building: false,
};

// ---------------------------------------------------------------- errors

/** Turn a failed fetch Response into one plain sentence. */
async function errorText(response) {
  let detail = null;
  try {
    const body = await response.json();
    detail = body && body.detail;
  } catch (_) { /* not JSON */ }
  if (Array.isArray(detail)) {
    // FastAPI validation errors: [{loc: [..., "field"], msg}]
    detail = detail.map((d) => {
      const loc = Array.isArray(d.loc) ? d.loc[d.loc.length - 1] : "";
      const name = FIELD_WORDS[loc] || loc;
      return name ? `${name}: ${d.msg}` : d.msg;
    }).join("; ");
  } else if (detail && typeof detail === "object") {
    detail = detail.message || JSON.stringify(detail);
  }
  if (!detail) {
    if (response.status === 413) detail = "The photo is too large.";
    else if (response.status >= 500) detail = `The server had a problem (error ${response.status}). Please try again.`;
    else detail = `The request was refused (error ${response.status}).`;
  }
  return String(detail);
}

function showError(message) {
  const box = $("error");
  if (!message) {
    box.textContent = "";
    box.hidden = true;
    return;
  }
  box.textContent = sentence(message);
  box.hidden = false;
}

/** The server's details start in lower case; show them as a sentence. */
function sentence(text) {
  text = String(text).trim();
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

function networkWords(err) {
  return `Could not reach the fabricate server (${err && err.message ? err.message : err}). Is it still running?`;
}

// ---------------------------------------------------------------- photo + outline

function updateBuildButton() {
  const btn = $("build-button");
  btn.disabled = state.building || !state.file || !state.photoOk;
  const hint = $("build-hint");
  if (state.building) hint.textContent = "Building…";
  else if (!state.file) hint.textContent = "Choose a photo to start.";
  else if (!state.photoOk) hint.textContent = "Choose another photo.";
  else hint.textContent = "";
}

function clearOutline() {
  const canvas = $("outline-canvas");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
}

function drawOutline(data) {
  const canvas = $("outline-canvas");
  canvas.width = data.width;
  canvas.height = data.height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const pts = data.outline || [];
  if (pts.length < 2) return;
  const lw = Math.max(2, Math.round(Math.max(data.width, data.height) / 160));
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

async function choosePhoto(file) {
  if (!file) return;
  state.file = file;
  state.photoOk = true;
  showError("");
  const token = ++state.outlineToken;

  if (state.thumbUrl) URL.revokeObjectURL(state.thumbUrl);
  state.thumbUrl = URL.createObjectURL(file);
  const img = $("thumb-img");
  img.src = state.thumbUrl;
  img.alt = `The chosen photo, ${file.name}`;
  $("thumb").hidden = false;
  $("drop-zone").classList.add("has-photo");
  clearOutline();
  const status = $("outline-status");
  status.textContent = `${file.name}: finding the object…`;
  status.className = "";
  if (!$("title").value) $("title").placeholder = titleFromName(file.name);
  updateBuildButton();

  const body = new FormData();
  body.append("photo", file, file.name);
  let response;
  try {
    response = await fetch("/api/outline", { method: "POST", body });
  } catch (err) {
    if (token !== state.outlineToken) return;
    status.textContent = `${file.name}: the outline could not be checked.`;
    showError(networkWords(err));
    return;
  }
  if (token !== state.outlineToken) return;
  if (!response.ok) {
    const message = await errorText(response);
    if (response.status === 404 || response.status === 405) {
      // The outline is only a preview; an older server without it can still build.
      status.textContent = `${file.name}`;
      return;
    }
    status.textContent = `${file.name}: this photo can't be used.`;
    status.className = "bad";
    if (response.status < 500) {
      state.photoOk = false;
      $("thumb-img").alt = "";
      if (!isImageType(file)) $("thumb-img").removeAttribute("src");
    }
    updateBuildButton();
    showError(message);
    return;
  }
  const data = await response.json();
  drawOutline(data);
  const how = data.source === "alpha" ? "from the photo's transparency" : "separated from the background";
  status.textContent = `${file.name}: ${data.width} × ${data.height} px, object outline ${how}.`;
  status.className = "good";
}

function isImageType(file) {
  return /^image\//.test(file.type || "");
}

function titleFromName(name) {
  return name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").trim() || "model";
}

function setupPhotoInput() {
  const input = $("photo-input");
  input.addEventListener("change", () => {
    if (input.files && input.files[0]) choosePhoto(input.files[0]);
  });
  const zone = $("drop-zone");
  const stop = (e) => { e.preventDefault(); e.stopPropagation(); };
  ["dragenter", "dragover"].forEach((t) => zone.addEventListener(t, (e) => {
    stop(e);
    zone.classList.add("drag-over");
  }));
  ["dragleave", "dragend"].forEach((t) => zone.addEventListener(t, (e) => {
    stop(e);
    zone.classList.remove("drag-over");
  }));
  zone.addEventListener("drop", (e) => {
    stop(e);
    zone.classList.remove("drag-over");
    const files = e.dataTransfer && e.dataTransfer.files;
    if (files && files.length) {
      try { input.files = files; } catch (_) { /* older browsers: keep state.file only */ }
      choosePhoto(files[0]);
    }
  });
  // Don't let a drop outside the zone navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  // Paste an image from the clipboard.
  window.addEventListener("paste", (e) => {
    const items = e.clipboardData ? Array.from(e.clipboardData.files || []) : [];
    const image = items.find(isImageType);
    if (image) choosePhoto(image);
  });
}

// ---------------------------------------------------------------- printer select

function describePrinter(p) {
  if (!p) return "";
  const v = (p.build_volume_mm || []).map((n) => Math.round(n)).join(" × ");
  const slots = p.filament_slots > 1 ? `${p.filament_slots} filaments` : "single filament";
  const nozzle = p.nozzle_diameter_mm ? `, ${p.nozzle_diameter_mm} mm nozzle` : "";
  return `Build volume ${v} mm, ${slots}${nozzle}.`;
}

function setupPrinterSelect() {
  const select = $("printer");
  const saved = localStorage.getItem("fabricate.printer");
  if (saved && printerById.has(saved)) select.value = saved;
  const update = () => {
    const p = printerById.get(select.value);
    $("printer-info").textContent = describePrinter(p);
    const slots = p ? Math.max(1, Math.min(16, p.filament_slots || 1)) : null;
    $("colors").placeholder = slots ? `auto (${slots > 1 ? 4 : 1})` : "auto";
    if (p && p.build_volume_mm) $("height-mm").max = String(p.build_volume_mm[2]);
  };
  select.addEventListener("change", () => {
    localStorage.setItem("fabricate.printer", select.value);
    update();
  });
  update();
}

// ---------------------------------------------------------------- build + progress

function formToData() {
  const form = $("build-form");
  const data = new FormData();
  data.append("photo", state.file, state.file.name);
  for (const el of form.elements) {
    if (!el.name || el.name === "photo" || el.disabled) continue;
    const value = String(el.value).trim();
    if (value !== "") data.append(el.name, value);
  }
  return data;
}

function formatElapsed(s) {
  s = Math.max(0, Math.floor(s));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(s % 60).padStart(2, "0")} s`;
}

function tickElapsed() {
  const job = state.job;
  if (!job) return;
  let s = state.elapsedBase;
  if (job.status === "queued" || job.status === "running") s += (performance.now() - state.elapsedAt) / 1000;
  $("elapsed").textContent = formatElapsed(s);
}

function showProgress(job) {
  state.job = job;
  state.elapsedBase = Number(job.elapsed_s) || 0;
  state.elapsedAt = performance.now();
  $("progress-box").hidden = false;
  let percent = Math.max(0, Math.min(100, Number(job.progress) || 0));
  let stage;
  if (job.status === "succeeded") {
    percent = 100;
    stage = "Done";
  } else if (job.status === "failed") {
    stage = "Failed";
    percent = Math.min(Math.floor(percent), 99); // "100 %" only ever means a finished model
  } else if (job.status === "queued") {
    stage = "Waiting in the queue";
    percent = Math.min(percent, 99);
  } else {
    stage = STAGE_WORDS[job.stage] || (job.stage ? String(job.stage) : "Starting");
    percent = Math.min(Math.floor(percent), 99);
  }
  percent = Math.round(percent);
  $("stage").textContent = stage;
  $("progress-bar").value = percent;
  $("progress-bar").textContent = `${percent} %`;
  $("progress-percent").textContent = `${percent} %`;
  $("progress-box").classList.toggle("failed", job.status === "failed");
  $("progress-box").classList.toggle("succeeded", job.status === "succeeded");
  const qp = job.queue_position;
  $("queue-position").textContent = job.status === "queued" && qp != null
    ? (qp <= 1 ? "Next in the queue" : `Position ${qp} in the queue`) : "";
  tickElapsed();
}

function stopWatching() {
  if (state.events) { state.events.close(); state.events = null; }
  if (state.pollTimer) { clearTimeout(state.pollTimer); state.pollTimer = null; }
  if (state.elapsedTimer) { clearInterval(state.elapsedTimer); state.elapsedTimer = null; }
}

function jobLink(job, name) {
  return (job.links && job.links[name]) || `/api/jobs/${encodeURIComponent(job.id)}/${name}`;
}

function onJobUpdate(job) {
  if (!state.job || job.id !== state.job.id) return;
  showProgress(job);
  if (job.status === "succeeded" || job.status === "failed") finishJob(job);
}

let finishing = null;
function finishJob(job) {
  if (finishing === job.id) return;
  finishing = job.id;
  stopWatching();
  tickElapsed();
  state.building = false;
  $("cancel-button").hidden = true;
  updateBuildButton();
  if (job.status === "failed") {
    showError(job.error ? `The build failed: ${job.error}` : "The build failed.");
    return;
  }
  showResult(job);
}

function pollJob(id) {
  state.pollTimer = setTimeout(async () => {
    if (!state.job || state.job.id !== id) return;
    try {
      const response = await fetch(`/api/jobs/${encodeURIComponent(id)}`);
      if (!response.ok) {
        showError(await errorText(response));
        finishing = id;
        stopWatching();
        state.building = false;
        $("cancel-button").hidden = true;
        updateBuildButton();
        return;
      }
      onJobUpdate(await response.json());
    } catch (_) { /* keep trying */ }
    if (state.job && state.job.id === id && !["succeeded", "failed"].includes(state.job.status)) pollJob(id);
  }, 1000);
}

function watchJob(job) {
  const id = job.id;
  state.elapsedTimer = setInterval(tickElapsed, 250);
  let es;
  try {
    es = new EventSource(jobLink(job, "events"));
  } catch (_) {
    pollJob(id);
    return;
  }
  state.events = es;
  const handle = (e) => {
    try { onJobUpdate(JSON.parse(e.data)); } catch (err) { console.warn("bad event", err); }
  };
  es.addEventListener("progress", handle);
  es.addEventListener("done", handle);
  es.onmessage = handle;
  es.onerror = (e) => {
    // The stream broke, the server closed it, or it sent `event: error` with a detail:
    // fall back to asking now and then (which reports a vanished job in words).
    if (e && e.data) {
      try { const d = JSON.parse(e.data); if (d && d.detail) showError(d.detail); } catch (_) { /* ignore */ }
    }
    if (state.events === es) {
      es.close();
      state.events = null;
      if (state.job && state.job.id === id && !["succeeded", "failed"].includes(state.job.status)) pollJob(id);
    }
  };
}

async function startBuild(event) {
  event.preventDefault();
  showError("");
  const form = $("build-form");
  if (!state.file) {
    showError("Choose a photo first.");
    return;
  }
  if (!form.reportValidity()) return;
  stopWatching();
  resetResult();
  state.building = true;
  updateBuildButton();
  let response;
  try {
    response = await fetch("/api/jobs", { method: "POST", body: formToData() });
  } catch (err) {
    state.building = false;
    updateBuildButton();
    showError(networkWords(err));
    return;
  }
  if (!response.ok) {
    state.building = false;
    updateBuildButton();
    showError(await errorText(response));
    return;
  }
  const job = await response.json();
  finishing = null;
  state.job = job;
  $("cancel-button").hidden = false;
  showProgress(job);
  if (job.status === "succeeded" || job.status === "failed") finishJob(job);
  else watchJob(job);
}

async function cancelBuild() {
  const job = state.job;
  if (!job) return;
  finishing = job.id;
  stopWatching();
  state.building = false;
  $("cancel-button").hidden = true;
  updateBuildButton();
  $("stage").textContent = "Cancelled";
  try {
    const response = await fetch(jobLink(job, "self"), { method: "DELETE" });
    if (!response.ok && response.status !== 404) showError(await errorText(response));
  } catch (err) {
    showError(networkWords(err));
  }
}

// ---------------------------------------------------------------- result: report, downloads, share

function resetResult() {
  $("result").hidden = true;
  $("report").replaceChildren();
  $("share-form").hidden = true;
  $("share-result").hidden = true;
  $("share-error").hidden = true;
  $("progress-box").hidden = true;
}

async function showResult(job) {
  for (const [id, name] of [["download-3mf", "model.3mf"], ["download-stl", "model.stl"], ["download-glb", "model.glb"]]) {
    const a = $(id);
    a.href = jobLink(job, name);
    a.setAttribute("download", ""); // the server names the file after the title or photo
  }
  $("share-title").value = $("title").value || titleFromName(job.photo_name || "model");
  if (job.share_url) showShareUrl(job.share_url);
  $("result").hidden = false;

  let report = job.result;
  if (!report) {
    try {
      const response = await fetch(jobLink(job, "report.json"));
      if (response.ok) report = await response.json();
    } catch (_) { /* the report is optional for the preview */ }
  }
  if (report) renderReport(report, job);
  loadPreview(job, report);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "style") node.setAttribute("style", v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

const fmt = (n, digits = 0) => Number(n).toLocaleString("en-GB", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const cm2 = (mm2) => `${fmt(mm2 / 100, mm2 < 1000 ? 1 : 0)} cm²`;

function printerName(id) {
  const p = printerById.get(id);
  return p ? p.name : id;
}

function renderReport(report, job) {
  const v = report.validation || {};
  const fit = report.fit || {};
  const an = report.analysis || {};
  const ps = report.print_settings || {};
  const items = [];
  // ok: true (good, text ends in ✓), false (a problem, ✗), "warn" (worth a look), null (plain fact)
  const add = (ok, text, detail) => {
    const cls = ok === true ? "ok" : ok === false ? "bad" : ok === "warn" ? "warn" : "info";
    items.push(el("li", { class: cls },
      el("span", {}, text, detail ? el("span", { class: "detail" }, ` ${detail}`) : null)));
  };

  // Watertight
  const openEdges = Number(v.boundary_edges || 0);
  const nonManifold = Number(v.non_manifold_edges || 0);
  const flipped = Number(v.misoriented_edges || 0);
  const crossings = Number(v.self_intersections || 0);
  const watertight = openEdges === 0 && nonManifold === 0 && flipped === 0 && crossings === 0;
  if (watertight) add(true, "Watertight ✓", "(closed surface, no holes or crossing faces)");
  else {
    const bits = [];
    if (openEdges) bits.push(`${openEdges} open edges`);
    if (nonManifold) bits.push(`${nonManifold} non-manifold edges`);
    if (flipped) bits.push(`${flipped} flipped edges`);
    if (crossings) bits.push(`${crossings} self-intersections`);
    add(false, "Not watertight ✗", `(${bits.join(", ")})`);
  }

  // Fits the printer
  const pid = fit.printer || (job.options && job.options.printer);
  const size = fit.size_mm || v.size_mm;
  const usable = fit.usable_mm;
  let fits = true;
  if (size && usable) fits = size.every((s, i) => s <= usable[i] + 1e-6);
  if (pid) add(fits, fits ? `Fits the ${printerName(pid)} ✓` : `Does not fit the ${printerName(pid)} ✗`,
    usable ? `(usable space ${usable.map((n) => fmt(n)).join(" × ")} mm)` : null);

  if (size) add(null, `Size ${size.map((n) => fmt(n, 1)).join(" × ")} mm`, "(width × depth × height)");
  if (v.volume_mm3 != null) add(null, `Volume ${fmt(v.volume_mm3 / 1000, 1)} cm³`, "(solid; the print uses less with infill)");

  // Pieces
  const components = Number(v.components || 1);
  const floating = (an.floating_parts || []).length;
  if (components === 1 && !floating) add(true, "One solid piece ✓");
  else add(floating ? false : "warn", `${components} separate pieces`, floating ? `(${floating} would float in the air)` : null);

  // Overhangs
  const threshold = an.support_threshold_deg != null ? an.support_threshold_deg : 45;
  const ov = an.overhang_area_mm2 || {};
  const ovArea = ov[String(Math.round(threshold))] != null ? ov[String(Math.round(threshold))] : ov["45"];
  if (ovArea != null) {
    const surface = Number(an.surface_area_mm2 || 0);
    const share = surface > 0 ? ovArea / surface : 0;
    const supportsOn = ps.supports && ps.supports !== "off";
    let text, ok;
    if (ovArea < 1) { ok = true; text = "No overhangs need support ✓"; }
    else {
      ok = supportsOn || share < 0.02 ? null : "warn";
      text = `Overhangs needing support: ${cm2(ovArea)}`;
    }
    const detail = [];
    if (ovArea >= 1) detail.push(`(${fmt(share * 100, 0)} % of ${cm2(surface)}, flatter than ${fmt(threshold)}° from horizontal)`);
    if (ovArea >= 1 && !supportsOn && share >= 0.02) detail.push("Supports are off: turn them on, or try the least-support orientation.");
    if (an.recommended_pose && ovArea >= 1) detail.push(`Least-support pose: ${an.recommended_pose}.`);
    add(ok, text, detail.join(" ") || null);
  }

  // Thin walls
  const thin = an.thin_walls || [];
  const minWall = an.min_wall_mm;
  if (!thin.length) add(true, `No thin walls ✓`, minWall ? `(nothing thinner than ${fmt(minWall, 2)} mm)` : null);
  else {
    const thinnest = Math.min(...thin.map((t) => Number(t.thinnest_mm)));
    const tws = Number(an.thin_wall_share);
    const share = an.thin_wall_share == null ? ""
      : ` (${tws < 0.001 ? "under 0.1" : fmt(tws * 100, 1)} % of the surface)`;
    add("warn", `${thin.length} thin wall area${thin.length > 1 ? "s" : ""}, thinnest ${fmt(thinnest, 2)} mm${share}`,
      "They may print weakly or not at all; a larger height helps.");
  }

  for (const p of v.problems || []) add(false, String(p));
  for (const w of v.warnings || []) add("warn", String(w));

  const list = el("ul", { class: "checks" }, ...items);

  // Filaments
  const filaments = report.filaments || [];
  const swatches = el("ul", { class: "swatches", id: "filaments" }, ...filaments.map((f) =>
    el("li", { title: `${f.colour}` },
      el("span", { class: "swatch", style: `background:${/^#[0-9a-f]{6,8}$/i.test(f.colour) ? f.colour.slice(0, 7) : "#ccc"}` }),
      el("span", {}, `Filament ${f.filament}`),
      el("span", { class: "detail" }, ` ${String(f.colour).toUpperCase()} · ${fmt((f.area_share || 0) * 100, 0)} %`))));

  // Print settings
  const settings = [];
  if (ps.preset) settings.push(`${ps.preset} preset`);
  if (ps.layer_height) settings.push(`layer ${fmt(ps.layer_height, 2)} mm`);
  if (ps.wall_loops) settings.push(`${ps.wall_loops} walls`);
  if (ps.infill_density != null) settings.push(`infill ${fmt(ps.infill_density, 0)} %${ps.infill_pattern ? ` ${ps.infill_pattern}` : ""}`);
  if (ps.supports) settings.push(`supports ${ps.supports}`);
  if (ps.brim_width_mm != null) settings.push(`brim ${fmt(ps.brim_width_mm, 1)} mm`);
  if (fit.orientation) settings.push(`orientation: ${fit.orientation}`);

  const parts = [el("h3", {}, "Check"), list];
  if (filaments.length) parts.push(el("h3", {}, `Colours (${filaments.length} filament${filaments.length > 1 ? "s" : ""})`), swatches);
  if (settings.length) parts.push(el("h3", {}, "Print settings"), el("p", { class: "settings" }, settings.join(" · ")));
  parts.push(el("p", { class: "detail" }, el("a", { href: jobLink(job, "report.json"), target: "_blank", rel: "noopener" }, "Full report (JSON)")));
  $("report").replaceChildren(...parts);
}

function showShareUrl(url) {
  const a = $("share-url");
  a.href = url;
  a.textContent = url;
  $("share-result").hidden = false;
}

function setupShare() {
  const form = $("share-form");
  $("share-button").addEventListener("click", () => {
    form.hidden = !form.hidden;
    if (!form.hidden) $("share-title").focus();
  });
  $("share-cancel").addEventListener("click", () => { form.hidden = true; });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const errorBox = $("share-error");
    errorBox.hidden = true;
    if (!form.reportValidity() || !state.job) return;
    const body = {
      title: $("share-title").value.trim(),
      description: $("share-description").value.trim(),
      licence: $("share-licence").value,
      tags: $("share-tags").value.split(",").map((t) => t.trim()).filter(Boolean),
    };
    const submit = $("share-submit");
    submit.disabled = true;
    submit.textContent = "Sharing…";
    try {
      const response = await fetch(jobLink(state.job, "share"), {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (!response.ok) {
        errorBox.textContent = `Sharing failed: ${await errorText(response)}.`.replace(/\.\.$/, ".");
        errorBox.hidden = false;
        return;
      }
      const data = await response.json();
      if (data.share_url) {
        showShareUrl(data.share_url);
        form.hidden = true;
      }
    } catch (err) {
      errorBox.textContent = networkWords(err);
      errorBox.hidden = false;
    } finally {
      submit.disabled = false;
      submit.textContent = "Share";
    }
  });
}

// ---------------------------------------------------------------- 3D preview

const viewer = {
  renderer: null, scene: null, camera: null, controls: null,
  frame: null,        // printer frame: 3MF coordinates (Z up), rotated into three's Y-up world
  model: null, volume: null,
  modelBox: null, volumeBox: null,
  pending: false, hasModel: false,
};

function initViewer() {
  if (viewer.renderer) return true;
  const container = $("preview");
  let renderer;
  try {
    renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
  } catch (err) {
    window.__preview.error = `WebGL is not available in this browser: ${err.message || err}`;
    return false;
  }
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  renderer.outputColorSpace = THREE.SRGBColorSpace;
  container.replaceChildren(renderer.domElement);

  const scene = new THREE.Scene();
  scene.background = new THREE.Color(PREVIEW_BACKGROUND);
  const camera = new THREE.PerspectiveCamera(40, 1, 1, 20000);

  scene.add(new THREE.HemisphereLight(0xffffff, 0x8a8f99, 1.6));
  // Lights ride with the camera so the side you look at is always lit.
  const key = new THREE.DirectionalLight(0xffffff, 1.8);
  key.position.set(1, 1.6, 1.2);
  camera.add(key);
  const fill = new THREE.DirectionalLight(0xffffff, 0.6);
  fill.position.set(-1.2, 0.4, -0.8);
  camera.add(fill);
  for (const light of [key, fill]) {
    light.target.position.set(0, 0, -1); // shine along the view direction
    camera.add(light.target);
  }
  scene.add(camera);

  const frame = new THREE.Group();
  frame.rotation.x = -Math.PI / 2; // 3MF is Z-up, three.js is Y-up
  scene.add(frame);

  const controls = new OrbitControls(camera, renderer.domElement);
  controls.enableDamping = true;
  controls.dampingFactor = 0.12;
  controls.addEventListener("change", requestRender);

  Object.assign(viewer, { renderer, scene, camera, controls, frame });
  new ResizeObserver(resizeViewer).observe(container);
  resizeViewer();
  return true;
}

function resizeViewer() {
  if (!viewer.renderer) return;
  const container = $("preview");
  const w = Math.max(1, container.clientWidth);
  const h = Math.max(1, container.clientHeight);
  viewer.renderer.setSize(w, h, true);
  viewer.camera.aspect = w / h;
  viewer.camera.updateProjectionMatrix();
  requestRender();
}

function requestRender() {
  if (viewer.pending || !viewer.renderer) return;
  viewer.pending = true;
  requestAnimationFrame(renderFrame);
}

function renderFrame() {
  viewer.pending = false;
  const moving = viewer.controls.update();
  viewer.renderer.render(viewer.scene, viewer.camera);
  if (viewer.hasModel) window.__preview.frames += 1;
  if (moving) requestRender();
}

function buildVolume(printer) {
  const group = new THREE.Group();
  const [sx, sy, sz] = printer.build_volume_mm.map(Number);
  const [x0, y0] = (printer.bed_origin_mm || [0, 0]).map(Number);
  const lineMat = new THREE.LineBasicMaterial({ color: 0x5b6573 });
  if (printer.bed_shape === "circular") {
    const pts = [];
    const cx = x0 + sx / 2, cy = y0 + sy / 2;
    for (let i = 0; i < 96; i++) {
      const a0 = (i / 96) * Math.PI * 2, a1 = ((i + 1) / 96) * Math.PI * 2;
      for (const z of [0, sz]) {
        pts.push(new THREE.Vector3(cx + sx / 2 * Math.cos(a0), cy + sy / 2 * Math.sin(a0), z));
        pts.push(new THREE.Vector3(cx + sx / 2 * Math.cos(a1), cy + sy / 2 * Math.sin(a1), z));
      }
    }
    for (let i = 0; i < 4; i++) {
      const a = (i / 4) * Math.PI * 2;
      pts.push(new THREE.Vector3(cx + sx / 2 * Math.cos(a), cy + sy / 2 * Math.sin(a), 0));
      pts.push(new THREE.Vector3(cx + sx / 2 * Math.cos(a), cy + sy / 2 * Math.sin(a), sz));
    }
    group.add(new THREE.LineSegments(new THREE.BufferGeometry().setFromPoints(pts), lineMat));
    const disc = new THREE.Mesh(new THREE.CircleGeometry(sx / 2, 96),
      new THREE.MeshBasicMaterial({ color: 0xd3d8de, side: THREE.DoubleSide }));
    disc.position.set(cx, cy, -0.2);
    group.add(disc);
  } else {
    const box = new THREE.BoxGeometry(sx, sy, sz);
    const edges = new THREE.LineSegments(new THREE.EdgesGeometry(box), lineMat);
    edges.position.set(x0 + sx / 2, y0 + sy / 2, sz / 2);
    group.add(edges);
    const bed = new THREE.Mesh(new THREE.PlaneGeometry(sx, sy),
      new THREE.MeshBasicMaterial({ color: 0xd3d8de, side: THREE.DoubleSide }));
    bed.position.set(x0 + sx / 2, y0 + sy / 2, -0.2);
    group.add(bed);
    // 10 mm grid on the bed
    const grid = [];
    for (let x = 10; x < sx; x += 10) grid.push(new THREE.Vector3(x0 + x, y0, 0), new THREE.Vector3(x0 + x, y0 + sy, 0));
    for (let y = 10; y < sy; y += 10) grid.push(new THREE.Vector3(x0, y0 + y, 0), new THREE.Vector3(x0 + sx, y0 + y, 0));
    const gridLines = new THREE.LineSegments(new THREE.BufferGeometry().setFromPoints(grid),
      new THREE.LineBasicMaterial({ color: 0xbfc5cc }));
    gridLines.position.z = -0.1;
    group.add(gridLines);
  }
  // Mark the front edge of the bed (y = y0) with a short bar so the orientation is readable.
  const front = new THREE.Mesh(new THREE.BoxGeometry(Math.min(40, sx / 4), 2, 0.6),
    new THREE.MeshBasicMaterial({ color: 0x2f6fde }));
  front.position.set(x0 + sx / 2, y0 - 3, 0);
  group.add(front);
  const volumeBox = new THREE.Box3(new THREE.Vector3(x0, y0, 0), new THREE.Vector3(x0 + sx, y0 + sy, sz));
  return { group, volumeBox };
}

function disposeObject(obj) {
  obj.traverse((o) => {
    if (o.geometry) o.geometry.dispose();
    if (o.material) (Array.isArray(o.material) ? o.material : [o.material]).forEach((m) => m.dispose());
  });
}

/** Point the camera at a box given in printer coordinates (Z up). */
function frameBox(boxPrinter, target) {
  const box = boxPrinter.clone().applyMatrix4(viewer.frame.matrixWorld);
  const sphere = box.getBoundingSphere(new THREE.Sphere());
  const centre = target ? target.clone().applyMatrix4(viewer.frame.matrixWorld) : sphere.center;
  const fov = THREE.MathUtils.degToRad(viewer.camera.fov);
  const fitV = sphere.radius / Math.sin(fov / 2);
  const fitH = sphere.radius / Math.sin(Math.atan(Math.tan(fov / 2) * viewer.camera.aspect));
  const dist = Math.max(fitV, fitH) * 1.05;
  // From the front (-Y in printer terms = +Z in three), a little from the right and above.
  const dir = new THREE.Vector3(0.45, 0.5, 1).normalize();
  viewer.camera.position.copy(sphere.center).addScaledVector(dir, dist);
  viewer.camera.near = Math.max(0.1, dist / 100);
  viewer.camera.far = dist * 20;
  viewer.camera.updateProjectionMatrix();
  viewer.controls.target.copy(centre);
  viewer.controls.minDistance = sphere.radius * 0.05;
  viewer.controls.maxDistance = dist * 6;
  viewer.controls.update();
  requestRender();
}

function loadPreview(job, report) {
  window.__preview.frames = 0;
  window.__preview.error = null;
  window.__preview.meshes = 0;
  if (!initViewer()) {
    $("preview-placeholder").textContent = window.__preview.error;
    return;
  }
  viewer.hasModel = false;
  if (viewer.model) { viewer.frame.remove(viewer.model); disposeObject(viewer.model); viewer.model = null; }
  if (viewer.volume) { viewer.frame.remove(viewer.volume); disposeObject(viewer.volume); viewer.volume = null; }

  const printerId = (report && report.fit && report.fit.printer) || (job.options && job.options.printer) || $("printer").value;
  const printer = printerById.get(printerId);
  if (printer && printer.build_volume_mm) {
    const { group, volumeBox } = buildVolume(printer);
    viewer.volume = group;
    viewer.volumeBox = volumeBox;
    viewer.frame.add(group);
  } else {
    viewer.volumeBox = null;
  }
  $("preview-placeholder").textContent = "Loading the 3D preview…";
  $("preview-placeholder").hidden = false;

  const url = jobLink(job, "model.3mf");
  const loader = new ThreeMFLoader();
  loader.load(url, (object) => {
    if (!state.job || state.job.id !== job.id) return; // a newer job took over
    // The loader returns the model in 3MF coordinates (mm, Z up); the frame group turns it upright.
    viewer.model = object;
    viewer.frame.add(object);
    viewer.frame.updateMatrixWorld(true);
    let meshes = 0;
    object.traverse((o) => {
      if (o.isMesh) {
        meshes += 1;
        const mats = Array.isArray(o.material) ? o.material : [o.material];
        mats.forEach((m) => { m.side = THREE.FrontSide; });
      }
    });
    window.__preview.meshes = meshes;
    viewer.modelBox = new THREE.Box3().setFromObject(object);
    // setFromObject gives world coordinates; convert back to printer coordinates for framing.
    const inv = viewer.frame.matrixWorld.clone().invert();
    viewer.modelBox.applyMatrix4(inv);
    if (meshes === 0 || viewer.modelBox.isEmpty()) {
      window.__preview.error = "The 3MF file has no mesh to show.";
      $("preview-placeholder").textContent = window.__preview.error;
      return;
    }
    viewer.hasModel = true;
    $("preview-placeholder").hidden = true;
    $("preview-toolbar").hidden = false;
    frameModelView(!!viewer.volumeBox);
  }, undefined, (err) => {
    const message = err && err.message ? err.message : String(err);
    window.__preview.error = `The 3D preview could not be loaded: ${message}`;
    $("preview-placeholder").textContent = window.__preview.error;
    $("preview-placeholder").hidden = false;
  });
}

function frameModelView(wholePrinter) {
  if (!viewer.modelBox) return;
  const centre = viewer.modelBox.getCenter(new THREE.Vector3());
  if (wholePrinter && viewer.volumeBox) frameBox(viewer.volumeBox.clone().union(viewer.modelBox), centre);
  else frameBox(viewer.modelBox, centre);
}

// ---------------------------------------------------------------- start

function main() {
  setupPhotoInput();
  setupPrinterSelect();
  setupShare();
  $("build-form").addEventListener("submit", startBuild);
  $("cancel-button").addEventListener("click", cancelBuild);
  $("view-model").addEventListener("click", () => frameModelView(false));
  $("view-printer").addEventListener("click", () => frameModelView(true));
  updateBuildButton();
  // A photo chosen before the script ran (e.g. restored by the browser) still counts.
  const input = $("photo-input");
  if (input.files && input.files[0]) choosePhoto(input.files[0]);
}

main();
