"""Heatmaps of an archive: valence x arousal panels, one per dominance band."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import BoundaryNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from qdemo.errors import DataError  # noqa: E402
from qdemo.viz.agreement import AGREEMENT_CMAP, AGREEMENT_LABELS, critic_agreement_levels  # noqa: E402
from qdemo.runfolder import RunFolder  # noqa: E402
from qdemo.viz.rundata import RunData, dense_grid, load_run  # noqa: E402
from qdemo.viz.style import EMPTY_COLOR, add_sam_axes, axis_label, band_label, run_title, save_figure  # noqa: E402

HEATMAP_VALUES = ("objective", "critic_agreement")
"""Named heatmap values; any other numeric archive.csv column (e.g. ``valence_sd``) works too."""


def heatmap_values(run: RunData, value: str = "objective") -> np.ndarray:
    """Dense array of shape ``grid.cells`` of the chosen value (NaN = empty cell)."""
    if value == "critic_agreement":
        if not run.has_critic():
            raise DataError(
                f"{run.run_dir / 'archive.csv'}: critic columns are empty; run the critic confirmation "
                f"first (value='critic_agreement' needs critic_valence, critic_arousal, ...)"
            )
        return dense_grid(run, critic_agreement_levels(run), reduce="mean")
    if value not in run.columns or run.columns[value].dtype == object:
        numeric = [c for c, v in run.columns.items() if v.dtype != object]
        raise DataError(
            f"{run.run_dir / 'archive.csv'}: no numeric column {value!r} to draw "
            f"(use one of: {', '.join(HEATMAP_VALUES + tuple(c for c in numeric if c != 'objective'))})"
        )
    reduce = "max" if value == "objective" else "mean"
    return dense_grid(run, run.columns[value], reduce=reduce)



def _heatmap_style(run: RunData, value: str, data: np.ndarray) -> dict[str, Any]:
    if value == "critic_agreement":
        return dict(cmap=AGREEMENT_CMAP, norm=BoundaryNorm([-0.5, 0.5, 1.5, 2.5], 3),
                    label="critic agreement (per elite)")
    if value == "objective":
        return dict(cmap="viridis", vmin=0.0, vmax=100.0, label="objective (0–100)")
    finite = data[np.isfinite(data)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1e-9
    return dict(cmap="magma", vmin=lo, vmax=hi, label=value)


def _draw_slice(ax: Any, run: RunData, plane: np.ndarray, style: dict[str, Any]) -> Any:
    """Draw one (n_valence, n_arousal) slice; empty (NaN) cells are not drawn."""
    xe, ye = run.grid.edges(0), run.grid.edges(1)
    masked = np.ma.masked_invalid(plane.T)  # (n_arousal, n_valence): rows = y
    ax.set_facecolor(EMPTY_COLOR)
    kw = {k: style[k] for k in ("cmap", "norm", "vmin", "vmax") if k in style}
    mesh = ax.pcolormesh(xe, ye, masked, shading="flat", **kw)
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_aspect("auto")
    # faint cell grid so empty cells read as cells, not as missing plot
    for e in xe[1:-1]:
        ax.axvline(e, color="#e3e3e3", lw=0.4, zorder=0)
    for e in ye[1:-1]:
        ax.axhline(e, color="#e3e3e3", lw=0.4, zorder=0)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    ax.tick_params(labelsize=7)
    return mesh


def _fit_suptitle(fig: Figure, text: str, *, fontsize: float) -> Any:
    """``fig.suptitle(text)``, its lines wrapped until it fits the figure's width.

    A long run title in a one-band figure was clipped at both edges. Lines break between the
    `` · `` parts of the run title first, inside them only if one part alone is too wide; the
    width is measured (not guessed from character counts), so any font works.
    """
    import textwrap

    renderer = fig.canvas.get_renderer()
    title = None
    for keep_parts in (True, False):
        # a no-break space (which textwrap never splits at) holds a part together
        lines = [ln.replace(" · ", "\0").replace(" ", "\u00a0").replace("\0", " · ") if keep_parts else ln
                 for ln in text.split("\n")]
        width = max(len(line) for line in lines)
        while width >= 12:
            wrapped = "\n".join(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
                                for line in lines)
            title = fig.suptitle(wrapped.replace("\u00a0", " "), fontsize=fontsize)
            box = title.get_window_extent(renderer)
            if box.x0 >= 0 and box.x1 <= fig.bbox.width:
                return title
            width = int(width * 0.85)
    return title


def heatmap_figure(run: RunData, value: str = "objective", *, band: int | None = None) -> Figure:
    """Figure of valence×arousal heatmaps, one panel per dominance band (or only ``band``).

    A 2-D grid gives one panel. Empty cells are left blank (white); a shared colour bar
    gives the scale. Axes show the canonical [-1, 1] scale with SAM 1–9 on the secondary axes.
    """
    if run.grid.ndim < 2:
        raise DataError(f"{run.run_dir / 'manifest.json'}: heatmaps need a 2-D or 3-D grid, got {run.grid.dims}")
    data = heatmap_values(run, value)  # shape grid.cells
    style = _heatmap_style(run, value, data)
    if run.grid.ndim == 3:
        n_bands = run.grid.cells[2]
        bands = list(range(n_bands)) if band is None else [band]
        planes = [data[:, :, k] for k in bands]
        titles = [band_label(run, 2, k) for k in bands]
    else:
        bands, planes, titles = [0], [data], [""]
    n = len(planes)
    ncols = min(n, 5)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(5.5, 2.9 * ncols + 1.3), 3.0 * nrows + 1.2),
                             squeeze=False, sharex=True, sharey=True)
    mesh = None
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.set_visible(False)
            continue
        mesh = _draw_slice(ax, run, planes[i], style)
        ax.set_gid(f"heatmap-panel-{bands[i]}")
        filled = int(np.isfinite(planes[i]).sum())
        total = planes[i].size
        ax.set_title(f"{titles[i]}\n{filled}/{total} cells filled" if titles[i] else
                     f"{filled}/{total} cells filled", fontsize=8)
        r, c = divmod(i, ncols)
        if r == nrows - 1 or i + ncols >= n:
            ax.set_xlabel(axis_label(run.grid.dims[0], run), fontsize=8)
        if c == 0:
            ax.set_ylabel(axis_label(run.grid.dims[1], run), fontsize=8)
        add_sam_axes(ax, x=(r == 0), y=(c == ncols - 1 or i == n - 1))
    what = "critic agreement" if value == "critic_agreement" else value
    note = "white = empty cell" + ("; one panel per dominance band" if run.grid.ndim == 3 and n > 1 else "")
    if run.grid.name == "cvt":
        note += f"; CVT elites binned on a {'×'.join(map(str, run.grid.cells))} display grid"
    sep = "\n" if n <= 2 else " — "
    _fit_suptitle(fig, f"{what} per cell{sep}{run_title(run)}\n({note})", fontsize=9)
    width = fig.get_figwidth()
    right = 1.0 - (1.9 if value == "critic_agreement" else 1.3) / width  # room for the colour bar
    fig.tight_layout(rect=(0, 0, right, 1))
    cax = fig.add_axes((right + 0.12 / width, 0.12, 0.16 / width, 0.68))
    cb = fig.colorbar(mesh, cax=cax)
    cb.set_label(style["label"], fontsize=8)
    cb.ax.tick_params(labelsize=7)
    if value == "critic_agreement":
        cb.set_ticks([0, 1, 2])
        cb.set_ticklabels(list(AGREEMENT_LABELS))
    return fig


def plot_heatmap_slices(run_dir: str | os.PathLike | RunFolder, *, value: str = "objective",
                        out: str | os.PathLike | None = None, slices: bool = True) -> list[Path]:
    """Write the dominance-band heatmaps of a run's archive; return the PNG paths.

    ``out`` (default ``run_dir/heatmaps``) receives ``<value>.png`` with all bands in one
    figure and, with ``slices``, one ``<value>_d<k>.png`` per dominance band. ``run_dir``: a run
    folder, or the one already read.
    """
    run = load_run(run_dir)
    out_dir = Path(out) if out is not None else run.run_dir / "heatmaps"
    paths = [save_figure(heatmap_figure(run, value), out_dir / f"{value}.png")]
    if slices and run.grid.ndim == 3:
        for k in range(run.grid.cells[2]):
            paths.append(save_figure(heatmap_figure(run, value, band=k), out_dir / f"{value}_d{k}.png"))
    return paths


__all__ = ["HEATMAP_VALUES", "heatmap_figure", "heatmap_values", "plot_heatmap_slices"]
