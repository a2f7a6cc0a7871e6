// Every request the page makes to the fabricate server. Each answer comes back as
// {ok: true, data} or {ok: false, status, error}: `error` is one plain sentence (the server
// writes its `detail` in plain words; a failed connection gets words here).

/** One sentence for a failed answer: the server's detail, or words for its status. */
async function errorOf(response) {
  let detail = null;
  try {
    const body = await response.json();
    detail = body && body.detail;
  } catch (_) { /* not JSON: a proxy or a crash page */ }
  if (detail && typeof detail !== "string") detail = detail.message || JSON.stringify(detail);
  if (detail) return detail;
  if (response.status === 413) return "The photo is too large.";
  if (response.status >= 500) return `The server had a problem (error ${response.status}). Please try again.`;
  return `The request was refused (error ${response.status}).`;
}

export function networkWords(err) {
  return `Could not reach the fabricate server (${err && err.message ? err.message : err}). Is it still running?`;
}

/** Times a request the server answers 503 (busy reading other photos) is tried again, after its Retry-After. */
const BUSY_RETRIES = 10;

async function call(url, init = {}, parse = true) {
  let response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetch(url, init);
    } catch (err) {
      return { ok: false, status: 0, error: networkWords(err) };
    }
    if (response.status !== 503 || attempt >= BUSY_RETRIES) break;
    const seconds = Number(response.headers.get("Retry-After")) || 2;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }
  if (!response.ok) return { ok: false, status: response.status, error: await errorOf(response) };
  return { ok: true, status: response.status, data: parse && response.status !== 204 ? await response.json() : null };
}

/** A job's link by name (self, events, share, model.3mf, ...). */
export function jobLink(job, name) {
  return (job.links && job.links[name]) || `/api/jobs/${encodeURIComponent(job.id)}/${name}`;
}

export function detectOutline(file) {
  const body = new FormData();
  body.append("photo", file, file.name);
  return call("/api/outline", { method: "POST", body });
}

/** Queue a build: `form` is FormData with the repeated `photo` fields and the option fields. */
export function createJob(form) {
  return call("/api/jobs", { method: "POST", body: form });
}

/** Every job the server keeps (the history). */
export function listJobs() {
  return call("/api/jobs");
}

export function readJob(id) {
  return call(`/api/jobs/${encodeURIComponent(id)}`);
}

export function deleteJob(job) {
  return call(jobLink(job, "self"), { method: "DELETE" }, false);
}

export function readReport(job) {
  return call(jobLink(job, "report.json"));
}

export function shareJob(job, body) {
  return call(jobLink(job, "share"), {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
}

/** Every hub a job can be shared to: licences, tag limits, what it needs, whether the server is set up for it. */
export function listHubs() {
  return call("/api/hubs");
}

/** A job's shares to hubs with an API, newest first, each with its steps' states. */
export function listShares(job) {
  return call(`${jobLink(job, "share")}/status`);
}

/** Server-Sent Events of a job: `onJob` for every progress step and the final state. */
export function followJob(job, onJob, onBroken) {
  const events = new EventSource(jobLink(job, "events"));
  const handle = (e) => {
    try { onJob(JSON.parse(e.data)); } catch (err) { console.warn("bad event", err); }
  };
  events.addEventListener("progress", handle);
  events.addEventListener("done", handle);
  events.onerror = (e) => {
    // The stream broke, the server closed it, or it sent `event: error` with a detail.
    let detail = null;
    if (e && e.data) {
      try { detail = JSON.parse(e.data).detail; } catch (_) { /* no detail */ }
    }
    events.close();
    onBroken(detail);
  };
  return events;
}

/** Edit a finished job: `body` is {text} or {undo: N} or {redo: N}; answers the new version. */
export function createEdit(job, body) {
  return call(`${jobLink(job, "self")}/edits`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
}

/** Every version of a job's model, oldest first. */
export function listVersions(job) {
  return call(`${jobLink(job, "self")}/versions`);
}
