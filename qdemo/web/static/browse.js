/* qdemo browse: VA heatmaps with a dominance slider (an emotions archive: a strip of emotion slots),
   elite detail, samples and photos.
   Plain JS, no libraries. Talks to /api/archives, /api/archive/<i>/cells, /api/archive/<i>/cell/<index>. */
"use strict";

const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const M = { left: 48, right: 10, top: 10, bottom: 42 };   // heatmap margins (CSS px)
const SIZE = 440;
const state = {
  archives: [], data: [], panels: [], mode: "objective", dom: 0, domAll: false,
  domGrid: null, sel: null, images: new Map(), ranges: {},
};

function $(sel, root) { return (root || document).querySelector(sel); }
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function fmt(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  const d = digits === undefined ? 2 : digits;
  return (x > 0 ? "+" : x < 0 ? "−" : "") + Math.abs(x).toFixed(d);
}
function sam9(x) { return (x === null || x === undefined) ? "" : (x * 4 + 5).toFixed(1); }
function viridis(t) {
  t = Math.min(1, Math.max(0, t));
  const s = t * (VIRIDIS.length - 1), i = Math.min(VIRIDIS.length - 2, Math.floor(s)), f = s - i;
  const a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return `rgb(${Math.round(a[0] + (b[0] - a[0]) * f)},${Math.round(a[1] + (b[1] - a[1]) * f)},${Math.round(a[2] + (b[2] - a[2]) * f)})`;
}
async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}
function locate(x, lo, hi, n) {
  return Math.min(n - 1, Math.max(0, Math.floor((x - lo) / (hi - lo) * n)));
}
function centre(c, lo, hi, n) { return lo + (c + 0.5) * (hi - lo) / n; }

