/* qdemo browse, emotions archives (`qdemo evolve --grid emotions`): a strip of emotion slots (one
   column per slot, one row per intensity band) instead of a VA heatmap, with its own selection.
   Loaded before browse.js; uses its globals (M, SIZE, state, value, viridis, imageFor, drawLegend,
   scheduleDraw, showDetail, selectedCell) at call time. */
"use strict";

function isSlots(d) { return d.grid.name === "emotions"; }
function slotGeom(g) {
  const W = SIZE - M.left - M.right, H = SIZE - M.top - M.bottom;
  const bands = g.cells.length > 1 ? g.cells[1] : 1, cw = W / g.cells[0];
  const ch = Math.min(H / bands, cw * 1.25);
  return { W, H: ch * bands, cw, ch, bands };
}
function slotElite(d, s, b) {
  return d.cells.find(e => e.coords[0] === s && (e.coords.length < 2 || e.coords[1] === b)) || null;
}
function selectedFor(p) {
  const d = state.data[p.i];
  if (!isSlots(d)) return selectedCell(d);
  return p.slotSel ? { elite: slotElite(d, p.slotSel.s, p.slotSel.b) } : null;
}
function drawSlots(p, d, ctx) {
  const g = d.grid, { W, H, cw, ch, bands } = slotGeom(g), mode = state.mode, [lo, hi] = state.ranges[mode] || [0, 1];
  const tall = Math.ceil(M.top + H + M.bottom), dpr = window.devicePixelRatio || 1, cv = p.canvas;
  if (cv.height !== tall * dpr) {   // the strip is only as tall as its slots
    cv.height = tall * dpr; cv.style.height = tall + "px"; ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  ctx.clearRect(0, 0, SIZE, tall);
  ctx.fillStyle = "#eceef2"; ctx.fillRect(M.left, M.top, W, H);
  for (const e of d.cells) {
    const b = e.coords.length > 1 ? e.coords[1] : 0;
    const x = M.left + e.coords[0] * cw, y = M.top + H - (b + 1) * ch;
    if (mode === "images") {
      const img = imageFor(e.url, p), side = Math.min(cw, ch);
      if (img && img.complete && img.naturalWidth) ctx.drawImage(img, x + (cw - side) / 2, y + (ch - side) / 2, side, side);
      else { ctx.fillStyle = "#c9ced8"; ctx.fillRect(x, y, cw, ch); }
      continue;
    }
    const v = value(e, mode);
    if (v === null || v === undefined) { ctx.fillStyle = "#b9bfcb"; ctx.fillRect(x, y, cw, ch); continue; }
    let t = (v - lo) / (hi - lo);
    if (mode === "spread") t = 1 - t;
    ctx.fillStyle = viridis(t); ctx.fillRect(x, y, cw, ch);
  }
  ctx.strokeStyle = "rgba(255,255,255,.8)"; ctx.lineWidth = 2; ctx.beginPath();
  for (let i = 0; i <= g.cells[0]; i++) { ctx.moveTo(M.left + i * cw, M.top); ctx.lineTo(M.left + i * cw, M.top + H); }
  for (let j = 0; j <= bands; j++) { ctx.moveTo(M.left, M.top + j * ch); ctx.lineTo(M.left + W, M.top + j * ch); }
  ctx.stroke();
  ctx.fillStyle = "#475467"; ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "center";
  g.slots.forEach((name, s) => ctx.fillText(name, M.left + (s + 0.5) * cw, M.top + H + 14));
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText("emotion slot (the searcher's most probable emotion)", M.left + W / 2, M.top + H + 32);
  if (bands > 1) {
    ctx.save(); ctx.translate(14, M.top + H / 2); ctx.rotate(-Math.PI / 2);
    ctx.fillText("intensity (p of the emotion)", 0, 0); ctx.restore();
  }
  if (p.slotSel) {
    const x = M.left + p.slotSel.s * cw, y = M.top + H - (p.slotSel.b + 1) * ch;
    ctx.strokeStyle = "#ff3b30"; ctx.lineWidth = 3; ctx.strokeRect(x + 1.5, y + 1.5, cw - 3, ch - 3);
  }
  drawLegend(p);
}
function slotAt(p, ev) {
  const r = p.canvas.getBoundingClientRect(), tall = p.canvas.height / (window.devicePixelRatio || 1);
  const x = (ev.clientX - r.left) * SIZE / r.width - M.left, y = (ev.clientY - r.top) * tall / r.height - M.top;
  const g = state.data[p.i].grid, { W, H, cw, ch, bands } = slotGeom(g);
  if (x < 0 || y < 0 || x >= W || y >= H) return null;
  return { s: Math.floor(x / cw), b: bands - 1 - Math.floor(y / ch) };
}
function selectSlot(p, s, b) {
  const g = state.data[p.i].grid, bands = g.cells.length > 1 ? g.cells[1] : 1;
  p.slotSel = { s: Math.min(g.cells[0] - 1, Math.max(0, s)), b: Math.min(bands - 1, Math.max(0, b)) };
  scheduleDraw(); showDetail(p);
}
function slotText(e) {
  const pct = x => (x === null || x === undefined) ? "–" : x.toFixed(2);
  let t = `searcher: ${e.emotion} p ${pct(e.p)}`;
  if (e.critic_emotion) t += `  ·  critic: ${e.critic_emotion} p ${pct(e.critic_p)} (p(${e.emotion}) ${pct(e.critic_p_slot)})`;
  else t += "  ·  critic not run yet";
  return t;
}

