// The splifft page: pick songs and a model, upload each song as a job, follow it through
// server-sent events, then play its stems in sync (solo / mute per stem) or download them.
// No framework and no build step; text from the server only ever goes in through textContent.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const state = { files: [], models: [], jobs: new Map() };

function formatSize(bytes) {
  if (bytes == null) return "size unknown";
  if (bytes === 0) return "no weights";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatTime(seconds) {
  if (!isFinite(seconds)) return "0:00";
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) { window.location.href = "login"; throw new Error("sign in first"); }
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(body?.error || `${response.status} ${response.statusText}`);
  return body;
}

// -- choosing files ---------------------------------------------------------------------------

function addFiles(list) {
  for (const file of list) state.files.push(file);
  renderPicked();
}

function renderPicked() {
  const ul = $("#picked");
  ul.replaceChildren();
  state.files.forEach((file, i) => {
    const li = document.createElement("li");
    li.textContent = `${file.name} (${formatSize(file.size)}) `;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link";
    remove.textContent = "remove";
    remove.addEventListener("click", () => { state.files.splice(i, 1); renderPicked(); });
    li.append(remove);
    ul.append(li);
  });
  updateStart();
}

// -- the model list ---------------------------------------------------------------------------

async function loadModels() {
  try {
    state.models = await api("api/models?task=separation");
  } catch (error) {
    $("#model-info").textContent = `Could not list the models: ${error.message}`;
    return;
  }
  const stems = [...new Set(state.models.flatMap((m) => m.stems))].sort();
  const filter = $("#stem-filter");
  for (const stem of stems) filter.append(new Option(stem, stem));
  renderModels();
}

function renderModels() {
  const words = $("#model-search").value.toLowerCase().split(/\s+/).filter(Boolean);
  const stem = $("#stem-filter").value;
  const cachedOnly = $("#cached-only").checked;
  const list = $("#model-list");
  const selected = list.value;
  list.replaceChildren();
  for (const model of state.models) {
    const text = [model.identifier, model.architecture, model.description || "", ...model.stems]
      .join(" ").toLowerCase();
    if (words.some((w) => !text.includes(w))) continue;
    if (stem && !model.stems.includes(stem)) continue;
    if (cachedOnly && !model.cached) continue;
    const label = `${model.identifier} — ${model.stems.join(", ")} — ${formatSize(model.size)}` +
      (model.size === 0 ? "" : model.cached ? " — downloaded" : " — downloads on first use");
    const option = new Option(label, model.identifier);
    option.selected = model.identifier === selected;
    list.append(option);
  }
  if (!list.value && list.options.length) list.options[0].selected = true;
  renderModelInfo();
}

function currentModel() {
  return state.models.find((m) => m.identifier === $("#model-list").value);
}

function renderModelInfo() {
  const model = currentModel();
  const info = $("#model-info");
  const choice = $("#stem-choice");
  choice.replaceChildren(Object.assign(document.createElement("legend"), { textContent: "Stems" }));
  if (!model) { info.textContent = "No model matches."; updateStart(); return; }
  const scores = Object.entries(model.metrics || {})
    .filter(([, values]) => values.sdr != null)
    .map(([stem, values]) => `${stem} SDR ${values.sdr}`).join(", ");
  info.textContent = [model.description, model.ensemble, scores && `Scores: ${scores}`,
    model.license && `Licence: ${model.license}`].filter(Boolean).join(" · ");
  for (const stem of model.stems) {
    const label = document.createElement("label");
    label.className = "check";
    const box = Object.assign(document.createElement("input"), { type: "checkbox", value: stem, checked: true });
    label.append(box, ` ${stem}`);
    choice.append(label);
  }
  updateStart();
}

function updateStart() {
  $("#start").disabled = !(state.files.length && currentModel());
}

// -- jobs -------------------------------------------------------------------------------------

function uploadJob(file, fields, card) {
  // XMLHttpRequest, not fetch: it reports the upload's progress.
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [key, value] of Object.entries(fields)) if (value) form.append(key, value);
    form.append("file", file, file.name); // options first: the server checks them before the file
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "api/jobs");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) setProgress(card, event.loaded / event.total, "uploading");
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 202) resolve(xhr.response);
      else reject(new Error(xhr.response?.error || `upload failed (${xhr.status})`));
    });
    xhr.addEventListener("error", () => reject(new Error("the upload was interrupted")));
    xhr.send(form);
  });
}