/* ---------- values and colour ranges ---------- */
const OBJECTIVE_SCALE = [0, 100];   // the objective's fixed scale (as in the PNG heatmaps)
const LEGEND_TEXT = {
  objective: "objective, fixed scale 0–100 (yellow = 100)",
  "objective-rel": "objective, RELATIVE scale: stretched from the lowest to the highest objective shown, not 0–100",
  agreement: "critic agreement (dot = critic puts it in the same cell; grey = not confirmed yet)",
  spread: "ensemble sd (bright = confident)",
};
function value(e, mode) {
  if (mode === "objective" || mode === "objective-rel") return e.objective;
  if (mode === "agreement" && e.emotion !== undefined)   // emotions archive: does the critic see the slot's emotion?
    return e.critic_match === null || e.critic_match === undefined ? null : (e.critic_match ? 1 : 0);
  if (mode === "agreement") return e.agreement;
  if (mode === "spread") return e.spread;
  return null;
}
function computeRanges() {
  for (const mode of ["objective-rel", "spread"]) {
    let lo = Infinity, hi = -Infinity;
    for (const d of state.data) for (const e of d.cells) {
      const v = value(e, mode);
      if (v !== null && v !== undefined) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
    if (mode === "spread") lo = 0;
    if (hi - lo < 1e-9) hi = lo + 1;
    state.ranges[mode] = [lo, hi];
  }
  state.ranges.agreement = [0, 1];
  state.ranges.objective = OBJECTIVE_SCALE;
}

/* ---------- which elites are visible ---------- */
function visibleCells(d) {
  const g = d.grid, three = g.cells.length === 3;
  const out = new Map();   // "cv,ca" -> elite
  const band = three ? locate(state.dom, g.ranges[2][0], g.ranges[2][1], g.cells[2]) : null;
  for (const e of d.cells) {
    const key = e.coords[0] + "," + e.coords[1];
    if (three && !state.domAll) { if (e.coords[2] === band) out.set(key, e); continue; }
    const prev = out.get(key);
    if (!prev || (e.objective ?? -Infinity) > (prev.objective ?? -Infinity)) out.set(key, e);
  }
  return out;
}
function selectedCell(d) {
  if (!state.sel) return null;
  const g = d.grid;
  const cv = locate(state.sel.v, g.ranges[0][0], g.ranges[0][1], g.cells[0]);
  const ca = locate(state.sel.a, g.ranges[1][0], g.ranges[1][1], g.cells[1]);
  return { cv, ca, elite: visibleCells(d).get(cv + "," + ca) || null };
}

/* ---------- drawing ---------- */
function plotGeom(g) {
  const W = SIZE - M.left - M.right, H = SIZE - M.top - M.bottom;
  return { W, H, cw: W / g.cells[0], ch: H / g.cells[1] };
}
function draw(p) {
  const d = state.data[p.i];
  const cv = p.canvas, ctx = cv.getContext("2d");
  const dpr = window.devicePixelRatio || 1;
  if (cv.width !== SIZE * dpr) { cv.width = SIZE * dpr; cv.height = SIZE * dpr; }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, SIZE, SIZE);
  if (isSlots(d)) { drawSlots(p, d, ctx); return; }
  const g = d.grid, { W, H, cw, ch } = plotGeom(g);
  ctx.fillStyle = "#eceef2";
  ctx.fillRect(M.left, M.top, W, H);
  const vis = visibleCells(d), mode = state.mode, [lo, hi] = state.ranges[mode] || [0, 1];
  for (const e of vis.values()) {
    const x = M.left + e.coords[0] * cw, y = M.top + H - (e.coords[1] + 1) * ch;
    if (mode === "images") {
      const img = imageFor(e.url, p);
      if (img && img.complete && img.naturalWidth) ctx.drawImage(img, x, y, cw, ch);
      else { ctx.fillStyle = "#c9ced8"; ctx.fillRect(x, y, cw, ch); }
      continue;
    }
    const v = value(e, mode);
    if (v === null || v === undefined) {
      ctx.fillStyle = "#b9bfcb"; ctx.fillRect(x, y, cw, ch);
      ctx.strokeStyle = "#dde1e8"; ctx.lineWidth = 1; ctx.beginPath();
      ctx.moveTo(x, y + ch); ctx.lineTo(x + cw, y); ctx.stroke();
      continue;
    }
    let t = (v - lo) / (hi - lo);
    if (mode === "spread") t = 1 - t;   // low spread (confident) is bright
    ctx.fillStyle = viridis(t);
    ctx.fillRect(x, y, cw, ch);
    if (mode === "agreement" && e.critic_same_cell) {   // dot: critic puts it in the same cell
      ctx.fillStyle = "rgba(255,255,255,.85)";
      ctx.beginPath(); ctx.arc(x + cw / 2, y + ch / 2, Math.max(1.5, Math.min(cw, ch) * 0.12), 0, 7); ctx.fill();
    }
  }
  // grid lines
  ctx.strokeStyle = "rgba(255,255,255,.55)"; ctx.lineWidth = 1;
  ctx.beginPath();
  for (let i = 0; i <= g.cells[0]; i++) { const x = M.left + i * cw; ctx.moveTo(x, M.top); ctx.lineTo(x, M.top + H); }
  for (let j = 0; j <= g.cells[1]; j++) { const y = M.top + j * ch; ctx.moveTo(M.left, y); ctx.lineTo(M.left + W, y); }
  ctx.stroke();
  // neutral cross
  ctx.strokeStyle = "rgba(29,35,48,.25)"; ctx.setLineDash([4, 4]); ctx.beginPath();
  const x0 = M.left + (0 - g.ranges[0][0]) / (g.ranges[0][1] - g.ranges[0][0]) * W;
  const y0 = M.top + H - (0 - g.ranges[1][0]) / (g.ranges[1][1] - g.ranges[1][0]) * H;
  ctx.moveTo(x0, M.top); ctx.lineTo(x0, M.top + H); ctx.moveTo(M.left, y0); ctx.lineTo(M.left + W, y0); ctx.stroke();
  ctx.setLineDash([]);
  // axes
  ctx.fillStyle = "#475467"; ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "center";
  ctx.fillText(g.ranges[0][0].toFixed(1), M.left, M.top + H + 14);
  ctx.fillText(g.ranges[0][1].toFixed(1), M.left + W, M.top + H + 14);
  ctx.fillText("0", x0, M.top + H + 14);
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText("valence  (unpleasant → pleasant)", M.left + W / 2, M.top + H + 32);
  ctx.save(); ctx.translate(14, M.top + H / 2); ctx.rotate(-Math.PI / 2);
  ctx.fillText("arousal  (calm → excited)", 0, 0); ctx.restore();
  ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "right";
  ctx.fillText(g.ranges[1][1].toFixed(1), M.left - 4, M.top + 9);
  ctx.fillText(g.ranges[1][0].toFixed(1), M.left - 4, M.top + H);
  // selection
  const s = selectedCell(d);
  if (s) {
    const x = M.left + s.cv * cw, y = M.top + H - (s.ca + 1) * ch;
    ctx.strokeStyle = "#ff3b30"; ctx.lineWidth = 3; ctx.strokeRect(x + 1.5, y + 1.5, cw - 3, ch - 3);
  }
  drawLegend(p);
}
function drawLegend(p) {
  const lg = $(".legend", p.root), bar = $("canvas.bar", lg), ctx = bar.getContext("2d");
  if (state.mode === "images") { lg.classList.add("hidden"); return; }
  lg.classList.remove("hidden");
  const [lo, hi] = state.ranges[state.mode];
  for (let x = 0; x < bar.width; x++) {
    let t = x / (bar.width - 1);
    ctx.fillStyle = viridis(state.mode === "spread" ? 1 - t : t); ctx.fillRect(x, 0, 1, bar.height);
  }
  const dig = state.mode === "objective" ? 0 : state.mode === "objective-rel" ? 1 : 2;
  $(".lo", lg).textContent = lo.toFixed(dig);
  $(".hi", lg).textContent = hi.toFixed(dig);
  $(".what", lg).textContent = LEGEND_TEXT[state.mode];
  Object.assign(lg.dataset, { mode: state.mode, lo: String(lo), hi: String(hi) });   // read by the tests
}
function imageFor(url, p) {
  if (!url) return null;
  let img = state.images.get(url);
  if (!img) {
    img = new Image(); img.src = url; state.images.set(url, img);
    img.onload = () => scheduleDraw();
  }
  return img;
}
let drawPending = false;
function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; state.panels.forEach(draw); });
}

