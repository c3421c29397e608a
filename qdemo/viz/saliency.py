"""The figure of ``qdemo regressor explain``: the image, then one saliency overlay per dimension."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Collection, Sequence

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qdemo.io import atomic_path  # noqa: E402


def plot_saliency(image: np.ndarray, maps: np.ndarray, prediction: np.ndarray, out: str | os.PathLike, *,
                  dims: Sequence[str], proxy: Collection[str] = (), method: str = "", title: str = "") -> Path:
    """Write the image and, per dimension, the image under its map (jet, 45 % opacity).

    ``image`` (H, W, 3) in [0, 1]; ``maps`` (len(dims), H, W) in [0, 1]; ``prediction``
    (len(dims),), shown in each panel's title (``proxy`` dimensions are marked). PNG, atomically.
    """
    fig, axes = plt.subplots(1, len(dims) + 1, figsize=(16, 4.4))
    axes[0].imshow(image)
    axes[0].set_title(title, fontsize=9)
    for j, d in enumerate(dims):
        ax = axes[j + 1]
        ax.imshow(image)
        ax.imshow(maps[j], cmap="jet", alpha=0.45, vmin=0, vmax=1)
        tag = " (proxy)" if d in proxy else ""
        ax.set_title(f"{d}{tag} = {prediction[j]:+.2f}\n{method}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return out


__all__ = ["plot_saliency"]
