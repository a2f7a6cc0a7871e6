// The Share dialog (templates/_share.html): pick a hub, a licence it offers, tags and whether to publish;
// follow the share's steps while it runs (GET share/status), then the link, and for Printables/MakerWorld
// the prepared package. What each hub takes and needs comes from GET /api/hubs (fabricate/hub/profiles.py):
// nothing about a hub is decided here, only how it is shown.
import { listHubs, listShares, shareJob } from "./api.js";
import { firstPhotoName, titleFromName } from "./form.js";

const $ = (id) => document.getElementById(id);

/** How often the share's progress is asked for while it runs. */
const POLL_MS = 300;
const STATE_WORDS = {
  queued: "Queued", running: "Sharing", waiting: "Waiting to try again", done: "Shared", failed: "Failed",
};
const STEP_STATE_WORDS = { pending: "to do", sent: "sent, waiting for the hub", done: "done" };

const dialog = {
  hubs: [],             // GET /api/hubs
  currentJob: () => null,
  jobId: null,          // the job the form was last filled for
  sharing: false,
};

const hubNamed = (name) => dialog.hubs.find((hub) => hub.name === name);
const chosenHub = () => hubNamed($("share-hub").value);

function sentence(text) {
  text = String(text).trim();
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** Every licence any hub offers, in the order the hubs list them (the generic hub takes them all). */
function allLicences() {
  const seen = new Map();
  for (const hub of dialog.hubs) for (const licence of hub.licences) if (!seen.has(licence.id)) seen.set(licence.id, licence);
  return [...seen.values()];
}

function tagsGiven() {
  return $("share-tags").value.split(",").map((tag) => tag.trim()).filter(Boolean);
}

/** Why ``hub`` cannot take this licence (the hub's own list named), or null. */
function licenceRefusal(hub, licence) {
  if (!hub || hub.licences.some((offered) => offered.id === licence)) return null;
  return `${hub.title} does not offer the licence ${licence}; it offers ${hub.licences.map((l) => l.id).join(", ")}.`;
}

function tagHint(hub) {
  if (!hub) return "";
  const limits = [];
  if (hub.max_tags) limits.push(`at most ${hub.max_tags} tags`);
  if (hub.max_tag_length) limits.push(`each up to ${hub.max_tag_length} characters`);
  let text = limits.length ? `${hub.title} takes ${limits.join(", ")}` : "";
  if (hub.slug_tags) text += `${text ? ", " : `${hub.title} takes tags `}as slugs ("burger bun" becomes "burger-bun")`;
  return text ? `${text}.` : "";
}

function stepWords(name) {
  const at = name.indexOf(":");
  const kind = at < 0 ? name : name.slice(0, at);
  const file = at < 0 ? "" : name.slice(at + 1);
  switch (kind) {
    case "thing": return "Create the thing";
    case "request": return `Ask where to upload ${file}`;
    case "store": return `Upload ${file}`;
    case "finalize": return `Finish ${file}`;
    case "publish": return "Publish";
    case "model": return "Upload the model";
    default: return name;
  }
}

// ---------------------------------------------------------------- hubs and choices

function renderHubList() {
  const list = $("share-hub-list");
  list.replaceChildren(...dialog.hubs.map((hub) => {
    const item = document.createElement("li");
    item.dataset.hub = hub.name;
    const name = document.createElement("strong");
    name.textContent = hub.title;
    const state = document.createElement("span");
    state.className = hub.configured ? "hub-ready" : "hub-missing";
    // A hub with an API: set up or not (and then what it needs); one without: what sharing there means.
    state.textContent = hub.kind === "manual" ? "" : hub.configured ? " set up on this server" : " not set up yet";
    const needs = document.createElement("span");
    needs.className = "hub-needs";
    needs.textContent = hub.kind === "manual" || !hub.configured ? ` — ${hub.needs}` : "";
    item.append(name, state, needs);
    return item;
  }));
}

function fillChoices() {
  const hubSelect = $("share-hub");
  const previousHub = hubSelect.value;
  hubSelect.replaceChildren(...dialog.hubs.map((hub) => {
    const option = document.createElement("option");
    option.value = hub.name;
    option.textContent = hub.configured ? hub.title : `${hub.title} (not set up)`;
    return option;
  }));
  // Keep the last choice; else the first hub this server is set up to upload to, else the first.
  const start = hubNamed(previousHub) || dialog.hubs.find((h) => h.kind === "api" && h.configured) || dialog.hubs[0];
  if (start) hubSelect.value = start.name;
  const licenceSelect = $("share-licence");
  const previousLicence = licenceSelect.value || "CC-BY-4.0";
  licenceSelect.replaceChildren(...allLicences().map((licence) => {
    const option = document.createElement("option");
    option.value = licence.id;
    option.dataset.name = licence.name;
    option.textContent = licence.name;
    return option;
  }));
  licenceSelect.value = previousLicence;
  if (!licenceSelect.value && licenceSelect.options.length) licenceSelect.selectedIndex = 0;
  updateChoice();
}

/** Show what the chosen hub needs and takes, and refuse what it cannot take, before any request. */
function updateChoice() {
  const hub = chosenHub();
  if (!hub) return;
  $("share-hub-needs").textContent = hub.configured && hub.kind === "api" ? `${hub.title} is set up on this server.` : hub.needs;
  for (const option of $("share-licence").options) {
    const offered = hub.licences.some((l) => l.id === option.value);
    option.textContent = offered ? option.dataset.name : `${option.dataset.name} — not offered by ${hub.title}`;
  }
  $("share-tags-hint").textContent = tagHint(hub);
  $("share-publish-field").hidden = !hub.drafts;
  const refusal = licenceRefusal(hub, $("share-licence").value)
    || (hub.configured ? null : `${hub.title} is not set up on this server yet: ${hub.needs}`);
  $("share-refusal").textContent = refusal || "";
  $("share-refusal").hidden = !refusal;
  $("share-submit").disabled = dialog.sharing || Boolean(refusal);
}

// ---------------------------------------------------------------- progress, result, history

function renderProgress(share) {
  $("share-progress").hidden = false;
  const current = share.steps.find((step) => step.state !== "done");
  let text = `${STATE_WORDS[share.state] || share.state}: ${share.steps_done} of ${share.steps_total} steps done`;
  if (current && share.state !== "failed") text += ` (now: ${stepWords(current.name).toLowerCase()})`;
  if (share.error && share.state !== "done") text += `. ${sentence(share.error)}`;
  $("share-progress-text").textContent = text;
  const bar = $("share-progress-bar");
  bar.max = Math.max(1, share.steps_total);
  bar.value = share.steps_done;
  $("share-steps").replaceChildren(...share.steps.map((step) => {
    const item = document.createElement("li");
    item.className = `step-${step.state}`;
    item.textContent = `${stepWords(step.name)}: ${STEP_STATE_WORDS[step.state] || step.state}`;
    return item;
  }));
}

function showLink(url, packageUrl) {
  const a = $("share-url");
  a.href = url;
  a.textContent = url;
  $("share-result").hidden = false;
  $("share-package").hidden = !packageUrl;
  if (packageUrl) $("share-package-link").href = packageUrl;
}

async function renderHistory(job) {
  const answer = await listShares(job);
  const shares = answer.ok ? answer.data : [];
  $("share-history").hidden = !shares.length;
  $("share-history-list").replaceChildren(...shares.map((share) => {
    const item = document.createElement("li");
    const hub = hubNamed(share.hub);
    item.append(`${hub ? hub.title : share.hub}: ${STATE_WORDS[share.state] || share.state}, ${share.steps_done} of ${share.steps_total} steps`);
    if (share.link) {
      const a = document.createElement("a");
      a.href = share.link;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = share.link;
      item.append(" ", a);
    } else if (share.error) {
      item.append(` (${share.error})`);
    }
    return item;
  }));
  return shares;
}

// ---------------------------------------------------------------- open, share

async function openDialog() {
  const job = dialog.currentJob();
  if (!job) return;
  if (dialog.jobId !== job.id && !dialog.sharing) { // a new model: its own title, nothing shown of the last one
    dialog.jobId = job.id;
    const titleField = $("title");
    $("share-title").value = (titleField && titleField.value) || titleFromName(job.photo_name || firstPhotoName() || "model");
    for (const id of ["share-error", "share-result", "share-package", "share-progress"]) $(id).hidden = true;
  }
  $("share-dialog").showModal();
  const answer = await listHubs();
  if (!answer.ok) {
    $("share-error").textContent = `Could not list the hubs: ${answer.error}`;
    $("share-error").hidden = false;
    return;
  }
  dialog.hubs = answer.data;
  renderHubList();
  fillChoices();
  await renderHistory(job);
}

async function submitShare(event) {
  event.preventDefault();
  const job = dialog.currentJob();
  const hub = chosenHub();
  if (!job || !hub || dialog.sharing) return;
  const errorBox = $("share-error");
  errorBox.hidden = true;
  updateChoice();
  if (!$("share-refusal").hidden) return; // refused here, before any request
  if (!$("share-form").reportValidity()) return;
  const body = {
    hub: hub.name,
    title: $("share-title").value.trim(),
    description: $("share-description").value.trim(),
    licence: $("share-licence").value,
    tags: tagsGiven(),
    publish: hub.drafts && $("share-publish").checked,
  };
  dialog.sharing = true;
  const submit = $("share-submit");
  submit.disabled = true;
  submit.textContent = "Sharing…";
  for (const id of ["share-result", "share-package", "share-progress"]) $(id).hidden = true;

  // A hub with an API runs as a share in the queue: follow its steps while the request is answered.
  let poll = null;
  let known = null;
  const follow = async () => {
    const answer = await listShares(job);
    if (!answer.ok) return null;
    const mine = answer.data.find((share) => known && !known.has(share.id) && share.hub === hub.name);
    if (mine) renderProgress(mine);
    return answer.data;
  };
  if (hub.kind === "api") {
    const before = await listShares(job);
    known = new Set(before.ok ? before.data.map((share) => share.id) : []);
    $("share-progress-text").textContent = "Starting…";
    $("share-steps").replaceChildren();
    $("share-progress").hidden = false;
    let busy = false;
    poll = setInterval(async () => {
      if (busy) return;
      busy = true;
      try { await follow(); } finally { busy = false; }
    }, POLL_MS);
  }
  const answer = await shareJob(job, body);
  if (poll) {
    clearInterval(poll);
    await follow(); // the share's last state: every step done, or where it stopped and why
  }
  dialog.sharing = false;
  submit.textContent = "Share";
  updateChoice();
  if (!answer.ok) {
    errorBox.textContent = `Sharing failed: ${answer.error}`;
    errorBox.hidden = false;
  } else {
    showLink(answer.data.share_url, answer.data.package_url);
  }
  await renderHistory(job);
}

/** Wire the dialog to the page: ``currentJob`` gives the job being shown (the one the Share… button shares). */
export function setupShare(currentJob) {
  dialog.currentJob = currentJob;
  $("share-button").addEventListener("click", openDialog);
  $("share-cancel").addEventListener("click", () => $("share-dialog").close());
  $("share-hub").addEventListener("change", updateChoice);
  $("share-licence").addEventListener("change", updateChoice);
  $("share-form").addEventListener("submit", submitShare);
}