/* ---------- detail ---------- */
function thumb(url, caption, title) {
  const f = el("figure");
  const img = el("img", { src: url || "", alt: caption, loading: "lazy" });
  if (title) img.title = title;
  f.append(img, el("figcaption", {}, caption));
  return f;
}
function vadText(v) { return v ? `V ${fmt(v[0])} A ${fmt(v[1])}` + (v[2] !== null && v[2] !== undefined ? ` D ${fmt(v[2])}` : "") : "–"; }

async function showDetail(p) {
  const d = state.data[p.i], s = selectedFor(p);
  const box = $(".detail", p.root), empty = $(".empty", box), content = $(".content", box);
  if (!s || !s.elite) {
    content.classList.add("hidden"); empty.classList.remove("hidden");
    empty.textContent = s ? "This cell is empty in this archive." : "Select a cell.";
    box.dataset.index = "";
    return;
  }
  const token = (p.token = (p.token || 0) + 1);
  let info;
  try { info = await getJSON(`/api/archive/${p.i}/cell/${s.elite.index}`); }
  catch (err) { empty.textContent = "Could not load the cell: " + err.message; empty.classList.add("error"); return; }
  if (token !== p.token) return;
  const e = info.elite, g = d.grid;
  empty.classList.add("hidden"); empty.classList.remove("error"); content.classList.remove("hidden");
  box.dataset.index = String(e.index);
  const img = $("img.elite", box); img.src = e.url || ""; img.alt = `elite of cell ${e.index}`;
  $(".cellname", box).textContent = isSlots(d)
    ? `slot ${e.emotion}` + (e.coords.length > 1 ? ` · intensity band ${e.coords[1] + 1}/${g.cells[1]}` : "")
    : `cell ${e.index} (` + e.coords.map((c, k) => `${g.dims[k][0].toUpperCase()}${c}`).join(", ") + ")";
  const emo = $(".emotion-line", box);
  emo.classList.toggle("hidden", !isSlots(d));
  emo.textContent = isSlots(d) ? slotText(e) : "";
  if (isSlots(d)) emo.className = "emotion-line " + (e.critic_match ? "flag-ok" : e.critic_emotion ? "flag-no" : "muted");
  $(".objective", box).innerHTML = "";
  $(".objective", box).append(document.createTextNode(e.objective === null ? "–" : e.objective.toFixed(1)), el("small", {}, "  objective (0–100)"));
  const rows = [
    ["cell centre", e.centre], ["searcher", e.vad], ["ensemble sd", e.sd, true], ["critic", e.critic],
  ].filter(r => r[1] !== null || r[0] !== "cell centre");   // emotion slots have no VAD centre
  const tb = $("table.vad tbody", box); tb.innerHTML = "";
  for (const [name, vals, isSd] of rows) {
    const tr = el("tr"); tr.append(el("td", {}, name));
    for (let k = 0; k < 3; k++) {
      const td = el("td");
      const x = vals ? vals[k] : null;
      if (isSd) td.textContent = (x === null || x === undefined) ? "–" : "±" + x.toFixed(3);
      else {
        td.textContent = fmt(x);
        if (x !== null && x !== undefined) td.append(el("div", { class: "sam9" }, "SAM " + sam9(x)));
      }
      tr.append(td);
    }
    tb.append(tr);
  }
  const flags = $(".critic-flags", box); flags.innerHTML = "";
  if (e.critic && isSlots(d)) {
    flags.textContent = `critic ${e.critic_match ? "confirms the slot's emotion" : "sees another emotion"}` +
      `  ·  slot emotion among its top two: ${e.critic_within_one ? "yes" : "no"}` +
      `  ·  mean ensemble sd ${e.spread === null ? "–" : e.spread.toFixed(3)}`;
  } else if (e.critic) {
    const same = el("span", { class: e.critic_same_cell ? "flag-ok" : "flag-no" }, e.critic_same_cell ? "critic: same cell" : "critic: other cell");
    flags.append(same, document.createTextNode(
      `  ·  within one cell: ${e.critic_within_one === null ? "–" : e.critic_within_one ? "yes" : "no"}` +
      `  ·  agreement ${e.agreement.toFixed(2)} (distance ${e.critic_distance.toFixed(2)})` +
      `  ·  mean ensemble sd ${e.spread === null ? "–" : e.spread.toFixed(3)}`));
  } else {
    flags.textContent = `critic not run yet  ·  mean ensemble sd ${e.spread === null ? "–" : e.spread.toFixed(3)}`;
  }
  renderClasses($(".classes", box), info.classes || []);
  renderSamples($(".samples", box), info.samples, state.hasSamples);   // browse_compare.js
  const pbox = $(".photos", box); pbox.innerHTML = "";
  if (info.photos.length) info.photos.forEach(ph => pbox.append(thumb(ph.url, (ph.label ? ph.label + " · " : "") + vadText(ph.vad), ph.human ? `human ${vadText(ph.human)}` : "")));
  else pbox.append(el("div", { class: "none" }, "no reference photos in this run folder (reference.csv)"));
}

