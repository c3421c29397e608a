"""Figures of an emotions archive (``--grid emotions``): the slot montage, the slot strip and
the critic's verdict per slot.

A slot archive has no valence-arousal plane to lay out: the montage shows one thumbnail per
slot (x intensity band) with the searcher's probability of the slot's emotion, the strip the
objective per slot, and the agreement figure which emotion the critic sees in each slot's
elite, beside where both models put the elites on the valence-arousal plane.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from qdemo import EMOTIONS  # noqa: E402
from qdemo.errors import DataError  # noqa: E402
from qdemo.runfolder import RunFolder  # noqa: E402
from qdemo.viz.rundata import RunData, dense_grid, load_run  # noqa: E402
from qdemo.viz.style import add_sam_axes, run_title, save_figure  # noqa: E402

log = logging.getLogger(__name__)

EMOTION_COLORS = {"anger": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "joy": "#ffbf00",
                  "sadness": "#1f77b4", "surprise": "#ff7f0e", "neutral": "#7f7f7f"}
"""One colour per emotion, shared by every categorical figure."""


def _require_slots(run: RunData) -> None:
    if not run.grid.is_slots:
        raise DataError(f"{run.run_dir / 'manifest.json'}: not an emotions archive (grid {run.grid.name!r})")


def _text(run: RunData, column: str, i: int) -> str:
    """Text cell of ``column`` (empty when absent or empty)."""
    col = run.columns.get(column)
    if col is None or col.dtype != object:
        return ""
    return str(col[i] or "")


def slot_probability(run: RunData) -> np.ndarray:
    """(n,) the searcher's probability of each elite's slot emotion (``p_<emotion>``)."""
    out = np.full(run.n, np.nan)
    for i in range(run.n):
        col = run.columns.get(f"p_{run.grid.slots[run.cells[i, 0]]}")
        if col is not None:
            out[i] = col[i]
    return out


def _thumb(run: RunData, i: int, size: int) -> np.ndarray | None:
    from PIL import Image

    from qdemo.io import open_rgb

    rel = _text(run, "image", i)
    if not rel:
        return None
    try:
        return np.asarray(open_rgb(run.run_dir / rel).resize((size, size), Image.BILINEAR))
    except DataError as exc:
        log.warning("slot montage: %s", exc)
        return None


def _critic_line(run: RunData, i: int) -> str:
    emo = _text(run, "critic_emotion", i)
    if not emo:
        return "critic: not run"
    p = run.columns.get("critic_p", np.full(run.n, np.nan))[i]
    match = run.columns.get("critic_match", np.full(run.n, np.nan))[i]
    mark = "✓" if match > 0.5 else "✗"
    return f"critic: {emo} {p:.2f} {mark}"


def slot_montage_figure(run: RunData, *, thumb_px: int = 96) -> Figure:
    """One thumbnail per slot (columns) and intensity band (rows, strongest on top), each with
    the searcher's probability of the slot's emotion, the objective and the critic's top emotion."""
    _require_slots(run)
    slots, bands = run.grid.slots, (run.grid.cells[1] if run.grid.ndim == 2 else 1)
    where = {(int(c[0]), int(c[1]) if run.grid.ndim == 2 else 0): i for i, c in enumerate(run.cells)}
    p = slot_probability(run)
    fig, axes = plt.subplots(bands, len(slots), figsize=(1.75 * len(slots) + 0.4, 2.15 * bands + 0.9),
                             squeeze=False)
    for b in range(bands):
        for s, name in enumerate(slots):
            ax = axes[bands - 1 - b][s]
            ax.set_xticks([])
            ax.set_yticks([])
            for side in ax.spines.values():
                side.set_edgecolor(EMOTION_COLORS.get(name, "#444444"))
                side.set_linewidth(2.5)
            if b == bands - 1:
                ax.set_title(name, fontsize=10, color=EMOTION_COLORS.get(name, "#000000"), fontweight="bold")
            if s == 0 and bands > 1:
                edges = run.grid.edges(1)
                ax.set_ylabel(f"p {edges[b]:.2f}–{edges[b + 1]:.2f}", fontsize=7)
            i = where.get((s, b))
            if i is None:
                ax.set_facecolor("#f2f2f2")
                ax.text(0.5, 0.5, "empty", ha="center", va="center", fontsize=8, color="#888888",
                        transform=ax.transAxes)
                continue
            img = _thumb(run, i, thumb_px)
            if img is None:
                ax.text(0.5, 0.5, "no image", ha="center", va="center", fontsize=8, transform=ax.transAxes)
            else:
                ax.imshow(img, interpolation="nearest")
            ax.set_xlabel(f"p({name}) {p[i]:.2f} · obj {run.columns['objective'][i]:.0f}\n{_critic_line(run, i)}",
                          fontsize=6.5)
    filled = len(where)
    fig.suptitle(f"Elites per emotion slot — {run_title(run)}\n{filled}/{len(slots) * bands} slots filled; "
                 f"p = searcher's probability of the slot's emotion, obj = objective (0–100); "
                 f"✓ = the critic's top emotion is the slot's", fontsize=8.5)
    fig.tight_layout()
    return fig


