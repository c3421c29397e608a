"""Figure of ``qdemo compare-categories``: an emotions archive and a VAD-grid archive on the
valence-arousal plane, beside the human mean of the Emotion6 photos of each emotion.

Plain data in (:func:`qdemo.compare.categories.figure_data`), one PNG out (written atomically).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qdemo.viz.agreement import AGREEMENT_CMAP, AGREEMENT_LABELS  # noqa: E402
from qdemo.viz.slots import EMOTION_COLORS  # noqa: E402
from qdemo.viz.style import add_sam_axes, save_figure  # noqa: E402


def _limit(data: dict[str, Any]) -> float:
    """Half-width of the VA panels: every point and human mean inside, at least 0.5, at most 1."""
    pts = [data[k] for k in ("slot_searcher", "slot_critic", "vad_searcher", "vad_critic")]
    pts.append(np.asarray(list(data["human"].values()), dtype=np.float64).reshape(-1, 2))
    allp = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in pts])
    allp = allp[np.isfinite(allp).all(axis=1)]
    return float(np.clip(1.15 * np.abs(allp).max(), 0.5, 1.0)) if len(allp) else 1.0


def _plane(ax: Any, title: str, lim: float = 1.0) -> None:
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.axhline(0, color="#cccccc", lw=0.6, zorder=0)
    ax.axvline(0, color="#cccccc", lw=0.6, zorder=0)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("valence [-1, 1]", fontsize=8)
    ax.set_ylabel("arousal [-1, 1]", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=8.5)
    add_sam_axes(ax)


def _human(ax: Any, human: dict[str, tuple[float, float]], *, labels: bool) -> None:
    for emo, (v, a) in human.items():
        c = EMOTION_COLORS.get(emo, "#444444")
        ax.scatter(v, a, marker="*", s=260, color=c, edgecolor="black", lw=0.7, zorder=5)
        if labels:
            ax.annotate(emo, (v, a), xytext=(6, 5), textcoords="offset points", fontsize=7, color=c,
                        fontweight="bold", zorder=6)


def _slot_panel(ax: Any, data: dict[str, Any]) -> None:
    """Each categorical elite: searcher VA (filled) joined to critic VA (hollow; ringed when it agrees)."""
    seen: set[str] = set()
    for emo, s, c, m in zip(data["emotions"], data["slot_searcher"], data["slot_critic"], data["slot_match"]):
        col = EMOTION_COLORS.get(emo, "#444444")
        ax.scatter(*s, s=42, color=col, edgecolor="black", lw=0.4, zorder=3, label=None if emo in seen else emo)
        seen.add(emo)
        if np.isfinite(c).all():
            ax.plot([s[0], c[0]], [s[1], c[1]], color=col, lw=0.8, alpha=0.7, zorder=2)
            ax.scatter(*c, s=42, facecolor="none", edgecolor=col, lw=1.3 if m > 0.5 else 0.8,
                       linestyle="-" if m > 0.5 else ":", zorder=3)
    _human(ax, data["human"], labels=True)
    ax.legend(fontsize=6.5, loc="lower right", ncol=2, title="slot", title_fontsize=6.5)


def _vad_panel(ax: Any, data: dict[str, Any]) -> None:
    """The VAD grid's elites at their searcher VA, coloured by the critic's cell agreement."""
    pts, lev = data["vad_searcher"], data["vad_level"]
    for k, label in enumerate(AGREEMENT_LABELS):
        sel = lev == k
        if sel.any():
            ax.scatter(pts[sel, 0], pts[sel, 1], s=12, color=AGREEMENT_CMAP(k), alpha=0.8, lw=0, zorder=3,
                       label=f"critic: {label} ({int(sel.sum())})")
    crit = data["vad_critic"]
    ok = np.isfinite(crit).all(axis=1)
    ax.scatter(crit[ok, 0], crit[ok, 1], s=8, facecolor="none", edgecolor="#555555", lw=0.4, zorder=2,
               label="the same elites, critic VA")
    _human(ax, data["human"], labels=False)
    ax.legend(fontsize=6.5, loc="lower right")


def _bars(ax: Any, s: dict[str, Any]) -> None:
    c, v = s["categorical"], s["continuous"]
    items = [("categorical:\ncritic top emotion\n= slot", c["critic_match"], "#1a9850"),
             ("categorical:\nslot in critic's\ntop two", c["critic_top2"], "#91cf60"),
             ("continuous:\ncritic in the\nsame cell", v["critic_same_cell"], "#1a9850"),
             ("continuous:\ncritic within\none cell", v["critic_within_one"], "#91cf60")]
    x = np.arange(len(items))
    ax.bar(x, [0 if val is None else val for _, val, _ in items], color=[col for *_, col in items])
    for i, (_, val, _) in enumerate(items):
        ax.text(i, (val or 0) + 0.02, "–" if val is None else f"{val:.0%}", ha="center", fontsize=7.5)
    ax.set_xticks(x, [t for t, *_ in items], fontsize=6.5)
    ax.axhline(c["chance"], xmin=0.02, xmax=0.48, color="#555555", ls="--", lw=0.9,
               label=f"chance of the critic's top emotion: {c['chance']:.0%}")
    held = c.get("critic_heldout_accuracy")
    if held is not None:
        ax.axhline(held, xmin=0.02, xmax=0.48, color="#d7301f", ls=":", lw=1.2,
                   label=f"critic's accuracy on held-out Emotion6 photos: {held:.0%}")
    ax.legend(fontsize=6.5, loc="upper left")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction of elites", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title("how often the critic confirms the elites", fontsize=8.5)


def plot_categories(data: dict[str, Any], path: str | os.PathLike) -> Path:
    """Three panels: the categorical elites on the VA plane (searcher -> critic, human Emotion6
    means as stars), the VAD grid's elites on the same plane, and the critic's confirmation of each."""
    fig, axes = plt.subplots(1, 3, figsize=(16.5, 5.6), gridspec_kw={"width_ratios": [1, 1, 0.85]})
    names, lim = data["names"], _limit(data)
    _plane(axes[0], f"categorical: {names[0]}\nsearcher (filled) → critic (hollow; solid ring = agrees)", lim)
    _slot_panel(axes[0], data)
    _plane(axes[1], f"continuous: {names[1]}\nelites at their searcher VA", lim)
    _vad_panel(axes[1], data)
    _bars(axes[2], data["summary"])
    human = "stars: human mean of the Emotion6 photos of each emotion" if data["human"] else "no human means"
    zoom = "" if lim >= 1.0 else f"; both planes show [{-lim:.2f}, {lim:.2f}]"
    fig.suptitle(f"Categorical vs continuous emotion on the valence–arousal plane ({human}{zoom})", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


__all__ = ["plot_categories"]