async function start() {
  const model = currentModel();
  if (!model) return;
  const stems = [...document.querySelectorAll("#stem-choice input:checked")].map((b) => b.value);
  const fields = {
    model: model.identifier,
    format: $("#format").value,
    stems: stems.length && stems.length < model.stems.length ? stems.join(",") : "",
  };
  const files = state.files.splice(0);
  renderPicked();
  $("#start-error").textContent = "";
  for (const file of files) {
    const card = newCard({ name: file.name, model: model.identifier });
    setState(card, "uploading");
    try {
      const job = await uploadJob(file, fields, card);
      bindCard(card, job);
      follow(job.id);
    } catch (error) {
      setState(card, "rejected");
      $(".job-error", card).textContent = `${file.name}: ${error.message}`;
      $(".job-cancel", card).textContent = "dismiss";
      $(".job-cancel", card).onclick = () => card.remove();
    }
  }
}

function newCard({ name, model }) {
  const card = $("#job-template").content.firstElementChild.cloneNode(true);
  $(".job-name", card).textContent = name;
  $(".job-model", card).textContent = model;
  $("#jobs").prepend(card);
  $("#no-jobs").hidden = true;
  return card;
}

function bindCard(card, job) {
  card.dataset.jobId = job.id;
  state.jobs.set(job.id, { card, job });
  $(".job-cancel", card).onclick = () => removeJob(job.id);
  render(job);
}

function setState(card, name) {
  const badge = $(".job-state", card);
  badge.textContent = name;
  badge.dataset.state = name;
  card.dataset.state = name;
}

function setProgress(card, value, stage) {
  $(".job-progress", card).value = value;
  $(".job-stage", card).textContent = `${stage} ${Math.round(value * 100)} %`;
}

function render(job) {
  const entry = state.jobs.get(job.id);
  if (!entry) return;
  entry.job = job;
  const card = entry.card;
  setState(card, job.state);
  const active = job.state === "queued" || job.state === "running";
  $(".job-cancel", card).textContent = active ? "cancel" : "delete";
  $(".job-progress", card).hidden = !active;
  if (active) setProgress(card, job.progress, job.stage);
  else $(".job-stage", card).textContent = job.state === "done" ? "" : job.stage;
  $(".job-error", card).textContent = job.error || "";
  const warnings = $(".job-warnings", card);
  warnings.replaceChildren(...job.warnings.map((w) => Object.assign(document.createElement("li"), { textContent: w })));
  if (job.state === "done" && !card.player) card.player = buildPlayer(card, job);
}

function follow(jobId) {
  const source = new EventSource(`api/jobs/${jobId}/events`);
  source.addEventListener("job", (event) => {
    const job = JSON.parse(event.data);
    render(job);
    if (!(job.state === "queued" || job.state === "running")) source.close();
  });
  source.addEventListener("gone", () => { source.close(); forget(jobId); });
  source.addEventListener("error", () => {
    // The server went away or restarted: poll once, then follow again if the job still runs.
    source.close();
    setTimeout(async () => {
      try {
        const job = await api(`api/jobs/${jobId}`);
        render(job);
        if (job.state === "queued" || job.state === "running") follow(jobId);
      } catch { /* the job is gone */ }
    }, 2000);
  });
}

async function removeJob(jobId) {
  try {
    const result = await api(`api/jobs/${jobId}`, { method: "DELETE" });
    if (result.state === "deleted") forget(jobId);
    else render(await api(`api/jobs/${jobId}`));
  } catch (error) {
    const entry = state.jobs.get(jobId);
    if (entry) $(".job-error", entry.card).textContent = error.message;
  }
}

function forget(jobId) {
  const entry = state.jobs.get(jobId);
  if (entry) { entry.card.player?.stop(); entry.card.remove(); }
  state.jobs.delete(jobId);
  $("#no-jobs").hidden = state.jobs.size > 0;
}

// -- the stem player: one audio element per stem, kept in step with the first ---------------

