"""Does the critic place each elite where the searcher did? Per-elite levels and the scatter."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from qdemo.errors import DataError  # noqa: E402
from qdemo.runfolder import RunFolder  # noqa: E402
from qdemo.viz.rundata import CRITIC_COLUMNS, RunData, load_run  # noqa: E402
from qdemo.viz.style import run_title, save_figure  # noqa: E402

AGREEMENT_LABELS = ("elsewhere", "within one cell", "same cell")
AGREEMENT_CMAP = ListedColormap(["#d7301f", "#fdae61", "#1a9850"])


def critic_agreement_levels(run: RunData) -> np.ndarray:
    """(n,) per elite: 2 = critic in the same cell, 1 = within one cell, 0 = elsewhere, NaN = not scored.

    Uses the ``critic_same_cell`` / ``critic_within_one`` columns when filled, otherwise
    recomputes them from the critic's VAD and the grid (Chebyshev distance in cells).
    """
    cols = run.columns
    n = run.n
    same = cols.get("critic_same_cell")
    within = cols.get("critic_within_one")
    if same is not None and within is not None and np.isfinite(same).any():
        out = np.where(np.isfinite(same), np.where(same > 0.5, 2.0, np.where(within > 0.5, 1.0, 0.0)), np.nan)
        return out
    dims = run.grid.ndim
    crit_cols = [CRITIC_COLUMNS[d] for d in range(dims)]
    if not all(c in cols for c in crit_cols):
        return np.full(n, np.nan)
    crit = np.stack([cols[c] for c in crit_cols], axis=1)  # (n, dims)
    scored = np.isfinite(crit).all(axis=1)
    ccell = run.grid.grid_coords(np.nan_to_num(crit))  # where the space places the critic's reading
    dist = np.abs(ccell - run.cells).max(axis=1)
    return np.where(scored, np.where(dist == 0, 2.0, np.where(dist <= 1, 1.0, 0.0)), np.nan)


def critic_agreement_figure(run: RunData) -> Figure:
    """Searcher vs critic per dimension, one scatter per dimension, coloured by agreement.

    Points far from the diagonal are elites the critic disagrees with: images that
    fool only the searcher. Dotted lines mark the cell edges.
    """
    if not run.has_critic():
        raise DataError(f"{run.run_dir / 'archive.csv'}: critic columns are empty; run the critic "
                        f"confirmation first")
    levels = critic_agreement_levels(run)
    dims = run.grid.dims
    fig, axes = plt.subplots(1, len(dims), figsize=(4.0 * len(dims), 4.6), squeeze=False)
    for d, (ax, dim) in enumerate(zip(axes.flat, dims)):
        s = run.columns.get(dim)
        c = run.columns.get(CRITIC_COLUMNS[d])
        if s is None or c is None:
            ax.set_visible(False)
            continue
        ok = np.isfinite(s) & np.isfinite(c)
        lo, hi = run.grid.ranges[d]
        for e in run.grid.edges(d)[1:-1]:
            ax.axvline(e, color="#e0e0e0", lw=0.5, ls=":", zorder=0)
            ax.axhline(e, color="#e0e0e0", lw=0.5, ls=":", zorder=0)
        ax.plot([lo, hi], [lo, hi], color="#777777", lw=0.8, zorder=1)
        for lev, label in enumerate(AGREEMENT_LABELS):
            sel = ok & (levels == lev)
            if sel.any():
                ax.scatter(s[sel], c[sel], s=10, color=AGREEMENT_CMAP(lev), alpha=0.75, lw=0,
                           label=f"{label} ({int(sel.sum())})", zorder=2)
        r = np.corrcoef(s[ok], c[ok])[0, 1] if ok.sum() > 2 and np.std(s[ok]) > 0 and np.std(c[ok]) > 0 else np.nan
        proxy = " (proxy)" if dim in run.proxy_dims() else ""
        ax.set_title(f"{dim}{proxy}: r = {r:.2f}, n = {int(ok.sum())}", fontsize=9)
        ax.set_xlabel(f"searcher {dim} [-1, 1]", fontsize=8)
        ax.set_ylabel(f"critic {dim} [-1, 1]", fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_ylim(-1, 1)
        ax.set_aspect("equal", adjustable="box")
        ax.tick_params(labelsize=7)
        if d == 0:
            ax.legend(fontsize=7, loc="upper left", title="critic places the elite\n(cell over all dims)", title_fontsize=7)
    scored = np.isfinite(levels)
    same = float((levels[scored] == 2).mean()) if scored.any() else float("nan")
    within = float((levels[scored] >= 1).mean()) if scored.any() else float("nan")
    fig.suptitle(f"Searcher vs critic — {run_title(run)}\n"
                 f"critic confirms {same:.0%} in the same cell, {within:.0%} within one cell "
                 f"(off-diagonal points fool only the searcher)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_critic_agreement(run_dir: str | os.PathLike | RunFolder, *, out: str | os.PathLike | None = None) -> Path:
    """Write :func:`critic_agreement_figure` (default ``run_dir/critic_agreement.png``); the PNG path.
    ``run_dir``: a run folder, or the one already read."""
    run = load_run(run_dir)
    fig = critic_agreement_figure(run)
    return save_figure(fig, Path(out) if out is not None else run.run_dir / "critic_agreement.png")


__all__ = ["AGREEMENT_CMAP", "AGREEMENT_LABELS", "critic_agreement_figure", "critic_agreement_levels",
           "plot_critic_agreement"]