/* What the critic's own ImageNet classifiers see in the elite, with the classes' word norms
   ("tarantula 0.41 — V −0.52 A +0.61"): content, not emotion; a class only one backbone is sure
   of hints at a texture that triggers it. */
function renderClasses(box, parts) {
  box.innerHTML = "";
  if (!parts.length) return;
  box.append(el("div", { class: "classes-title" }, "what the critic's classifiers see (class, probability — word norms of the name)"));
  for (const part of parts) {
    const line = el("div", { class: "classes-part" });
    line.append(el("span", { class: "classes-backbone" }, `${part.backbone.replace("efficientnet-", "")} @ ${part.resolution} px: `));
    line.append(document.createTextNode(part.classes.map(c =>
      `${c.class} ${c.probability.toFixed(2)}` + (c.norms ? ` — V ${fmt(c.norms[0])} A ${fmt(c.norms[1])}` : " — no word norm")
    ).join("  ·  ")));
    box.append(line);
  }
}

/* ---------- interaction ---------- */
function cellAt(p, ev) {
  const r = p.canvas.getBoundingClientRect();
  const x = (ev.clientX - r.left) * SIZE / r.width - M.left, y = (ev.clientY - r.top) * SIZE / r.height - M.top;
  const g = state.data[p.i].grid, { W, H, cw, ch } = plotGeom(g);
  if (x < 0 || y < 0 || x >= W || y >= H) return null;
  return { cv: Math.floor(x / cw), ca: g.cells[1] - 1 - Math.floor(y / ch) };
}
function selectCell(p, cv, ca) {
  const g = state.data[p.i].grid;
  cv = Math.min(g.cells[0] - 1, Math.max(0, cv)); ca = Math.min(g.cells[1] - 1, Math.max(0, ca));
  state.sel = { v: centre(cv, g.ranges[0][0], g.ranges[0][1], g.cells[0]), a: centre(ca, g.ranges[1][0], g.ranges[1][1], g.cells[1]) };
  refreshAll();
}
function refreshAll() {
  scheduleDraw();
  state.panels.forEach(p => showDetail(p));
  const url = new URL(location.href);
  if (state.sel) { url.searchParams.set("v", state.sel.v.toFixed(4)); url.searchParams.set("a", state.sel.a.toFixed(4)); }
  url.searchParams.set("d", state.dom.toFixed(4)); url.searchParams.set("mode", state.mode);
  history.replaceState(null, "", url);
}
function setupDominance() {
  const wrap = $("#dom-wrap"), slider = $("#dom"), all = $("#dom-all");
  const g3 = state.data.map(d => d.grid).find(g => g.cells.length === 3);
  state.domGrid = g3 || null;
  if (!g3) { wrap.classList.add("hidden"); all.parentElement.classList.add("hidden"); return; }
  const [lo, hi] = g3.ranges[2], n = g3.cells[2];
  slider.min = 0; slider.max = n - 1;
  const q = new URLSearchParams(location.search);
  const d0 = q.has("d") ? parseFloat(q.get("d")) : 0;
  slider.value = locate(Number.isFinite(d0) ? d0 : 0, lo, hi, n);
  const update = () => {
    const b = parseInt(slider.value, 10);
    state.dom = centre(b, lo, hi, n);
    const w = (hi - lo) / n;
    $("#dom-label").textContent = state.domAll ? "all (best elite)" : `[${fmt(lo + b * w)}, ${fmt(lo + (b + 1) * w)}]  (${b + 1}/${n})`;
    slider.disabled = state.domAll;
  };
  slider.addEventListener("input", () => { update(); refreshAll(); });
  all.addEventListener("change", () => { state.domAll = all.checked; update(); refreshAll(); });
  update();
}

