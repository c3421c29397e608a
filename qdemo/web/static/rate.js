/* qdemo rate: SAM rating session. Every answer is POSTed to /api/rate as soon as the
   participant moves on; selections in progress are kept in localStorage, so a reload
   or a pause loses nothing. */
"use strict";

const DIMS = [
  { key: "valence", name: "Pleasure", ends: "unhappy → happy" },
  { key: "arousal", name: "Arousal", ends: "calm → excited" },
  { key: "dominance", name: "Dominance", ends: "controlled → in control" },
];
const st = {
  participant: null, total: 0, position: null, values: {}, active: 0,
  shownAt: null, activeMs: 0, paused: false, busy: false, done: 0, lastPosition: null,
};

function $(s) { return document.querySelector(s); }
function show(id) {
  for (const s of ["intro", "trial", "done"]) $("#" + s).classList.toggle("hidden", s !== id);
}
async function api(method, url, body) {
  const opts = { method, headers: {}, cache: "no-store" };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(url, opts);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || `${r.status} ${r.statusText}`);
  return data;
}
const draftKey = () => `qdemo-rate:draft:${st.participant}:${st.position}`;
function saveDraft() {
  try { localStorage.setItem(draftKey(), JSON.stringify({ values: st.values, ms: elapsed() })); } catch (e) { /* private mode */ }
}
function elapsed() { return st.activeMs + (st.shownAt !== null && !st.paused ? performance.now() - st.shownAt : 0); }

/* ---------- scales ---------- */
function buildScales() {
  const box = $("#scales");
  DIMS.forEach((d, k) => {
    const row = document.createElement("div");
    row.className = "scale"; row.dataset.dim = d.key; row.id = "scale-" + d.key;
    row.innerHTML = `<div class="label"><b>${d.name}</b><span>${d.ends}</span></div><div class="sam-row" role="radiogroup" aria-label="${d.name}"></div>`;
    const grid = row.querySelector(".sam-row");
    for (let v = 1; v <= 9; v++) {
      const b = document.createElement("button");
      b.type = "button"; b.className = "sam-option"; b.dataset.value = String(v);
      b.setAttribute("aria-pressed", "false"); b.setAttribute("aria-label", `${d.name} ${v}`);
      b.tabIndex = -1;
      b.innerHTML = (v % 2 ? SAM.samFigure(d.key, v) : '<span class="sam-dot"></span>') + `<span class="num">${v}</span>`;
      b.addEventListener("click", () => { setValue(k, v); advanceScale(k); });
      grid.append(b);
    }
    row.addEventListener("mousedown", () => setActive(k));
    box.append(row);
  });
}
function render() {
  DIMS.forEach((d, k) => {
    const row = $("#scale-" + d.key), val = st.values[d.key];
    row.classList.toggle("active", k === st.active);
    row.classList.toggle("answered", val !== undefined);
    row.querySelectorAll(".sam-option").forEach(b => b.setAttribute("aria-pressed", String(Number(b.dataset.value) === val)));
  });
  $("#next").disabled = !complete() || st.busy;
  $("#back").disabled = st.position === 0 || st.busy;
  const frac = st.total ? st.done / st.total : 0;
  $("#progress .fill").style.width = (100 * frac).toFixed(1) + "%";
  $("#progress").setAttribute("aria-valuemax", String(st.total)); $("#progress").setAttribute("aria-valuenow", String(st.done));
  $("#progress-text").textContent = `${Math.min(st.position + 1, st.total)} / ${st.total}`;
}
const complete = () => DIMS.every(d => st.values[d.key] !== undefined);
function setValue(k, v) { st.values[DIMS[k].key] = v; setActive(k); saveDraft(); status(""); }
function setActive(k) { st.active = Math.max(0, Math.min(DIMS.length - 1, k)); render(); }
function advanceScale(k) {
  const nxt = DIMS.findIndex((d, j) => j > k && st.values[d.key] === undefined);
  const any = DIMS.findIndex(d => st.values[d.key] === undefined);
  setActive(nxt >= 0 ? nxt : any >= 0 ? any : k);
  if (complete()) $("#next").focus();
}
function status(text, isError) { const s = $("#status"); s.textContent = text; s.classList.toggle("error", !!isError); }

