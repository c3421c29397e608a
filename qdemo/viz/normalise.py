"""Figures of ``qdemo normalise report``: low-level statistics per group, spread and drift.

Plain data in (the report's result dict), PNGs out (written atomically). The report
(:func:`qdemo.normalise.report.run_report`) is handed :func:`plot_report` by the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from qdemo.io import atomic_path  # noqa: E402


def _save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def plot_report(result: dict[str, Any], out: Path, variants: Sequence[str]) -> list[str]:
    """Zhang & Kim-style figure per grouping: luminance distributions and amplitude spectra per
    group, one row per variant; plus a bar chart of spread index and drift.

    ``result``: the dict of :func:`qdemo.normalise.report.evaluate` (its ``groupings`` with
    ``curves`` and ``variants``); writes ``lowlevel_<grouping>.png`` and ``summary.png`` into
    ``out`` and returns their file names.
    """
    files = []
    for gname, g in result["groupings"].items():
        fig, axes = plt.subplots(len(variants), 2, figsize=(10, 2.6 * len(variants)), squeeze=False)
        for row, k in enumerate(variants):
            cur = g["curves"][k]
            for gr, h in cur["luminance_histogram"].items():
                x = (np.arange(len(h)) + 0.5) / len(h)
                axes[row, 0].plot(x, h, label=gr)
            for gr, s in cur["amplitude_spectrum"].items():
                axes[row, 1].plot(np.arange(1, len(s) + 1), s, label=gr)
            axes[row, 1].set_xscale("log")
            idx = g["variants"][k]["spread_index"]
            axes[row, 0].set_ylabel(f"{k}\nspread idx {idx:.2f}")
            axes[row, 0].set_title("luminance distribution per group" if row == 0 else "")
            axes[row, 1].set_title("rotationally averaged log amplitude" if row == 0 else "")
        axes[0, 1].legend(fontsize=7, loc="upper right")
        axes[-1, 0].set_xlabel("luminance (CIE Y)")
        axes[-1, 1].set_xlabel("spatial frequency (cycles / image)")
        fig.tight_layout()
        path = out / f"lowlevel_{gname}.png"
        _save(fig, path)
        files.append(path.name)
    g0 = result["groupings"][next(iter(result["groupings"]))]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    names = list(variants)
    axes[0].bar(names, [g0["variants"][k]["spread_index"] for k in names], color="tab:blue")
    axes[0].set_title("between-group spread index (original = 1)")
    axes[1].bar(names, [result["variants"][k]["drift"]["va_distance"] for k in names], color="tab:red")
    axes[1].set_title("critic VA drift from the original")
    for ax in axes:
        ax.tick_params(axis="x", rotation=30, labelsize=8)
    fig.tight_layout()
    _save(fig, out / "summary.png")
    files.append("summary.png")
    return files


__all__ = ["plot_report"]
