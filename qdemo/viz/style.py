"""What every run-folder plot shares: headless matplotlib, atomic PNG writing, axis labels
with the SAM 1–9 equivalent, band labels and the run's title line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from qdemo.io import atomic_path  # noqa: E402
from qdemo.viz.rundata import RunData, from_sam9, to_sam9  # noqa: E402

EMPTY_COLOR = "#ffffff"
"""Face colour of panels: cells without an elite are left this colour (drawn as empty)."""


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG atomically and close it."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return path


def axis_label(dim: str, run: RunData | None = None) -> str:
    proxy = run is not None and dim in run.proxy_dims()
    return f"{dim}{' (proxy)' if proxy else ''}  [-1, 1]"


def add_sam_axes(ax: Any, *, x: bool = True, y: bool = True) -> None:
    """Secondary axes with the SAM 1–9 equivalent of the canonical [-1, 1] scale."""
    if x:
        sx = ax.secondary_xaxis("top", functions=(to_sam9, from_sam9))
        sx.set_xlabel("SAM 1–9", fontsize=7, labelpad=2)
        sx.tick_params(labelsize=7)
    if y:
        sy = ax.secondary_yaxis("right", functions=(to_sam9, from_sam9))
        sy.set_ylabel("SAM 1–9", fontsize=7, labelpad=2)
        sy.tick_params(labelsize=7)


def band_label(run: RunData, d: int, k: int) -> str:
    lo, hi = run.grid.edges(d)[k], run.grid.edges(d)[k + 1]
    name = run.grid.dims[d] + (" (proxy)" if run.grid.dims[d] in run.proxy_dims() else "")
    return (f"{name} {lo:+.2f}…{hi:+.2f}\n(SAM {float(to_sam9(lo)):.1f}–{float(to_sam9(hi)):.1f})")


def run_title(run: RunData) -> str:
    m = run.manifest
    bits = [run.name]
    emitter = m.get("emitter")
    if isinstance(emitter, dict):
        emitter = emitter.get("name")
    if emitter:
        bits.append(f"emitter {emitter}")
    renderer = m.get("renderer")
    if isinstance(renderer, dict) and renderer.get("name"):
        bits.append(f"renderer {renderer['name']}")
    searcher = ((m.get("models") or {}).get("searcher") or {}).get("name")
    if searcher:
        bits.append(f"searcher {searcher}")
    return " · ".join(bits)


__all__ = ["EMPTY_COLOR", "add_sam_axes", "axis_label", "band_label", "run_title", "save_figure"]
