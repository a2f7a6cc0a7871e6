// The chat beside the preview of a finished job: each message is an edit (POST /api/jobs/{id}/edits),
// each answer a new version whose preview, report and download replace the shown ones. The
// operations come back in plain words; an instruction not understood shows what works.
import { createEdit, listVersions, jobLink } from "./api.js";
import { el, renderReport } from "./report.js";
import { loadPreview } from "./viewer.js";

const $ = (id) => document.getElementById(id);

const chat = { job: null, busy: false, undo: 0, redo: 0 };

function say(who, lines, download) {
  const item = el("li", { class: `chat-${who}` });
  for (const line of lines) item.append(el("p", {}, line));
  if (download) item.append(el("a", { href: download.href, download: "", class: "chat-version-link" }, download.label));
  $("chat-log").append(item);
  $("chat-log").scrollTop = $("chat-log").scrollHeight;  // the log only: never scroll the page away
  return item;
}

function setBusy(busy) {
  chat.busy = busy;
  $("chat-send").disabled = busy;
  $("chat-input").disabled = busy;
  $("chat-undo").disabled = busy || chat.undo < 1;
  $("chat-redo").disabled = busy || chat.redo < 1;
}

function showVersion(version, deps) {
  chat.undo = version.undo_available;
  chat.redo = version.redo_available;
  const link = $("chat-download");
  link.href = version.download;
  link.hidden = false;
  link.textContent = `Download version ${version.step}`;
  const job = chat.job;
  if (version.report) renderReport($("report"), version.report, jobLink(job, "report.json"), deps.printerName);
  const printer = deps.printer((job.options && job.options.printer) || (version.report && version.report.fit.printer));
  loadPreview(version.download, printer, () => chat.job === job);
}

async function send(body, words, deps) {
  if (chat.busy || !chat.job) return;
  $("chat-error").hidden = true;
  say("user", [words]);
  setBusy(true);
  const answer = await createEdit(chat.job, body);
  setBusy(false);
  if (!answer.ok) {
    // Not understood (422) lists what works; nothing changed.
    say("reply", [answer.error, "Nothing was changed."]).classList.add("chat-refused");
    return;
  }
  const version = answer.data;
  const what = body.undo ? ["Undone."] : body.redo ? ["Redone."] : version.summary;
  say("reply", [...what, `Version ${version.step} (history version ${version.version}).`],
    { href: version.download, label: `Download version ${version.step} (3MF)` });
  showVersion(version, deps);
  setBusy(false);
}

async function openJob(job, deps) {
  chat.job = job;
  chat.undo = 0;
  chat.redo = 0;
  $("chat-log").replaceChildren();
  $("chat-download").hidden = true;
  $("chat-error").hidden = true;
  $("chat").hidden = false;
  setBusy(false);
  const answer = await listVersions(job);
  if (chat.job !== job) return;
  if (!answer.ok) {
    $("chat-error").textContent = answer.error;
    $("chat-error").hidden = false;
    return;
  }
  // A job edited before (another tab, a reload): its versions, each with its download.
  for (const version of answer.data) {
    say("reply", version.step === 0 ? ["The model as made."] : version.summary,
      { href: version.download, label: `Download version ${version.step} (3MF)` });
  }
  const last = answer.data[answer.data.length - 1];
  chat.undo = last.undo_available;
  chat.redo = last.redo_available;
  setBusy(false);
}

/** Follow the page's finished job (`deps.job()`) and edit it; `deps.printer(id)`, `deps.printerName(id)`. */
export function setupChat(deps) {
  const form = $("chat-form");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text) return;
    $("chat-input").value = "";
    send({ text }, text, deps);
  });
  $("chat-undo").addEventListener("click", () => send({ undo: 1 }, "Undo", deps));
  $("chat-redo").addEventListener("click", () => send({ redo: 1 }, "Redo", deps));
  // The chat opens when the page shows a finished job's result, and starts afresh for each job.
  const result = $("result");
  new MutationObserver(() => {
    const job = deps.job();
    if (result.hidden) $("chat").hidden = true;
    else if (job && job.status === "succeeded" && (!chat.job || chat.job.id !== job.id)) openJob(job, deps);
  }).observe(result, { attributes: true, attributeFilter: ["hidden"] });
}
