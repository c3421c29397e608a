/* qdemo browse with a comparison folder (`qdemo compare RUN --out DIR`, `qdemo browse RUN --compare DIR`):
   the elite beside each generator's samples of the cell, one row per source (shapes generator, pixel
   generator), and the comparison's metrics of the archive side by side (explorer | generators).
   Loaded before browse.js; uses its globals (el, thumb, vadText, fmt) at call time. */
"use strict";

const SOURCE_LABELS = { "explorer": "explorer (elites)", "generator-shapes": "shapes generator",
                        "generator-pixels": "pixel generator", "generator": "generator" };
const COMPARE_METRICS = [
  ["critic_error", "critic error to cell centre", true], ["coverage", "coverage (within tolerance)", false],
  ["diversity", "across-cell diversity", false], ["within_cell_diversity", "within-cell diversity", false],
  ["nearest_real", "distance to nearest real image", true], ["cost_per_usable_image", "seconds per usable image", true],
];

function sourceLabel(s) { return SOURCE_LABELS[s] || s; }

/* The samples of one cell, grouped by their source, each group a labelled row of thumbnails. */
function renderSamples(sbox, samples, hasSamples) {
  sbox.innerHTML = "";
  if (!samples.length) {
    sbox.append(el("div", { class: "none" }, hasSamples ? "no generator samples for this cell" : "none loaded (qdemo browse … --compare DIR)"));
    return;
  }
  const groups = new Map();
  samples.forEach(sm => { const s = sm.source || "generator"; if (!groups.has(s)) groups.set(s, []); groups.get(s).push(sm); });
  for (const [source, list] of groups) {
    const row = el("div", { class: "source-row", "data-source": source });
    row.append(el("div", { class: "source-name" }, sourceLabel(source)));
    const thumbs = el("div", { class: "thumbs" });
    list.forEach((sm, k) => thumbs.append(thumb(sm.url, `critic ${vadText(sm.critic)}`, `${sourceLabel(source)} sample ${sm.k ?? k}; target ${vadText(sm.target)}`)));
    row.append(thumbs);
    sbox.append(row);
  }
}

/* The archive's comparison table: one column per source, the best value of each metric in bold. */
function renderCompare(root, compare) {
  const box = root.querySelector(".compare-table");
  if (!box) return;
  box.innerHTML = "";
  if (!compare || !compare.sources || !compare.sources.length) { box.classList.add("hidden"); return; }
  box.classList.remove("hidden");
  const table = el("table", { class: "compare" }), head = el("tr");
  head.append(el("th", {}, ""));
  compare.sources.forEach(s => head.append(el("th", { "data-source": s }, sourceLabel(s) + (compare.stale && compare.stale[s] ? " (stale)" : ""))));
  table.append(el("thead"), el("tbody"));
  table.tHead.append(head);
  for (const [key, label, lower] of COMPARE_METRICS) {
    const row = compare.metrics[key];
    if (!row) continue;
    const tr = el("tr"); tr.append(el("td", {}, label + (lower ? " ↓" : " ↑")));
    compare.sources.forEach(s => {
      const x = row[s], td = el("td", {}, x === null || x === undefined ? "–" : fmt(x, Math.abs(x) >= 10 ? 1 : 3));
      if (row.winner === s) td.classList.add("best");
      tr.append(td);
    });
    table.tBodies[0].append(tr);
  }
  box.append(el("div", { class: "compare-title" }, "comparison (critic-judged, same cells)"), table);
  const notes = Object.entries(compare.left_out || {}).map(([s, why]) => `${sourceLabel(s)} left out: ${why}`)
    .concat(Object.entries(compare.stale || {}).map(([s, why]) => `${sourceLabel(s)}: ${why}`));
  if (notes.length) box.append(el("div", { class: "muted compare-notes" }, notes.join(" · ")));
}