function buildPlayer(card, job) {
  const player = $(".player", card);
  player.hidden = false;
  $(".zip", card).href = job.zip_url;
  $(".zip", card).setAttribute("download", "");
  const list = $(".stems", card);
  const tracks = job.stems.map((stem) => {
    const li = document.createElement("li");
    li.className = "stem";
    const name = Object.assign(document.createElement("span"), { className: "stem-name", textContent: stem.stem });
    const audio = Object.assign(document.createElement("audio"), { preload: "metadata", src: stem.url });
    audio.className = "stem-audio";
    audio.dataset.stem = stem.stem;
    const mute = Object.assign(document.createElement("button"), { type: "button", className: "mute", textContent: "mute" });
    const solo = Object.assign(document.createElement("button"), { type: "button", className: "solo", textContent: "solo" });
    const download = Object.assign(document.createElement("a"), {
      href: `${stem.url}?download=1`, textContent: `download (${formatSize(stem.size)})`,
    });
    li.append(name, mute, solo, download, audio);
    list.append(li);
    return { stem: stem.stem, audio, mute, solo, muted: false, soloed: false };
  });
  const master = tracks[0]?.audio;
  const play = $(".play", card);
  const seek = $(".seek", card);
  const time = $(".time", card);
  let timer = null;

  function applyMix() {
    const anySolo = tracks.some((t) => t.soloed);
    for (const t of tracks) {
      t.audio.muted = anySolo ? !t.soloed : t.muted;
      t.mute.classList.toggle("on", t.muted);
      t.solo.classList.toggle("on", t.soloed);
      t.mute.setAttribute("aria-pressed", String(t.muted));
      t.solo.setAttribute("aria-pressed", String(t.soloed));
    }
  }
  for (const t of tracks) {
    t.mute.addEventListener("click", () => { t.muted = !t.muted; applyMix(); });
    t.solo.addEventListener("click", () => { t.soloed = !t.soloed; applyMix(); });
  }
  function showTime() {
    if (!master) return;
    const duration = master.duration || 0;
    seek.max = String(duration || 1);
    seek.value = String(master.currentTime);
    time.textContent = `${formatTime(master.currentTime)} / ${formatTime(duration)}`;
  }
  function resync() {
    // Audio elements drift apart over minutes; pull the followers back to the master's clock.
    for (const t of tracks.slice(1)) {
      if (Math.abs(t.audio.currentTime - master.currentTime) > 0.04) t.audio.currentTime = master.currentTime;
    }
    showTime();
  }
  async function start() {
    const at = master.currentTime;
    for (const t of tracks) t.audio.currentTime = at;
    await Promise.all(tracks.map((t) => t.audio.play()));
    play.textContent = "Pause";
    timer = setInterval(resync, 250);
  }
  function stop() {
    for (const t of tracks) t.audio.pause();
    play.textContent = "Play";
    clearInterval(timer);
    timer = null;
    showTime();
  }
  play.addEventListener("click", () => (master.paused ? start().catch(() => stop()) : stop()));
  seek.addEventListener("input", () => {
    for (const t of tracks) t.audio.currentTime = Number(seek.value);
    showTime();
  });
  master?.addEventListener("loadedmetadata", showTime);
  master?.addEventListener("ended", stop);
  applyMix();
  return { stop };
}

// -- wiring -----------------------------------------------------------------------------------

async function loadJobs() {
  let jobs = [];
  try { jobs = await api("api/jobs"); } catch { return; }
  for (const job of jobs) {
    bindCard(newCard(job), job);
    if (job.state === "queued" || job.state === "running") follow(job.id);
  }
}

function wire() {
  const drop = $("#drop");
  $("#file-input").addEventListener("change", (event) => { addFiles(event.target.files); event.target.value = ""; });
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (event) => { event.preventDefault(); addFiles(event.dataTransfer.files); });
  $("#model-search").addEventListener("input", renderModels);
  $("#stem-filter").addEventListener("change", renderModels);
  $("#cached-only").addEventListener("change", renderModels);
  $("#model-list").addEventListener("change", renderModelInfo);
  $("#start").addEventListener("click", () => start().catch((e) => { $("#start-error").textContent = e.message; }));
  loadModels();
  loadJobs();
}

document.addEventListener("DOMContentLoaded", wire);
