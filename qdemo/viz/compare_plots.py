"""Figures of ``qdemo compare``: per-cell difference heatmaps and per-region image sheets.

Plain data in (arrays, paths, labels), one PNG out (written atomically); the comparison
(:mod:`qdemo.compare.report`) decides what goes where.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qdemo.io import atomic_path  # noqa: E402


def plot_differences(panels: Sequence[tuple[np.ndarray, str, str, bool]], extent: tuple[float, float, float, float],
                     title: str, path: str | os.PathLike) -> Path:
    """One heatmap per panel on the valence x arousal plane, each with its colour bar.

    ``panels``: ``(grid, title, cmap, symmetric)``, ``grid`` (n_arousal, n_valence) with NaN
    for cells without a value; a symmetric panel centres its colour scale on 0.
    ``extent``: (valence low, valence high, arousal low, arousal high).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8))
    for ax, (g, panel_title, cmap, sym) in zip(axes, panels):
        kw: dict[str, Any] = {}
        if sym:
            m = float(np.nanmax(np.abs(g))) if np.isfinite(g).any() else 1.0
            kw = {"vmin": -m, "vmax": m}
        im = ax.imshow(g, origin="lower", extent=extent, cmap=cmap, aspect="auto", **kw)
        ax.set_title(panel_title, fontsize=9)
        ax.set_xlabel("valence")
        ax.set_ylabel("arousal")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path


def plot_sheet(rows: Sequence[tuple[str, Sequence[tuple[str | os.PathLike, str]]]], columns: Sequence[str],
               title: str, path: str | os.PathLike) -> Path:
    """A grid of images: one row per entry of ``rows``, ``columns`` titles over the first row.

    ``rows``: ``(row label, [(image path, label under the image), ...])``; every row has
    ``len(columns)`` images.
    """
    from PIL import Image

    k = len(columns)
    fig, axes = plt.subplots(len(rows), k, figsize=(1.25 * k + 0.6, 1.35 * len(rows) + 0.6), squeeze=False)
    for i, (row_label, images) in enumerate(rows):
        for j, (p, label) in enumerate(images):
            ax = axes[i][j]
            with Image.open(p) as im:
                ax.imshow(np.asarray(im.convert("RGB")), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(label, fontsize=6)
            if i == 0:
                ax.set_title(columns[j], fontsize=8)
        axes[i][0].set_ylabel(row_label, fontsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path


__all__ = ["plot_differences", "plot_sheet"]
