"""The figure of ``qdemo validate``: human SAM ratings against intended and predicted VAD."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402

from qdemo.io import atomic_path  # noqa: E402


def plot_validation(result: dict[str, Any], path: str | os.PathLike, *, targets: Sequence[str],
                    dims: Sequence[str]) -> Path:
    """Scatter: human mean (y) against each of ``targets`` (x; one row each: intended, then
    predicted), per dimension (one column each), coloured by source; the diagonal is perfect
    agreement.

    ``result``: the dict of :func:`qdemo.web.validate.validate` (``stimuli`` with ``source``,
    ``human`` and one VAD list per target; ``agreement["all"][target][dim]`` with r, MAE, n;
    ``n_ratings``, ``n_participants``).
    """
    colours = {"elite": "#2f6fde", "generator": "#e07a10", "photo": "#1a7f4b"}
    fig, axes = plt.subplots(len(targets), len(dims), figsize=(11, 7.2), sharex=True, sharey=True,
                             squeeze=False)
    stimuli = result["stimuli"]
    srcs = list(dict.fromkeys(x["source"] for x in stimuli))
    for i, tgt in enumerate(targets):
        for k, d in enumerate(dims):
            ax = axes[i, k]
            ax.plot([-1, 1], [-1, 1], color="#999", lw=1, ls="--", zorder=0)
            for src in srcs:
                pts = [(x[tgt][k], x["human"][k]) for x in stimuli
                       if x["source"] == src and math.isfinite(x[tgt][k])]
                if pts:
                    xs, ys = zip(*pts)
                    ax.scatter(xs, ys, s=18, alpha=0.8, color=colours.get(src, "#666"), label=src)
            a = result["agreement"]["all"][tgt][d]
            r = "–" if a["r"] is None else f"{a['r']:+.2f}"
            mae = "–" if a["mae"] is None else f"{a['mae']:.2f}"
            ax.set_title(f"{d}: r {r}, MAE {mae}, n {a['n']}", fontsize=10)
            ax.set_xlim(-1.05, 1.05)
            ax.set_ylim(-1.05, 1.05)
            ax.grid(alpha=0.25)
            if k == 0:
                ax.set_ylabel("human mean (SAM → [-1, 1])")
            if tgt == "predicted":  # the model's dominance head was trained on proxy targets
                ax.set_xlabel(f"{tgt}" + (" (proxy-trained)" if d == "dominance" else ""))
            else:
                ax.set_xlabel(tgt)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    for ax in axes.flat:
        h, lab = ax.get_legend_handles_labels()
        for hh, ll in zip(h, lab):
            if ll not in labels:
                handles.append(hh)
                labels.append(ll)
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.suptitle(f"Human SAM ratings vs intended (top) and predicted (bottom) VAD — "
                 f"{result['n_ratings']} ratings, {result['n_participants']} participant(s)", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


__all__ = ["plot_validation"]
