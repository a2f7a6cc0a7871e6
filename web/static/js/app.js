// fabricate web page: photos → outlines → build job → live progress → 3D preview, report, downloads, share.
import { createJob, deleteJob, followJob, jobLink, readJob, readReport, shareJob } from "./api.js";
import { firstPhotoName, formData, photoCount, photosReady, setupPhotos, setupPrinterSelect, titleFromName } from "./form.js";
import { renderReport } from "./report.js";
import { frameModelView, loadPreview } from "./viewer.js";

const $ = (id) => document.getElementById(id);

const printers = JSON.parse($("printers-data").textContent || "[]");
const printerById = new Map(printers.map((p) => [p.id, p]));
const printerName = (id) => (printerById.get(id) || { name: id }).name;

const STAGE_WORDS = {
  image: "Reading the photos",
  reconstruct: "Building the 3D shape",
  mesh: "Making a watertight mesh",
  color: "Colouring",
  printing: "Fitting it to the printer",
  export: "Writing the files",
};
const FINISHED = ["succeeded", "failed"];

const state = {
  job: null,           // the last job as the server described it
  events: null,        // its EventSource
  pollTimer: null,
  elapsedBase: 0,      // elapsed_s from the server ...
  elapsedAt: 0,        // ... and when it arrived (performance.now())
  elapsedTimer: null,
  building: false,
  finished: null,      // id of the job whose end has been shown
};

const isCurrent = (id) => state.job && state.job.id === id;

// ---------------------------------------------------------------- errors

/** The server's details start in lower case; show them as a sentence. */
function sentence(text) {
  text = String(text).trim();
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

function showError(message) {
  const box = $("error");
  box.textContent = message ? sentence(message) : "";
  box.hidden = !message;
}

// ---------------------------------------------------------------- build button

function updateBuildButton() {
  $("build-button").disabled = state.building || !photosReady();
  const hint = $("build-hint");
  if (state.building) hint.textContent = "Building…";
  else if (!photoCount()) hint.textContent = "Choose a photo to start.";
  else if (!photosReady()) hint.textContent = "Remove the photo that can't be used.";
  else hint.textContent = photoCount() > 1 ? `${photoCount()} photos, one model.` : "";
}

function setBuilding(building) {
  state.building = building;
  $("cancel-button").hidden = !building;
  updateBuildButton();
}

// ---------------------------------------------------------------- progress

function formatElapsed(s) {
  s = Math.max(0, Math.floor(s));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

function tickElapsed() {
  const job = state.job;
  if (!job) return;
  let s = state.elapsedBase;
  if (!FINISHED.includes(job.status)) s += (performance.now() - state.elapsedAt) / 1000;
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
  } else {
    // "100 %" only ever means a finished model.
    percent = Math.min(Math.floor(percent), 99);
    stage = job.status === "failed" ? "Failed" : job.status === "queued" ? "Waiting in the queue"
      : STAGE_WORDS[job.stage] || (job.stage ? String(job.stage) : "Starting");
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

function onJobUpdate(job) {
  if (!isCurrent(job.id)) return;
  showProgress(job);
  if (FINISHED.includes(job.status)) finishJob(job);
}

function finishJob(job) {
  if (state.finished === job.id) return;
  state.finished = job.id;
  stopWatching();
  tickElapsed();
  setBuilding(false);
  if (job.status === "failed") showError(job.error ? `The build failed: ${job.error}` : "The build failed.");
  else showResult(job);
}

/** When the event stream is not available: ask every second. */
function pollJob(id) {
  state.pollTimer = setTimeout(async () => {
    if (!isCurrent(id)) return;
    const answer = await readJob(id);
    if (answer.ok) onJobUpdate(answer.data);
    else if (answer.status === 404) {
      showError(answer.error);
      state.finished = id;
      stopWatching();
      setBuilding(false);
      return;
    }
    if (isCurrent(id) && !FINISHED.includes(state.job.status)) pollJob(id);
  }, 1000);
}

function watchJob(job) {
  state.elapsedTimer = setInterval(tickElapsed, 250);
  state.events = followJob(job, onJobUpdate, (detail) => {
    if (detail) showError(detail);
    state.events = null;
    if (isCurrent(job.id) && !FINISHED.includes(state.job.status)) pollJob(job.id);
  });
}

async function startBuild(event) {
  event.preventDefault();
  showError("");
  if (!photosReady()) {
    showError(photoCount() ? "Remove the photo that can't be used first." : "Choose a photo first.");
    return;
  }
  if (!$("build-form").reportValidity()) return;
  stopWatching();
  resetResult();
  setBuilding(true);
  const answer = await createJob(formData());
  if (!answer.ok) {
    setBuilding(false);
    showError(answer.error);
    return;
  }
  const job = answer.data;
  state.finished = null;
  state.job = job;
  showProgress(job);
  if (FINISHED.includes(job.status)) finishJob(job);
  else watchJob(job);
}

async function cancelBuild() {
  const job = state.job;
  if (!job) return;
  state.finished = job.id;
  stopWatching();
  setBuilding(false);
  $("stage").textContent = "Cancelled";
  const answer = await deleteJob(job);
  if (!answer.ok && answer.status !== 404) showError(answer.error);
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
  $("share-title").value = $("title").value || titleFromName(job.photo_name || firstPhotoName() || "model");
  if (job.share_url) showShareUrl(job.share_url);
  $("result").hidden = false;

  let report = job.result;
  if (!report) {
    const answer = await readReport(job); // the report is optional for the preview
    if (answer.ok) report = answer.data;
  }
  if (report) renderReport($("report"), report, jobLink(job, "report.json"), printerName);
  const printerId = (report && report.fit && report.fit.printer) || (job.options && job.options.printer);
  loadPreview(jobLink(job, "model.3mf"), printerById.get(printerId), () => isCurrent(job.id));
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
    const answer = await shareJob(state.job, body);
    submit.disabled = false;
    submit.textContent = "Share";
    if (!answer.ok) {
      errorBox.textContent = `Sharing failed: ${answer.error}`;
      errorBox.hidden = false;
    } else if (answer.data.share_url) {
      showShareUrl(answer.data.share_url);
      form.hidden = true;
    }
  });
}

// ---------------------------------------------------------------- start

function main() {
  setupPrinterSelect(printerById);
  setupShare();
  $("build-form").addEventListener("submit", startBuild);
  $("cancel-button").addEventListener("click", cancelBuild);
  $("view-model").addEventListener("click", () => frameModelView(false));
  $("view-printer").addEventListener("click", () => frameModelView(true));
  setupPhotos({ onChange: updateBuildButton, onError: showError });
  updateBuildButton();
}

main();
