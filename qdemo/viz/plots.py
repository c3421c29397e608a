"""Plots of an archive run folder: heatmap slices, montage, metric curves, critic agreement.

Each function reads the run folder (``docs/formats.md``), writes PNGs into it atomically
and returns the paths it wrote. They run headless (matplotlib's Agg backend) and are
called by ``qdemo evolve`` at the end of a run, by comparisons and by the browser.

    from qdemo.viz import plot_all
    plot_all("archives/my-run")   # heatmaps/, montage.png, metrics.png, critic_agreement.png

An emotions archive (``--grid emotions``) gets its own figures (:mod:`qdemo.viz.slots`) under
the same names.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from qdemo.errors import DataError
from qdemo.runfolder import RunFolder
from qdemo.runfolder.schema import METRICS
from qdemo.viz.agreement import (
    AGREEMENT_CMAP, AGREEMENT_LABELS, critic_agreement_figure, critic_agreement_levels, plot_critic_agreement,
)
from qdemo.viz.curves import metrics_figure, plot_metrics
from qdemo.viz.heatmaps import HEATMAP_VALUES, heatmap_figure, heatmap_values, plot_heatmap_slices
from qdemo.viz.montage import montage_figure, montage_selection, plot_montage
from qdemo.viz.rundata import load_run
from qdemo.viz.slots import plot_slots
from qdemo.viz.style import EMPTY_COLOR, save_figure

log = logging.getLogger(__name__)


def plot_all(run_dir: str | os.PathLike | RunFolder) -> dict[str, list[Path]]:
    """Every plot that the run's files allow; returns ``name -> paths``. The run folder is read
    once (or handed in already read) and handed to every plot.

    Plots needing files a run does not have yet (metrics, critic scores, elite images)
    are skipped with a log message instead of failing the run.
    """
    run = load_run(run_dir)  # read once (raises for a broken archive: nothing else can be drawn), handed on
    out: dict[str, list[Path]] = {}
    if run.grid.is_slots:  # an emotions archive: slot strip, slot montage, the critic's emotions
        out = plot_slots(run)
    elif run.grid.ndim >= 2:
        out["heatmaps"] = plot_heatmap_slices(run, value="objective")
        if run.has_critic():
            out["heatmaps"] += plot_heatmap_slices(run, value="critic_agreement", slices=False)
        if run.n and "image" in run.columns:
            out["montage"] = [plot_montage(run)]
    if (run.path / METRICS).exists():
        try:
            out["metrics"] = [plot_metrics(run.path, run=run)]
        except DataError as exc:
            log.warning("metrics plot skipped: %s", exc)
    if run.has_critic() and not run.grid.is_slots:
        out["critic_agreement"] = [plot_critic_agreement(run)]
    return out


__all__ = ["AGREEMENT_CMAP", "AGREEMENT_LABELS", "EMPTY_COLOR", "HEATMAP_VALUES", "critic_agreement_figure",
           "critic_agreement_levels", "heatmap_figure", "heatmap_values", "metrics_figure", "montage_figure",
           "montage_selection", "plot_all", "plot_critic_agreement", "plot_heatmap_slices", "plot_metrics",
           "plot_montage", "save_figure"]