def slot_strip_figure(run: RunData, value: str = "objective") -> Figure:
    """The objective (or another numeric column) per slot x band as a coloured strip."""
    _require_slots(run)
    if value not in run.columns or run.columns[value].dtype == object:
        raise DataError(f"{run.run_dir / 'archive.csv'}: no numeric column {value!r} to draw")
    data = dense_grid(run, run.columns[value])  # (S,) or (S, bands)
    data = data.reshape(len(run.grid.slots), -1).T  # (bands, S)
    fig, ax = plt.subplots(figsize=(1.1 * len(run.grid.slots) + 1.8, 0.9 * data.shape[0] + 1.6))
    kw: dict[str, Any] = {"vmin": 0.0, "vmax": 100.0} if value == "objective" else {}
    im = ax.imshow(np.ma.masked_invalid(data), origin="lower", cmap="viridis", aspect="auto", **kw)
    ax.set_facecolor("#ffffff")
    for (b, s), x in np.ndenumerate(data):
        ax.text(s, b, "empty" if not np.isfinite(x) else f"{x:.1f}", ha="center", va="center", fontsize=8,
                color="#777777" if not np.isfinite(x) else ("white" if value == "objective" and x < 60 else "black"))
    ax.set_xticks(range(len(run.grid.slots)), run.grid.slots, fontsize=8)
    if data.shape[0] > 1:
        edges = run.grid.edges(1)
        ax.set_yticks(range(data.shape[0]), [f"{edges[b]:.2f}–{edges[b + 1]:.2f}" for b in range(data.shape[0])],
                      fontsize=7)
        ax.set_ylabel("intensity band (p of the slot's emotion)", fontsize=8)
    else:
        ax.set_yticks([])
    cb = fig.colorbar(im, ax=ax, fraction=0.04)
    cb.set_label("objective (0–100)" if value == "objective" else value, fontsize=8)
    filled = int(np.isfinite(data).sum())
    fig.suptitle(f"{value} per emotion slot — {run_title(run)}\n{filled}/{data.size} slots filled", fontsize=9)
    fig.tight_layout()
    return fig


def _confusion(run: RunData) -> np.ndarray:
    """(S, 7) counts: elites of each slot by the critic's top emotion."""
    out = np.zeros((len(run.grid.slots), len(EMOTIONS)))
    for i in range(run.n):
        emo = _text(run, "critic_emotion", i)
        if emo in EMOTIONS:
            out[run.cells[i, 0], EMOTIONS.index(emo)] += 1
    return out