/* ---------- trials ---------- */
async function loadTrial(position) {
  st.busy = true;
  try {
    const t = await api("GET", `/api/trial?participant=${encodeURIComponent(st.participant)}&position=${position}`);
    st.position = t.position; st.total = t.total; st.values = {}; st.activeMs = 0; st.shownAt = null;
    if (t.rating) st.values = { ...t.rating };
    try {
      const draft = JSON.parse(localStorage.getItem(draftKey()) || "null");
      if (draft) { st.values = { ...st.values, ...draft.values }; st.activeMs = draft.ms || 0; }
    } catch (e) { /* ignore a bad draft */ }
    const first = DIMS.findIndex(d => st.values[d.key] === undefined);
    st.active = first >= 0 ? first : 0;
    const img = $("#stimulus");
    img.onload = () => { if (!st.paused) st.shownAt = performance.now(); };
    img.src = t.image;
    show("trial");
    status(t.rating ? "You rated this picture before; change any answer or press Next." : "");
  } finally { st.busy = false; render(); }
}
async function submit() {
  if (!complete() || st.busy) { if (!complete()) { status("Please answer all three scales.", true); advanceScale(-1); } return; }
  st.busy = true; render(); status("saving…");
  const body = { participant: st.participant, position: st.position, rt_ms: Math.round(elapsed()) };
  for (const d of DIMS) body[d.key] = st.values[d.key];
  try {
    const res = await api("POST", "/api/rate", body);
    try { localStorage.removeItem(draftKey()); } catch (e) { /* ignore */ }
    st.done = res.done; st.lastPosition = st.position; st.busy = false;
    status("");
    if (res.next === null || res.next === undefined) return finish();
    await loadTrial(res.next);
  } catch (err) {
    st.busy = false; render();
    status("Not saved: " + err.message + " — your answers are kept; press Next to try again.", true);
  }
}
function finish() {
  st.shownAt = null; show("done");
  $("#done-text").textContent = `All ${st.total} pictures are rated and saved. Thank you — you can close this window.`;
}
function pause() {
  if (st.paused || $("#trial").classList.contains("hidden")) return;
  st.activeMs = elapsed(); st.shownAt = null; st.paused = true; saveDraft();
  $("#paused").classList.remove("hidden"); $("#stimulus").style.visibility = "hidden"; $("#resume").focus();
}
function resume() {
  if (!st.paused) return;
  st.paused = false; st.shownAt = performance.now();
  $("#paused").classList.add("hidden"); $("#stimulus").style.visibility = "";
}

async function start(ev) {
  ev.preventDefault();
  const pid = $("#participant").value.trim();
  $("#intro-error").textContent = "";
  try {
    const s = await api("POST", "/api/session", { participant: pid });
    st.participant = s.participant; st.total = s.total; st.done = s.done;
    try { localStorage.setItem("qdemo-rate:participant", pid); } catch (e) { /* ignore */ }
    if (s.next === null || s.next === undefined) { st.lastPosition = s.total - 1; return finish(); }
    await loadTrial(s.next);
    if (s.resumed && s.done) status(`Welcome back: ${s.done} of ${s.total} already rated.`);
  } catch (err) { $("#intro-error").textContent = err.message; }
}

function onKey(ev) {
  if ($("#trial").classList.contains("hidden") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (st.paused) {
    if (["Enter", " ", "p", "P", "Escape"].includes(ev.key)) { ev.preventDefault(); resume(); }
    return;
  }
  if (st.busy) { ev.preventDefault(); return; }   // a trial is loading or being saved
  const k = st.active, cur = st.values[DIMS[k].key];
  if (/^[1-9]$/.test(ev.key)) { ev.preventDefault(); setValue(k, Number(ev.key)); advanceScale(k); }
  else if (ev.key === "ArrowLeft") { ev.preventDefault(); setValue(k, Math.max(1, (cur || 6) - 1)); }
  else if (ev.key === "ArrowRight") { ev.preventDefault(); setValue(k, Math.min(9, (cur || 4) + 1)); }
  else if (ev.key === "ArrowUp") { ev.preventDefault(); setActive(k - 1); }
  else if (ev.key === "ArrowDown") { ev.preventDefault(); setActive(k + 1); }
  else if (ev.key === "Enter") { ev.preventDefault(); submit(); }
  else if (ev.key === "Backspace") { ev.preventDefault(); if (st.position > 0 && !st.busy) { saveDraft(); loadTrial(st.position - 1); } }
  else if (ev.key === "p" || ev.key === "P" || ev.key === "Escape") { ev.preventDefault(); pause(); }
}

async function main() {
  buildScales();
  try { const s = await api("GET", "/api/study"); $("#n-stimuli").textContent = String(s.n_stimuli); } catch (e) { /* shown later */ }
  try { const pid = localStorage.getItem("qdemo-rate:participant"); if (pid) $("#participant").value = pid; } catch (e) { /* ignore */ }
  $("#start-form").addEventListener("submit", start);
  $("#next").addEventListener("click", submit);
  $("#back").addEventListener("click", () => { if (st.position > 0 && !st.busy) { saveDraft(); loadTrial(st.position - 1); } });
  $("#pause").addEventListener("click", pause);
  $("#resume").addEventListener("click", resume);
  $("#review").addEventListener("click", () => loadTrial(st.lastPosition ?? st.total - 1));
  document.addEventListener("keydown", onKey);
  document.addEventListener("visibilitychange", () => { if (document.hidden) pause(); });
  $("#participant").focus();
  document.body.dataset.ready = "1";
}
main();
