"""Plots of the explorer benchmarks (``qdemo evolve-bench qd`` and ``reach``), from their result dicts.

    res = bench_qd(cfg, out_dir=out)          # qdemo.bench.qd
    qd_plot(res, out / "qd.png")

They run headless (matplotlib's Agg backend) and write the PNG atomically.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402

from qdemo.measure_space import MeasureSpace  # noqa: E402
from qdemo.viz import save_figure  # noqa: E402


def qd_plot(res: dict[str, Any], path: Path) -> Path:
    """Bar chart with error bars (sd over seeds): normalised QD score and coverage per emitter."""
    pe = res["per_emitter"]
    names = list(pe)
    at = bool(res["summary"].get("at_budget"))
    qkey = "qd_score_normalised_at_budget" if at else "qd_score_normalised"
    panels = [(qkey, "normalised QD score" + (" at the budget" if at else ""), 1.0), ("coverage", "coverage (%)", 100.0),
              ("va_coverage", "VA-grid coverage (%)", 100.0)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8))
    colors = plt.get_cmap("tab10").colors
    for ax, (key, label, scale) in zip(axes, panels):
        means = [pe[n][key]["mean"] * scale for n in names]
        sds = [pe[n][key]["sd"] * scale for n in names]
        ax.bar(range(len(names)), [m if math.isfinite(m) else 0 for m in means],
               yerr=[s if math.isfinite(s) else 0 for s in sds], capsize=4,
               color=[colors[i % 10] for i in range(len(names))])
        for i, n in enumerate(names):
            for v in pe[n][key]["values"]:
                ax.plot(i + 0.22, v * scale, "k.", ms=3, alpha=0.6)
        if key == "va_coverage" and res.get("reference"):
            ref = res["reference"]["va_coverage"] * scale
            ax.axhline(ref, color="#d7301f", ls="--", lw=1)
            ax.text(-0.45, ref, "real photos (same searcher)", color="#d7301f", fontsize=7, va="bottom",
                    ha="left", bbox=dict(fc="white", ec="none", alpha=0.8, pad=1))
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=25, fontsize=8)
        ax.set_title(label, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    cfg = res["config"]
    fig.suptitle(f"QD efficiency at {cfg['budget']} evaluations, {cfg['seeds']} seeds (mean ± sd; dots = seeds) — "
                 f"renderer {res['renderer']}, searcher {cfg['searcher']}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def reach_plot(res: dict[str, Any], path: Path) -> Path:
    """Targets (grid centres) with arrows to where the searcher (and critic) put each image."""
    c = res["config"]
    space = MeasureSpace.grid(c["ranges"], c["cells"])  # the VA grid the benchmark placed its images on
    ve, ae = space.edges(0), space.edges(1)
    fig, ax = plt.subplots(figsize=(6, 6))
    for x in ve:
        ax.axvline(x, color="0.9", lw=0.6, zorder=0)
    for y in ae:
        ax.axhline(y, color="0.9", lw=0.6, zorder=0)
    reached = {tuple(r["cell"]) for r in res["images"]}
    for (ci, cj) in reached:
        ax.add_patch(plt.Rectangle((ve[ci], ae[cj]), ve[ci + 1] - ve[ci], ae[cj + 1] - ae[cj], color="tab:blue",
                                   alpha=0.15, lw=0))
    for r in res["images"]:
        (tv, ta), (sv, sa) = r["target"], r["searcher_va"]
        ax.plot([tv, sv], [ta, sa], color="0.6", lw=0.5)
        ax.plot(sv, sa, "o", color="tab:blue", ms=3)
        if "critic_va" in r:
            ax.plot(*r["critic_va"], "x", color="tab:red", ms=3)
    ax.plot([], [], "o", color="tab:blue", label="searcher")
    if "critic" in res:
        ax.plot([], [], "x", color="tab:red", label="critic, same image")
    ax.set_xlim(ve[0], ve[-1])
    ax.set_ylim(ae[0], ae[-1])
    ax.set_xlabel("valence")
    ax.set_ylabel("arousal")
    ax.set_title(f"reached {res['cells_reached']}/{res['cells_total']} VA cells (shaded)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)
