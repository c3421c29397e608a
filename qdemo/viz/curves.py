"""Per-iteration curves of a run's ``metrics.csv``."""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from qdemo.errors import DataError  # noqa: E402
from qdemo.runfolder import RunFolder  # noqa: E402
from qdemo.viz.rundata import load_metrics, load_run  # noqa: E402
from qdemo.viz.style import run_title, save_figure  # noqa: E402

_METRIC_ORDER = ("qd_score", "qd_score_normalised", "coverage", "best", "mean_objective",
                 "num_elites", "critic_confirmed", "critic_within_one_cell")
_X_COLUMNS = ("evaluations", "iteration", "itr")


def metrics_figure(run_dir: str | os.PathLike, *, run: RunFolder | None = None) -> Figure:
    """Per-iteration curves from ``metrics.csv`` (every numeric column, known ones first),
    one panel each, against evaluations (or the iteration)."""
    run_dir = Path(run_dir)
    cols = load_metrics(run_dir)
    numeric = {k: v for k, v in cols.items() if v.dtype != object and np.isfinite(v).any()}
    x_name = next((c for c in _X_COLUMNS if c in numeric), None)
    n_rows = len(next(iter(cols.values())))
    x = numeric[x_name] if x_name else np.arange(1, n_rows + 1, dtype=float)
    skip = set(_X_COLUMNS) | {"time", "seconds", "wall_s", "timestamp", "seed"}
    names = [c for c in _METRIC_ORDER if c in numeric] + sorted(
        c for c in numeric if c not in _METRIC_ORDER and c not in skip)
    if not names:
        raise DataError(f"{run_dir / 'metrics.csv'}: no numeric metric columns to plot (found: {', '.join(cols)})")
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.9 * nrows + 0.6), squeeze=False)
    for ax, name in zip(axes.flat, names):
        y = numeric[name]
        pct = name == "coverage" and np.nanmax(y) <= 1.0
        ax.plot(x, y * 100 if pct else y, lw=1.4, marker="." if n_rows <= 40 else None)
        ax.set_title(name + (" (%)" if pct else ""), fontsize=9)
        ax.set_xlabel(x_name or "iteration", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    title = run_dir.name
    try:
        title = run_title(load_run(run if run is not None else run_dir))
    except DataError:
        pass
    fig.suptitle(f"Metrics per iteration — {title}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_metrics(run_dir: str | os.PathLike, *, out: str | os.PathLike | None = None,
                 run: RunFolder | None = None) -> Path:
    """Write :func:`metrics_figure` (default ``run_dir/metrics.png``); returns the PNG path.
    ``run``: the run folder already read (its title), else read here."""
    fig = metrics_figure(run_dir, run=run)
    return save_figure(fig, Path(out) if out is not None else Path(run_dir) / "metrics.png")


__all__ = ["metrics_figure", "plot_metrics"]
