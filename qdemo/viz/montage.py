"""The montage: elite thumbnails placed on the valence–arousal plane."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from qdemo.errors import DataError  # noqa: E402
from qdemo.runfolder import RunFolder  # noqa: E402
from qdemo.viz.rundata import RunData, load_run  # noqa: E402
from qdemo.viz.style import add_sam_axes, axis_label, band_label, run_title, save_figure  # noqa: E402

log = logging.getLogger(__name__)

MONTAGE_DPI = 120
"""Resolution of montage.png."""


def _load_thumb(run: RunData, rel: str, size: int) -> np.ndarray | None:
    from PIL import Image

    from qdemo.io import open_rgb

    path = run.run_dir / rel
    try:
        im = open_rgb(path)
    except DataError as exc:
        log.warning("montage: %s", exc)
        return None
    im = im.resize((size, size), Image.BILINEAR)
    return np.asarray(im)


def montage_selection(run: RunData, *, max_per_axis: int = 12, band: int | None = None) -> dict[tuple[int, int], int]:
    """Which elite to show where: ``(block_v, block_a) -> row`` of archive.csv.

    The V-A cells are grouped into at most ``max_per_axis`` blocks per axis; each block
    shows its best-objective elite over all dominance bands (or within ``band``).
    """
    if run.grid.ndim < 2:
        raise DataError(f"{run.run_dir / 'manifest.json'}: a montage needs valence and arousal")
    nv, na = run.grid.cells[0], run.grid.cells[1]
    gv, ga = min(nv, max_per_axis), min(na, max_per_axis)
    obj = run.columns["objective"]
    pick: dict[tuple[int, int], int] = {}
    for i in range(run.n):
        if band is not None and run.grid.ndim == 3 and run.cells[i, 2] != band:
            continue
        key = tuple(int(t) for t in run.grid.tiles(run.cells[i, :2], (nv, na), (gv, ga)))
        if key not in pick or obj[i] > obj[pick[key]]:
            pick[key] = i
    return pick


def montage_figure(run: RunData, *, max_per_axis: int = 12, band: int | None = None,
                   thumb_px: int = 64) -> Figure:
    """Figure of elite thumbnails placed on the valence–arousal plane.

    One thumbnail per V-A block (the grid's V-A cells, grouped to at most ``max_per_axis``
    per axis): the best objective over dominance, or within dominance ``band``. A missing
    image is a hatched frame.
    """
    if band is not None and (run.grid.ndim < 3 or not 0 <= band < run.grid.cells[2]):
        raise DataError(f"band={band}: the grid of {run.run_dir} has "
                        f"{run.grid.cells[2] if run.grid.ndim == 3 else 0} dominance bands")
    if "image" not in run.columns:
        raise DataError(f"{run.run_dir / 'archive.csv'}: missing column 'image' (elite PNG paths)")
    pick = montage_selection(run, max_per_axis=max_per_axis, band=band)
    nv, na = run.grid.cells[0], run.grid.cells[1]
    gv, ga = min(nv, max_per_axis), min(na, max_per_axis)
    (v0, v1), (a0, a1) = run.grid.ranges[0], run.grid.ranges[1]
    bw, bh = (v1 - v0) / gv, (a1 - a0) / ga
    fig, ax = plt.subplots(figsize=(max(6.0, 0.62 * gv + 2.2), max(6.0, 0.62 * ga + 1.8)))
    ax.set_facecolor("#f4f4f4")
    missing = 0
    for (bv, ba), i in sorted(pick.items()):
        thumb = _load_thumb(run, str(run.columns["image"][i]), thumb_px)
        x0, y0 = v0 + bv * bw, a0 + ba * bh
        pad = 0.04 * min(bw, bh)
        if thumb is None:
            missing += 1
            ax.add_patch(plt.Rectangle((x0 + pad, y0 + pad), bw - 2 * pad, bh - 2 * pad,
                                       fill=False, ec="#d7301f", lw=1, hatch="xx"))
            continue
        ax.imshow(thumb, extent=(x0 + pad, x0 + bw - pad, y0 + pad, y0 + bh - pad),
                  origin="upper", interpolation="nearest", zorder=2)
        ax.text(x0 + bw - pad, y0 + pad, f"{run.columns['objective'][i]:.0f}", fontsize=5.5,
                ha="right", va="bottom", color="white", zorder=3,
                bbox=dict(boxstyle="square,pad=0.1", fc="black", ec="none", alpha=0.55))
    ax.set_xlim(v0, v1)
    ax.set_ylim(a0, a1)
    ax.set_xlabel(axis_label(run.grid.dims[0], run), fontsize=9)
    ax.set_ylabel(axis_label(run.grid.dims[1], run), fontsize=9)
    ax.axhline(0.0, color="#bbbbbb", lw=0.6, zorder=1)
    ax.axvline(0.0, color="#bbbbbb", lw=0.6, zorder=1)
    add_sam_axes(ax)
    which = ("best over all dominance bands" if band is None or run.grid.ndim < 3
             else band_label(run, 2, band).replace("\n", " "))
    grouping = "" if (gv, ga) == (nv, na) else f"; {nv}×{na} cells grouped into {gv}×{ga} blocks"
    extra = f"; {missing} image(s) missing (hatched)" if missing else ""
    fig.suptitle(f"Elites on the valence–arousal plane — {run_title(run)}\n"
                 f"{len(pick)} thumbnails, {which}{grouping}; number = objective{extra}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_montage(run_dir: str | os.PathLike | RunFolder, *, out: str | os.PathLike | None = None,
                 max_per_axis: int = 12, band: int | None = None, thumb_px: int = 64) -> Path:
    """Write :func:`montage_figure` of a run (default ``run_dir/montage.png``); returns the PNG path."""
    run = load_run(run_dir)
    fig = montage_figure(run, max_per_axis=max_per_axis, band=band, thumb_px=thumb_px)
    return save_figure(fig, Path(out) if out is not None else run.run_dir / "montage.png", dpi=MONTAGE_DPI)


__all__ = ["MONTAGE_DPI", "montage_figure", "montage_selection", "plot_montage"]
