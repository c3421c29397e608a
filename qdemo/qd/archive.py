"""Archives over VAD cells (pyribs ``GridArchive`` / ``CVTArchive``) and cell geometry.

Every archive stores, next to pyribs' own fields, the searcher's full mean VAD (``vad``)
and its ensemble spread (``vad_sd``) as extra fields, so a 2-D (V, A) archive still
remembers each elite's dominance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from ribs.archives import ArchiveBase, CVTArchive, GridArchive

from qdemo import DIMS, EMOTIONS
from qdemo.qd.config import GridConfig

EXTRA_FIELDS = {"vad": ((3,), np.float64), "vad_sd": ((3,), np.float64)}
SLOT_FIELDS = {**EXTRA_FIELDS, "dist": ((len(EMOTIONS),), np.float64)}
"""Extra fields of an emotions archive: also the searcher's emotion distribution (7,)."""


@dataclass
class Archives:
    """The archive the emitters see and the one that is reported."""

    archive: ArchiveBase
    """What emitters insert into and learn from (thresholded for CMA-MAE)."""
    result: Optional[ArchiveBase]
    """The plain elitist archive reported when ``archive`` is thresholded; else None."""

    @property
    def report(self) -> ArchiveBase:
        return self.archive if self.result is None else self.result


def grid_ranges(cfg: GridConfig) -> np.ndarray:
    """(m, 2) float ranges of the measures used by this grid."""
    if cfg.name == "emotions":  # slot in [0, S], then the intensity band range
        return np.asarray([[0.0, float(len(cfg.slot_names()))], [float(x) for x in cfg.intensity_range]][: cfg.measure_dim])
    return np.asarray([[float(lo), float(hi)] for lo, hi in cfg.ranges[: cfg.measure_dim]])


def grid_dims(cfg: GridConfig) -> list[str]:
    if cfg.name == "emotions":
        return ["emotion", "intensity"][: cfg.measure_dim]
    return list(DIMS[: cfg.measure_dim])


def grid_cells(cfg: GridConfig) -> list[int]:
    """Cells per measure of a regular grid (slots[, bands] for 'emotions')."""
    if cfg.name == "emotions":
        return [len(cfg.slot_names()), int(cfg.intensity_bands)][: cfg.measure_dim]
    return [int(c) for c in cfg.cells[: cfg.measure_dim]]


def _make_one(cfg: GridConfig, solution_dim: int, *, learning_rate: Optional[float],
              threshold_min: float, seed: int) -> ArchiveBase:
    ranges = [tuple(r) for r in grid_ranges(cfg)]
    kw = {}
    if learning_rate is not None:
        kw = {"learning_rate": learning_rate, "threshold_min": threshold_min}
    if cfg.name == "cvt":
        return CVTArchive(solution_dim=solution_dim, centroids=cfg.cvt_cells, ranges=ranges,
                          samples=cfg.cvt_samples, seed=seed, nearest_neighbors="brute_force",
                          extra_fields=EXTRA_FIELDS, **kw)
    return GridArchive(solution_dim=solution_dim, dims=grid_cells(cfg), ranges=ranges, seed=seed,
                       extra_fields=SLOT_FIELDS if cfg.name == "emotions" else EXTRA_FIELDS, **kw)


def build_archives(cfg: GridConfig, solution_dim: int, *, learning_rate: float = 1.0,
                   threshold_min: float = 0.0, seed: int = 0) -> Archives:
    """A plain archive, or (``learning_rate < 1``) a CMA-MAE soft archive plus a result archive."""
    if learning_rate >= 1.0:
        return Archives(_make_one(cfg, solution_dim, learning_rate=None, threshold_min=-np.inf, seed=seed), None)
    soft = _make_one(cfg, solution_dim, learning_rate=learning_rate, threshold_min=threshold_min, seed=seed)
    result = _make_one(cfg, solution_dim, learning_rate=None, threshold_min=-np.inf, seed=seed + 1)
    return Archives(soft, result)


def cell_coords(archive: ArchiveBase, indices: np.ndarray) -> Optional[np.ndarray]:
    """(N,) flat cell indices -> (N, m) integer grid coordinates; None for a CVT archive."""
    if isinstance(archive, GridArchive):
        return archive.int_to_grid_index(np.asarray(indices, dtype=np.int64))
    return None


def cell_agreement(archive: ArchiveBase, indices: np.ndarray, other_measures: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Does another model put each elite in the same cell, and within one cell?

    ``indices`` (N,) are the elites' cells; ``other_measures`` (N, m) the other model's
    measures (clipped to the ranges like the searcher's). For a grid, "within one" means a
    Chebyshev distance <= 1 in cell coordinates (the cell or one of its up to 3^m - 1
    neighbours). A CVT has no coordinates: there "within one" means the elite's centroid
    is among the 1 + 2m centroids nearest to the other model's point (an approximation of
    Voronoi adjacency).

    Returns ``(same (N,) bool, within_one (N,) bool)``.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if len(indices) == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    lo, hi = archive.lower_bounds, archive.upper_bounds
    pts = np.clip(np.asarray(other_measures, dtype=np.float64), lo, hi)
    other = archive.index_of(pts)
    same = other == indices
    if isinstance(archive, GridArchive):
        a = archive.int_to_grid_index(indices)
        b = archive.int_to_grid_index(other)
        within = np.abs(a - b).max(axis=1) <= 1
    else:
        cents = archive.centroids  # (C, m)
        k = min(len(cents), 1 + 2 * pts.shape[1])
        d = ((pts[:, None, :] - cents[None, :, :]) ** 2).sum(-1)  # (N, C)
        nearest = np.argsort(d, axis=1)[:, :k]
        within = (nearest == indices[:, None]).any(axis=1)
    return same, within | same


def coverage_of_points(archive: ArchiveBase, measures: np.ndarray) -> tuple[np.ndarray, float]:
    """Cells that points (N, m) fall in, and the fraction of the archive's cells they occupy."""
    if len(measures) == 0:
        return np.zeros(0, np.int64), 0.0
    pts = np.clip(np.asarray(measures, dtype=np.float64), archive.lower_bounds, archive.upper_bounds)
    idx = archive.index_of(pts)
    return idx, float(len(np.unique(idx)) / archive.cells)
