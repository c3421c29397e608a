"""The conditional generator's valence x arousal sweep as one labelled figure.

Plain data in: one uint8 tile per sweep point (from
:func:`qdemo.generator.sample.sweep_tiles`) and the point's condition.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qdemo.io import atomic_path  # noqa: E402


def plot_va_sweep(tiles: np.ndarray, points: np.ndarray, steps: int, path: str | os.PathLike, *,
                  resolution: int, per_cell: int = 1, title: str = "") -> Path:
    """Labelled figure: valence on x (low -> high), arousal on y (high at the top).

    ``tiles`` (steps*steps, h, w, 3) uint8, row-major with row 0 = highest arousal (as
    :func:`qdemo.generator.sample.va_sweep_conditions`); ``points`` (steps*steps, 3) the
    condition of each tile; ``resolution``: the generator's image side (for the title);
    ``per_cell``: images per tile (sets the figure's width).
    """
    fig, axes = plt.subplots(steps, steps, figsize=(1.3 * steps * per_cell ** 0.5 + 1, 1.3 * steps + 0.8), squeeze=False)
    for i in range(steps * steps):
        ax = axes[i // steps][i % steps]
        ax.imshow(tiles[i], interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        v, a = float(points[i, 0]), float(points[i, 1])
        if i // steps == steps - 1:
            ax.set_xlabel(f"V {v:+.2f}", fontsize=8)
        if i % steps == 0:
            ax.set_ylabel(f"A {a:+.2f}", fontsize=8)
    d = float(points[0, 2])
    fig.suptitle(title or f"valence (x) x arousal (y) at dominance {d:+.2f}, {resolution}px", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path


__all__ = ["plot_va_sweep"]
