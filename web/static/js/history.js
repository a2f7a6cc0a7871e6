// Earlier models: every job on this server (GET /api/jobs), newest first, each with its preview,
// title, state, downloads, a button to show it on the page again and one to delete it.
import { deleteJob, jobLink, listJobs } from "./api.js";
import { el } from "./report.js";

const $ = (id) => document.getElementById(id);
//: The list shows this many of the newest jobs (the server keeps them all; the API lists every one).
const MAX_SHOWN = 40;
const STATE_WORDS = { queued: "waiting in the queue", running: "building", succeeded: "ready", failed: "failed" };

let deps = { open: () => {}, deleted: () => {}, current: () => null };

export const jobTitle = (job) => (job.options && job.options.title) || String(job.photo_name || "model").replace(/\.[^.]+$/, "");

function when(seconds) {
  const date = new Date(Number(seconds) * 1000);
  return Number.isFinite(date.getTime()) ? date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }) : "";
}

function item(job) {
  const ready = job.status === "succeeded";
  const thumb = ready
    ? el("img", { class: "history-thumb", src: jobLink(job, "preview.png"), alt: "" })
    : el("span", { class: "history-thumb history-thumb-none", "aria-hidden": "true" }, job.status === "failed" ? "×" : "…");
  const title = el("span", { class: "history-title" }, jobTitle(job));
  const printer = job.options && job.options.printer ? ` · ${job.options.printer}` : "";
  const state = el("span", { class: `history-state state-${job.status}` },
    `${STATE_WORDS[job.status] || job.status}${job.status === "running" ? ` ${Math.floor(job.progress || 0)} %` : ""}`);
  const meta = el("span", { class: "detail" }, ` ${when(job.created_at)}${printer}`);
  const actions = el("span", { class: "history-actions" });
  if (ready) {
    for (const [name, words] of [["model.3mf", "3MF"], ["model.stl", "STL"], ["model.glb", "GLB"]]) {
      actions.append(el("a", { class: "button small-button", href: jobLink(job, name), download: "" }, words));
    }
  }
  if (job.status !== "failed") {
    const show = el("button", { type: "button", class: "small-button history-open" }, ready ? "Show" : "Follow");
    show.addEventListener("click", () => deps.open(job));
    actions.append(show);
  }
  const remove = el("button", { type: "button", class: "small-button history-delete",
    "aria-label": `Delete ${jobTitle(job)}` }, "Delete");
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    const answer = await deleteJob(job);
    if (!answer.ok && answer.status !== 404) {
      remove.disabled = false;
      $("history-empty").textContent = answer.error;
      return;
    }
    deps.deleted(job);
    refreshHistory();
  });
  actions.append(remove);
  const current = deps.current();
  return el("li", { class: `history-item${current && current.id === job.id ? " current" : ""}`, "data-job": job.id },
    thumb, el("span", { class: "history-words" }, title, el("span", {}, state, meta)), actions);
}

/** The shown job moved on (a progress step): its line in the list says so too, without asking the server. */
export function updateHistoryJob(job) {
  const line = document.querySelector(`#history-list li[data-job="${CSS.escape(job.id)}"]`);
  if (!line) return;
  const fresh = item(job);
  if (fresh.textContent !== line.textContent) line.replaceWith(fresh);
}

/** Read the job list again and show it. */
export async function refreshHistory() {
  const answer = await listJobs();
  if (!answer.ok) {
    $("history-empty").textContent = `The earlier models could not be listed: ${answer.error}`;
    $("history-empty").hidden = false;
    return;
  }
  const jobs = answer.data;
  const newest = jobs.slice().sort((a, b) => b.created_at - a.created_at);
  $("history-list").replaceChildren(...newest.slice(0, MAX_SHOWN).map(item));
  $("history-empty").hidden = newest.length > 0;
  $("history-empty").textContent = "Models built on this server appear here, newest first.";
}

/** `open(job)` shows a job on the page; `deleted(job)` is told of a deletion; `current()` is the shown job. */
export function setupHistory(callbacks) {
  deps = { ...deps, ...callbacks };
  refreshHistory();
}