/* Dominance is learned from word norms, not from people's ratings of images: say so where it is shown. */
function dominanceIsProxy() {
  // human-rated only where every archive's searcher says so (no photo set has dominance ratings)
  return !state.archives.every(a => (a.human_rated || []).includes("dominance") && !(a.proxy || []).includes("dominance"));
}
function setupDominanceNote() {
  const proxy = dominanceIsProxy();
  $("#dom-note").classList.toggle("hidden", !proxy || !state.domGrid);   // beside the slider (3-D grids)
  $("#dom-help").classList.toggle("hidden", !proxy);
  document.body.dataset.dominanceProxy = proxy ? "1" : "0";
}

async function main() {
  let info;
  try { info = await getJSON("/api/archives"); }
  catch (err) { $("#subtitle").textContent = "error: " + err.message; return; }
  state.archives = info.archives;
  if (info.warnings && info.warnings.length) {
    const w = $("#warnings"); w.classList.remove("hidden"); w.textContent = info.warnings.join(" · ");
  }
  state.hasSamples = state.archives.some(a => a.n_samples > 0);
  state.data = await Promise.all(state.archives.map(a => getJSON(`/api/archive/${a.id}/cells`)));
  $("#subtitle").textContent = state.archives.map(a => `${a.name}: ${a.n_elites} elites`).join("   |   ");
  computeRanges();
  const q = new URLSearchParams(location.search);
  const modes = Array.from($("#mode").options, o => o.value);
  if (modes.includes(q.get("mode"))) { state.mode = q.get("mode"); $("#mode").value = state.mode; }
  setupDominance();
  setupDominanceNote();
  const tpl = $("#panel-tpl");
  state.archives.forEach((a, i) => {
    const root = tpl.content.firstElementChild.cloneNode(true);
    root.id = `archive-${i}`; root.dataset.archive = String(i);
    $(".name", root).textContent = a.name;
    const m = a.metrics || {}, bits = [];
    if (a.status) bits.push(a.status);
    if (a.emitter) bits.push(typeof a.emitter === "string" ? a.emitter : (a.emitter.name || JSON.stringify(a.emitter)));
    if (a.renderer && a.renderer.name) bits.push(`${a.renderer.name} ${a.renderer.resolution || ""}px`.trim());
    if (a.grid) bits.push(`grid ${a.grid.name} ${a.grid.cells.join("×")}${a.grid.binned ? " (binned by VAD)" : ""}`);
    if (m.critic_emotion_match !== null && m.critic_emotion_match !== undefined)
      bits.push(`critic sees the slot's emotion ${(100 * m.critic_emotion_match).toFixed(1)}% (chance ${(100 / 7).toFixed(1)}%)`);
    if (m.coverage !== null && m.coverage !== undefined) bits.push(`coverage ${(100 * m.coverage).toFixed(1)}%`);
    if (m.qd_score_normalised !== null && m.qd_score_normalised !== undefined) bits.push(`QD ${m.qd_score_normalised.toFixed(2)}`);
    const share = x => (x <= 1 ? `${(100 * x).toFixed(1)}%` : String(x));
    const slots = a.grid && a.grid.name === "emotions";   // its critic agreement is the line above
    if (!slots && m.critic_confirmed !== null && m.critic_confirmed !== undefined) bits.push(`critic confirmed ${share(m.critic_confirmed)}`);
    if (!slots && m.critic_within_one_cell !== null && m.critic_within_one_cell !== undefined) bits.push(`within one cell ${share(m.critic_within_one_cell)}`);
    $(".meta", root).textContent = bits.join(" · ");
    renderCompare(root, a.compare);   // browse_compare.js
    $("#panels").append(root);
    const p = { i, root, canvas: $("canvas.heatmap", root) };
    state.panels.push(p);
    p.canvas.addEventListener("click", ev => {
      if (isSlots(state.data[i])) { const c = slotAt(p, ev); if (c) { p.canvas.focus(); selectSlot(p, c.s, c.b); } return; }
      const c = cellAt(p, ev); if (c) { p.canvas.focus(); selectCell(p, c.cv, c.ca); }
    });
    p.canvas.addEventListener("mousemove", ev => {
      const h = $(".hover", root);
      if (isSlots(state.data[i])) {
        const c = slotAt(p, ev), e = c ? slotElite(state.data[i], c.s, c.b) : null;
        h.textContent = !c ? "\u00a0" : e ? `${e.emotion}: objective ${e.objective === null ? "–" : e.objective.toFixed(1)} · ${slotText(e)}` : "empty slot";
        return;
      }
      const c = cellAt(p, ev);
      if (!c) { h.innerHTML = "&nbsp;"; return; }
      const e = visibleCells(state.data[i]).get(c.cv + "," + c.ca);
      h.textContent = e ? `cell ${e.index}: objective ${e.objective === null ? "–" : e.objective.toFixed(1)} · searcher ${vadText(e.vad)}` +
        (e.agreement !== null ? ` · agreement ${e.agreement.toFixed(2)}` : "") : "empty cell";
    });
    p.canvas.addEventListener("keydown", ev => {
      const d = state.data[i], s = selectedCell(d) || { cv: 0, ca: 0 };
      const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
      if (isSlots(d)) {
        const cur = p.slotSel || { s: 0, b: 0 };
        if (moves[ev.key]) { ev.preventDefault(); selectSlot(p, cur.s + moves[ev.key][0], cur.b + moves[ev.key][1]); }
        return;
      }
      if (moves[ev.key]) { ev.preventDefault(); selectCell(p, s.cv + moves[ev.key][0], s.ca + moves[ev.key][1]); }
      if ((ev.key === "PageUp" || ev.key === "PageDown") && state.domGrid) {
        ev.preventDefault(); const sl = $("#dom");
        sl.value = Math.min(+sl.max, Math.max(0, +sl.value + (ev.key === "PageUp" ? 1 : -1)));
        sl.dispatchEvent(new Event("input"));
      }
    });
  });
  $("#mode").addEventListener("change", ev => { state.mode = ev.target.value; refreshAll(); });
  if (q.has("v") && q.has("a")) {
    const v = parseFloat(q.get("v")), a = parseFloat(q.get("a"));
    if (Number.isFinite(v) && Number.isFinite(a)) state.sel = { v, a };
  }
  refreshAll();
  document.body.dataset.ready = "1";
  // runs still being written: re-read their cells every 15 s
  if (state.archives.some(a => a.status === "running")) setInterval(async () => {
    try {
      state.data = await Promise.all(state.archives.map(a => getJSON(`/api/archive/${a.id}/cells`)));
      computeRanges(); scheduleDraw();
    } catch (err) { /* keep the last good view */ }
  }, 15000);
}
main();
