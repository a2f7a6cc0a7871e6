// fabricate web page: photos → outlines → build job → live progress → 3D preview, report, downloads, share;
// the earlier models below. A reload during a build finds its job again (the id is kept for this tab).
import { createJob, deleteJob, followJob, jobLink, readJob, readReport } from "./api.js";
import { formData, photoCount, photosReady, setupPhotos, setupPrinterSelect } from "./form.js";
import { refreshHistory, setupHistory, updateHistoryJob } from "./history.js";
import { renderReport } from "./report.js";
import { setupChat } from "./chat.js";
import { setupShare } from "./share.js";
import { setupSpools, spoolName } from "./spools.js";
import { clearPreview, frameModelView, loadPreview, showView } from "./viewer.js";

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
//: sessionStorage key of the job this tab shows: a reload (or a crash of the tab) follows it again.
const JOB_KEY = "fabricate.job";

function rememberJob(job) {
  try { sessionStorage.setItem(JOB_KEY, job.id); } catch (_) { /* storage off: no reconnect, nothing else lost */ }
}

function forgetJob() {
  try { sessionStorage.removeItem(JOB_KEY); } catch (_) { /* as above */ }
}

const state = {
  job: null,           // the last job as the server described it
  events: null,        // its EventSource
  pollTimer: null,
  elapsedBase: 0,      // elapsed_s from the server ...
  elapsedAt: 0,        // ... and when it arrived (performance.now())
  elapsedTimer: null,
  building: false,
  finished: null,      // id of the job whose end has been shown
  announced: "",       // the last words given to screen readers (each stage once, not every tick)
  holdView: false,     // a build just ended and the maker has not touched the page since: keep the model in view
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
  announce(job.status === "succeeded" ? "Done: the model is ready." : stage);
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

/** Tell screen readers (a polite live region) when the words change; the ticking numbers stay silent. */
function announce(words) {
  if (words === state.announced) return;
  state.announced = words;
  $("progress-announce").textContent = words;
}

/** Keep what the maker is waiting for on screen (a phone stacks it below the form): the progress while it
 * builds, then the preview with the progress line above it. */
function bringIntoView() {
  const building = state.job && !FINISHED.includes(state.job.status);
  $(building ? "progress-box" : "result-view").scrollIntoView({ block: "nearest" });
}

/**
 * After a build, what arrives below the preview (the report, the chat's list of versions, which scrolls to
 * its newest line) must not pull the page away from the model; the maker's own scrolling or typing ends that.
 */
function holdViewUntilTouched() {
  state.holdView = true;
  bringIntoView();
}

function setupViewHold() {
  const release = () => { state.holdView = false; };
  for (const type of ["wheel", "touchstart", "pointerdown", "keydown"]) {
    window.addEventListener(type, release, { passive: true, capture: true });
  }
  new MutationObserver(() => { if (state.holdView) bringIntoView(); })
    .observe($("result"), { childList: true, subtree: true });
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
  else updateHistoryJob(job);
}

function finishJob(job) {
  if (state.finished === job.id) return;
  state.finished = job.id;
  stopWatching();
  tickElapsed();
  setBuilding(false);
  refreshHistory();
  if (job.status === "failed") showError(job.error ? `The build failed: ${job.error}` : "The build failed.");
  else showResult(job);
  holdViewUntilTouched();
}

/** When the event stream is not available: ask every second. */
function pollJob(id) {
  state.pollTimer = setTimeout(async () => {
    if (!isCurrent(id)) return;
    const answer = await readJob(id);
    if (answer.ok) onJobUpdate(answer.data);
    else if (answer.status === 404) {
      showError(answer.error);
      forgetJob();
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
  clearPreview("The 3D preview appears here when the model is built.");
  setBuilding(true);
  const answer = await createJob(formData());
  if (!answer.ok) {
    setBuilding(false);
    showError(answer.error);
    return;
  }
  followOnPage(answer.data);
  refreshHistory();
}

/** Show `job` on the page: its progress while it runs (followed live), then its result. */
function followOnPage(job) {
  stopWatching();
  state.finished = null;
  state.announced = "";
  state.job = job;
  rememberJob(job);
  showProgress(job);
  bringIntoView();
  if (FINISHED.includes(job.status)) finishJob(job);
  else {
    setBuilding(true);
    watchJob(job);
  }
}

/** After a reload: the job this tab was showing, running or finished, if the server still has it. */
async function reconnect() {
  let id = null;
  try { id = sessionStorage.getItem(JOB_KEY); } catch (_) { return; }
  if (!id) return;
  const answer = await readJob(id);
  if (!answer.ok) {
    if (answer.status === 404) forgetJob(); // deleted meanwhile
    return;
  }
  if (state.job) return; // the maker started something else meanwhile
  followOnPage(answer.data);
}

/** An earlier model from the list: shown (or followed) here. */
function openEarlier(job) {
  showError("");
  resetResult();
  followOnPage(job);
}

/** The photos changed: a shown model (and its report) is no longer theirs. A running build stays. */
function photosChanged() {
  if (state.building || !state.job) return;
  state.job = null; // a preview still loading is dropped when it arrives
  forgetJob();
  resetResult();
  clearPreview();
}

function jobDeleted(job) {
  if (!isCurrent(job.id)) return;
  state.finished = job.id;
  stopWatching();
  setBuilding(false);
  state.job = null;
  forgetJob();
  resetResult();
  clearPreview();
}

async function cancelBuild() {
  const job = state.job;
  if (!job) return;
  state.finished = job.id;
  stopWatching();
  setBuilding(false);
  $("stage").textContent = "Cancelled";
  announce("Cancelled");
  forgetJob();
  const answer = await deleteJob(job);
  if (!answer.ok && answer.status !== 404) showError(answer.error);
  refreshHistory();
}

// ---------------------------------------------------------------- result: report, downloads (sharing: share.js)

function resetResult() {
  $("result").hidden = true;
  $("report").replaceChildren();
  $("progress-box").hidden = true;
}

async function showResult(job) {
  for (const [id, name] of [["download-3mf", "model.3mf"], ["download-stl", "model.stl"], ["download-glb", "model.glb"]]) {
    const a = $(id);
    a.href = jobLink(job, name);
    a.setAttribute("download", ""); // the server names the file after the title or photo
  }
  $("result").hidden = false;

  let report = job.result;
  if (!report) {
    const answer = await readReport(job); // the report is optional for the preview
    if (answer.ok) report = answer.data;
  }
  if (report) renderReport($("report"), report, jobLink(job, "report.json"), printerName, { spoolName });
  const printerId = (report && report.fit && report.fit.printer) || (job.options && job.options.printer);
  // In view again once the model is drawn: what arrived meanwhile (the report, the chat) may have moved the page.
  loadPreview(jobLink(job, "model.3mf"), printerById.get(printerId), () => isCurrent(job.id),
    () => { if (state.holdView) bringIntoView(); });
}

// ---------------------------------------------------------------- start

function main() {
  setupPrinterSelect(printerById);
  setupShare(() => state.job);
  $("build-form").addEventListener("submit", startBuild);
  $("cancel-button").addEventListener("click", cancelBuild);
  $("view-model").addEventListener("click", () => frameModelView(false));
  $("view-printer").addEventListener("click", () => frameModelView(true));
  for (const button of document.querySelectorAll("[data-view]")) {
    button.addEventListener("click", () => showView(button.dataset.view));
  }
  setupSpools();
  setupViewHold();
  setupPhotos({ onChange: updateBuildButton, onError: showError, onPhotosChanged: photosChanged });
  setupChat({ job: () => state.job, printer: (id) => printerById.get(id), printerName });
  setupHistory({ open: openEarlier, deleted: jobDeleted, current: () => state.job });
  updateBuildButton();
  reconnect();
}

main();
