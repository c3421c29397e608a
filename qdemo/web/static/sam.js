/* Self-Assessment Manikin figures, drawn by qdemo as SVG (after Bradley & Lang 1994).
   samFigure(dim, level) -> SVG markup for level 1..9 on "valence" (frown -> smile),
   "arousal" (calm, eyes closed -> explosion) or "dominance" (small -> large figure). */
"use strict";

const SAM = (() => {
  const BODY = "M31,99 C31,72 37,57 50,57 C63,57 69,72 69,99 Z";
  const ARMS = "M38,65 C29,70 23,76 18,85 M62,65 C71,70 77,76 82,85";
  const LEGS = "M43,99 L41,114 M57,99 L59,114";
  const S = 'stroke="currentColor" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round" vector-effect="non-scaling-stroke"';

  function star(cx, cy, rOut, rIn, n, rot) {
    const pts = [];
    for (let i = 0; i < 2 * n; i++) {
      const r = i % 2 ? rIn : rOut, a = rot + Math.PI * i / n;
      pts.push((cx + r * Math.sin(a)).toFixed(1) + "," + (cy - r * Math.cos(a)).toFixed(1));
    }
    return pts.join(" ");
  }

  function figure(face, belly) {
    return `<path d="${ARMS}" fill="none" ${S}/>` +
      `<path d="${LEGS}" fill="none" ${S}/>` +
      `<path d="${BODY}" fill="#fff" ${S}/>` + (belly || "") +
      `<circle cx="50" cy="36" r="17" fill="#fff" ${S}/>` + face;
  }
  const eyes = (r) => `<circle cx="44" cy="33" r="${r}" fill="currentColor"/><circle cx="56" cy="33" r="${r}" fill="currentColor"/>`;

  function valence(t) {
    const s = 2 * t - 1;   // -1 frown .. +1 smile
    const c = 43 - 3 * s, m = 43 + 8 * s;
    let face = eyes(2.2) + `<path d="M40,${c.toFixed(1)} Q50,${m.toFixed(1)} 60,${c.toFixed(1)}" fill="none" ${S}/>`;
    if (s < -0.6) face += `<path d="M39,27 L46,29 M61,27 L54,29" fill="none" ${S}/>`;   // worried brows
    return figure(face);
  }

  function arousal(t) {
    let face;
    if (t < 0.01) face = `<path d="M40,33 Q44,36 48,33 M52,33 Q56,36 60,33" fill="none" ${S}/><path d="M45,44 L55,44" fill="none" ${S}/>`;
    else face = eyes(1.6 + 1.8 * t) + `<ellipse cx="50" cy="44" rx="${(3 + t).toFixed(1)}" ry="${(1 + 3.5 * t).toFixed(1)}" fill="currentColor"/>`;
    let burst = "";
    if (t > 0.3) {
      const r = 26 + 26 * t;
      burst = `<polygon points="${star(50, 68, r, r * 0.62, 12, 0.13)}" fill="#eef1f7" stroke="#c2c9d6" stroke-width="1.5" vector-effect="non-scaling-stroke"/>`;
    }
    const rOut = t < 0.01 ? 2.2 : 4 + 13 * t;
    const belly = t < 0.01 ? `<circle cx="50" cy="80" r="2.2" fill="currentColor"/>` :
      `<polygon points="${star(50, 80, rOut, rOut * 0.45, 8, 0)}" fill="currentColor"/>`;
    let lines = "";
    if (t > 0.7) lines = `<path d="M12,60 L6,56 M12,70 L4,70 M88,60 L94,56 M88,70 L96,70" fill="none" ${S}/>`;
    return burst + lines + figure(face, belly);
  }

  function dominance(t) {
    const k = 0.4 + 0.6 * t;
    const face = eyes(2.2) + `<path d="M42,43 Q50,46 58,43" fill="none" ${S}/>`;
    return `<rect x="4" y="4" width="92" height="112" rx="4" fill="none" stroke="#c9ced8" stroke-width="1.5" stroke-dasharray="4 3" vector-effect="non-scaling-stroke"/>` +
      `<g transform="translate(50 116) scale(${k.toFixed(3)}) translate(-50 -116)">${figure(face)}</g>`;
  }

  function samFigure(dim, level) {
    const t = (level - 1) / 8;
    const inner = dim === "valence" ? valence(t) : dim === "arousal" ? arousal(t) : dominance(t);
    return `<svg class="sam-fig" viewBox="0 0 100 120" aria-hidden="true" focusable="false">${inner}</svg>`;
  }
  return { samFigure };
})();