def _va_arrows(ax: Any, run: RunData) -> None:
    """Each elite: searcher (V, A) filled, critic (V, A) hollow, joined, coloured by its slot emotion."""
    v, a = run.columns["valence"], run.columns["arousal"]
    cv, ca = run.columns.get("critic_valence"), run.columns.get("critic_arousal")
    seen: set[str] = set()
    for i in range(run.n):
        name = run.grid.slots[run.cells[i, 0]]
        c = EMOTION_COLORS.get(name, "#444444")
        ax.scatter(v[i], a[i], s=36, color=c, edgecolor="black", lw=0.4, zorder=3,
                   label=None if name in seen else name)
        seen.add(name)
        if cv is not None and np.isfinite(cv[i]) and np.isfinite(ca[i]):
            ax.plot([v[i], cv[i]], [a[i], ca[i]], color=c, lw=0.8, alpha=0.7, zorder=2)
            ax.scatter(cv[i], ca[i], s=36, facecolor="none", edgecolor=c, lw=1.2, zorder=3)
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.axhline(0, color="#cccccc", lw=0.6, zorder=1)
    ax.axvline(0, color="#cccccc", lw=0.6, zorder=1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("valence [-1, 1]", fontsize=8)
    ax.set_ylabel("arousal [-1, 1]", fontsize=8)
    ax.set_title("searcher (filled) → critic (hollow) VA per elite", fontsize=8.5)
    ax.legend(fontsize=6.5, loc="lower right", ncol=2)
    add_sam_axes(ax)


def emotion_agreement_figure(run: RunData) -> Figure:
    """Which emotion the critic sees in each slot's elites (counts), and where both models put
    the elites on the valence-arousal plane."""
    _require_slots(run)
    conf = _confusion(run)
    if conf.sum() == 0:
        raise DataError(f"{run.run_dir / 'archive.csv'}: the critic columns are empty; run the critic "
                        f"confirmation first (qdemo confirm)")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11.5, 5.0), gridspec_kw={"width_ratios": [1.25, 1]})
    ax.imshow(conf, cmap="Greens", aspect="auto", vmin=0, vmax=max(1.0, conf.max()))
    for (s, e), k in np.ndenumerate(conf):
        diag = run.grid.slots[s] == EMOTIONS[e]
        if k or diag:
            ax.text(e, s, f"{int(k)}", ha="center", va="center", fontsize=8, fontweight="bold" if diag else None)
        if diag:
            ax.add_patch(plt.Rectangle((e - 0.5, s - 0.5), 1, 1, fill=False, ec="#1a9850", lw=2))
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(run.grid.slots)), run.grid.slots, fontsize=8)
    ax.set_xlabel("critic's most probable emotion", fontsize=8)
    ax.set_ylabel("slot (searcher's emotion)", fontsize=8)
    ax.set_title("elites per slot by the critic's top emotion (framed: agrees)", fontsize=8.5)
    _va_arrows(ax2, run)
    match = run.columns.get("critic_match")
    ok = match[np.isfinite(match)] if match is not None else np.zeros(0)
    emotions = run.manifest.get("emotions") or {}
    chance, held = emotions.get("chance"), emotions.get("critic_heldout_accuracy")
    ref = [f"chance {chance:.0%}" if isinstance(chance, (int, float)) else "",
           f"critic's held-out accuracy on Emotion6 photos {held:.0%}" if isinstance(held, (int, float)) else ""]
    ref_text = "; ".join(r for r in ref if r)
    fig.suptitle(f"Critic vs searcher emotion — {run_title(run)}\ncritic's top emotion = the slot's for "
                 f"{ok.mean():.0%} of {len(ok)} elites" + (f" ({ref_text})" if ref_text else ""), fontsize=9)
    fig.tight_layout()
    return fig


def plot_slots(run_dir: str | os.PathLike | RunFolder) -> dict[str, list[Path]]:
    """Write an emotions archive's figures into its run folder: ``heatmaps/objective.png`` (the
    slot strip), ``montage.png`` (the slot montage) and ``critic_agreement.png`` (when the critic
    ran); returns ``name -> paths``."""
    run = load_run(run_dir)
    _require_slots(run)
    out: dict[str, list[Path]] = {
        "heatmaps": [save_figure(slot_strip_figure(run), run.run_dir / "heatmaps" / "objective.png")]}
    if run.n and "image" in run.columns:
        out["montage"] = [save_figure(slot_montage_figure(run), run.run_dir / "montage.png", dpi=120)]
    if run.n and _confusion(run).sum() > 0:
        out["critic_agreement"] = [save_figure(emotion_agreement_figure(run), run.run_dir / "critic_agreement.png")]
    return out


__all__ = ["EMOTION_COLORS", "emotion_agreement_figure", "plot_slots", "slot_montage_figure", "slot_probability",
           "slot_strip_figure"]
