"""The measure space: where any point of the emotion space lands, the one home of the cell grid.

A :class:`MeasureSpace` is one of four kinds (``name``): ``vad`` and ``va``, regular grids over
(valence, arousal[, dominance]); ``cvt``, a centroidal Voronoi tessellation over VAD (its cells are
``centroids``; points are binned on a display grid, ``cells``, to draw them); ``emotions``, one
slot per discrete emotion (``slots``), optionally x intensity bands: a regular grid over
(slot + 0.5, probability of the slot's emotion).

Built once, from the grid config (:meth:`~MeasureSpace.from_config`) or from a run's manifest
(:meth:`~MeasureSpace.from_manifest`), it writes itself back (:meth:`~MeasureSpace.to_manifest`),
builds the pyribs archive, turns a model's reading into measures (clipped VAD, or the slot of an
emotion distribution), places any point (elite, critic reading, photo, benchmark sample) in its
cell exactly as pyribs' archive does, says whether two placements are the same cell or
neighbours, and knows its archive.csv cell columns and axis labels. Nothing else in qdemo
computes a cell index by hand. Standard library at import; numpy in the methods on arrays.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from qdemo import DIMS, EMOTIONS
from qdemo.errors import DataError
from qdemo.grid_manifest import DISPLAY_CELLS, KINDS, MANIFEST_NAME, SLOT_DIMS, grid_fields

CELL_COLUMNS = ("cell_v", "cell_a", "cell_d")
"""archive.csv columns holding the integer cell coordinate along valence, arousal, dominance."""
SLOT_CELL_COLUMNS = ("cell_slot", "cell_band")
"""... of an emotions archive: the slot (position in ``slots``) and intensity band."""
EPSILON = 1e-6
"""pyribs' ``GridArchive`` epsilon: added before flooring, so a point on a cell boundary
lands in the upper cell despite rounding. Placement here copies pyribs' arithmetic."""


def _np():
    import numpy

    return numpy


@dataclass(eq=False)
class MeasureSpace:
    """The cells of a search and how a point finds its cell (module docstring); lists for JSON."""

    name: str
    """'vad', 'va', 'cvt' or 'emotions' (:data:`KINDS`)."""
    dims: list[str]
    """Measure names in order, e.g. ['valence', 'arousal', 'dominance'] or ['emotion', 'intensity']."""
    cells: list[int]
    """Cells per dimension (for CVT: the display grid its points are binned on)."""
    ranges: list[tuple[float, float]]
    """(low, high) per dimension (VAD on the canonical scale; slot [0, S]; probability band range)."""
    binned: bool = False
    """True for CVT: no regular grid; ``cells`` is a display grid, the archive's cells are ``centroids``."""
    slots: list[str] = field(default_factory=list)
    """Emotions grid: the emotion of each slot, in order (empty otherwise)."""
    centroids: Optional[list[list[float]]] = None
    """CVT: the (C, m) centroids of the archive's cells (computed on first use when built from a config)."""
    cvt_cells: int = 0
    """CVT built from a config: how many centroids k-means places."""
    cvt_samples: int = 0
    """CVT built from a config: uniform samples k-means clusters."""
    seed: int = 0
    """CVT built from a config: seed of the k-means samples (pyribs ``k_means_centroids``)."""

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, grid: Any, *, seed: int = 0) -> "MeasureSpace":
        """The space of a grid config (``qdemo.qd.config.GridConfig``: name, cells, ranges, cvt_cells,
        cvt_samples, slots, intensity_bands, intensity_range); ``seed``: the run's (CVT centroids)."""
        name = str(grid.name)
        if name == "emotions":
            return cls.emotion_slots(list(grid.slots) or list(EMOTIONS), bands=int(grid.intensity_bands),
                                     band_range=grid.intensity_range)
        m = 2 if name == "va" else 3
        ranges = [(float(lo), float(hi)) for lo, hi in grid.ranges[:m]]
        if name == "cvt":
            return cls("cvt", list(DIMS[:m]), list(DISPLAY_CELLS[:m]), ranges, binned=True,
                       cvt_cells=int(grid.cvt_cells), cvt_samples=int(grid.cvt_samples), seed=int(seed))
        return cls(name, list(DIMS[:m]), [int(c) for c in grid.cells[:m]], ranges)

    @classmethod
    def grid(cls, ranges: Sequence[Sequence[float]], cells: Sequence[int],
             dims: Optional[Sequence[str]] = None) -> "MeasureSpace":
        """A regular grid over the first ``len(ranges)`` VAD dimensions (or ``dims``)."""
        dims = list(dims) if dims is not None else list(DIMS[: len(ranges)])
        return cls("va" if dims == list(DIMS[:2]) else "vad", dims, [int(c) for c in cells],
                   [(float(lo), float(hi)) for lo, hi in ranges])

    @classmethod
    def emotion_slots(cls, slots: Sequence[str], *, bands: int = 1,
                      band_range: Sequence[float] = (0.0, 1.0)) -> "MeasureSpace":
        """One slot per emotion of ``slots`` (names of :data:`qdemo.EMOTIONS`), x ``bands`` bands of
        the slot emotion's probability over ``band_range`` when ``bands`` > 1."""
        m = 2 if int(bands) > 1 else 1
        ranges = [(0.0, float(len(slots))), (float(band_range[0]), float(band_range[1]))][:m]
        return cls("emotions", list(SLOT_DIMS[:m]), [len(slots), int(bands)][:m], ranges, slots=list(slots))

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], source: str | os.PathLike = MANIFEST_NAME) -> "MeasureSpace":
        """The manifest's ``grid`` validated (DataError naming ``source`` and the problem)."""
        return cls(**grid_fields(manifest, source))

    def to_manifest(self) -> dict[str, Any]:
        """manifest.json ``grid``: what :meth:`from_manifest` reads back to an equal space."""
        out: dict[str, Any] = {"name": self.name, "dims": list(self.dims),
                               "cells": [len(self.centroid_array())] if self.binned else list(self.cells),
                               "ranges": [list(r) for r in self.ranges]}
        if self.is_slots:
            out["slots"] = list(self.slots)
        if self.binned:
            out["centroids"] = self.centroid_array().tolist()
        return out

    def to_json(self) -> dict[str, Any]:
        """The space as the browser shows it: name, dims, (display) cells, ranges, binned, slots."""
        out = {"name": self.name, "dims": list(self.dims), "cells": list(self.cells),
               "ranges": [list(r) for r in self.ranges], "binned": self.binned}
        if self.is_slots:
            out["slots"] = list(self.slots)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MeasureSpace):
            return NotImplemented
        mine, theirs = self.to_json(), other.to_json()
        if self.binned and other.binned:
            np = _np()
            return mine == theirs and np.array_equal(self.centroid_array(), other.centroid_array())
        return mine == theirs

    # ------------------------------------------------------------------ geometry
    @property
    def ndim(self) -> int:
        """Number of measures."""
        return len(self.dims)

    @property
    def is_slots(self) -> bool:
        """True for an emotions grid (cells are emotion slots, not VAD cells)."""
        return self.name == "emotions"

    @property
    def cell_columns(self) -> tuple[str, ...]:
        """archive.csv columns of the cell coordinates (a CVT archive has none: its elites are
        binned on the display grid by their measures)."""
        return (SLOT_CELL_COLUMNS if self.is_slots else CELL_COLUMNS)[: self.ndim]

    @property
    def size(self) -> int:
        """Number of cells of the display grid (CVT: of its display grid; :attr:`archive_cells` of the archive)."""
        return math.prod(self.cells)

    @property
    def archive_cells(self) -> int:
        """Number of cells of the archive (CVT: its centroids)."""
        return int(self.cvt_cells or len(self.centroids or [])) if self.binned else self.size

    def axis_label(self, d: int, *, proxy: Sequence[str] = ()) -> str:
        """The label of measure ``d`` on a plot (``proxy``: dimensions the searcher learned from a proxy)."""
        dim = self.dims[d]
        if self.is_slots:
            lo, hi = self.ranges[d]
            return "emotion slot" if d == 0 else f"p(slot emotion)  [{lo:g}, {hi:g}]"
        return f"{dim}{' (proxy)' if dim in proxy else ''}  [-1, 1]"

    def cell_labels(self, indices) -> Optional[list[str]]:
        """Emotions grid: the slot emotion of each cell of ``indices`` (N,); None for VAD spaces."""
        return [self.slots[int(c)] for c in self.coords(indices)[:, 0]] if self.is_slots else None

    def centre(self, coords: Sequence[int]) -> list[float]:
        """Centre of the (display) cell ``coords``."""
        return [lo + (int(c) + 0.5) * (hi - lo) / n for c, (lo, hi), n in zip(coords, self.ranges, self.cells)]

    def edges(self, d: int):
        """(cells[d] + 1,) cell boundaries along dimension ``d`` (numpy)."""
        lo, hi = self.ranges[d]
        return _np().linspace(lo, hi, self.cells[d] + 1)

    def unravel(self, index: int) -> list[int]:
        """Cell coordinates of a flat index (C order, as pyribs' GridArchive)."""
        out = []
        for n in reversed(self.cells):
            index, c = divmod(int(index), n)
            out.append(c)
        return out[::-1]

    def ravel(self, coords: Sequence[int]) -> int:
        """Flat index of cell coordinates (C order)."""
        index = 0
        for c, n in zip(coords, self.cells):
            index = index * n + int(c)
        return index

    # ------------------------------------------------------------------ measures
    def bounds(self):
        """(m,) lower and (m,) upper bounds (numpy)."""
        r = _np().asarray(self.ranges, dtype=float).reshape(self.ndim, 2)
        return r[:, 0], r[:, 1]

    def clip(self, measures):
        """(N, m) measures clipped into the ranges (the archive's edge cells take what lies beyond)."""
        return _np().clip(_np().asarray(measures, dtype=float).reshape(-1, self.ndim), *self.bounds())

    def measures(self, vad=None, dist=None):
        """A model's reading -> (N, m) measures in the ranges.

        VAD spaces take ``vad`` (N, 3) (valence, arousal, dominance; the space's dims are picked
        and clipped). An emotions grid takes ``dist`` (N, 7), the distribution over
        :data:`qdemo.EMOTIONS`: the slot of the most probable slot emotion + 0.5 (the middle of
        its cell), then that emotion's probability clipped to the band range."""
        np = _np()
        if self.is_slots:
            if dist is None:
                raise ValueError("an emotions grid places a reading by its emotion distribution (dist=)")
            dist = np.asarray(dist, dtype=np.float64).reshape(-1, len(EMOTIONS))
            if not len(dist):
                return np.zeros((0, self.ndim))
            slot = dist[:, self.slot_columns].argmax(axis=1)  # its most probable emotion among the slots
            cols = [slot + 0.5]
            if self.ndim == 2:
                lo, hi = self.ranges[1]
                cols.append(np.clip(dist[np.arange(len(dist)), np.asarray(self.slot_columns)[slot]], lo, hi))
            return np.stack(cols, axis=1)
        if vad is None:
            raise ValueError(f"a {self.name} space places a reading by its VAD (vad=)")
        vad = np.asarray(vad, dtype=np.float64)
        vad = vad.reshape(-1, vad.shape[-1]) if vad.size else vad.reshape(0, 3)
        return self.clip(vad[:, [DIMS.index(d) for d in self.dims]] if vad.shape[1] == 3 else vad[:, : self.ndim])

    @property
    def slot_columns(self) -> list[int]:
        """Emotions grid: the column of :data:`qdemo.EMOTIONS` of each slot."""
        return [EMOTIONS.index(s) for s in self.slots]

    # ------------------------------------------------------------------ placement
    def grid_coords(self, measures):
        """(N, m) measures -> (N, m) int cell coordinates on the (display) grid, as pyribs'
        ``GridArchive.index_of`` computes them (epsilon, truncation, clipping to the grid)."""
        np = _np()
        x = np.asarray(measures, dtype=np.float64).reshape(-1, self.ndim)
        lo, hi = self.bounds()
        n = np.asarray(self.cells, dtype=np.int64)
        idx = ((n * (x - lo) + EPSILON) / (hi - lo)).astype(np.int32)
        return np.clip(idx, 0, n - 1).astype(np.int64)

    def index_of(self, measures):
        """(N, m) measures -> (N,) archive cell indices, exactly as the space's pyribs archive gives them."""
        np = _np()
        x = np.asarray(measures, dtype=np.float64).reshape(-1, self.ndim)
        if not len(x):
            return np.zeros(0, np.int64)
        if self.binned:
            c = self.centroid_array()
            return np.argmin(np.sum(np.square(np.expand_dims(x, axis=1) - c), axis=2), axis=1).astype(np.int64)
        return self.flat(self.grid_coords(x))

    def flat(self, coords):
        """(N, m) grid coordinates -> (N,) flat indices (C order, as pyribs' GridArchive)."""
        np = _np()
        coords = np.asarray(coords, dtype=np.int64).reshape(-1, self.ndim)
        return np.ravel_multi_index(tuple(coords.T), tuple(self.cells)).astype(np.int64)

    def place(self, vad=None, dist=None):
        """A reading (``vad`` (N, 3) or, for an emotions grid, ``dist`` (N, 7)) -> (N,) archive cells."""
        return self.index_of(self.measures(vad=vad, dist=dist))

    def coords(self, indices):
        """(N,) archive cell indices -> (N, m) grid coordinates (not for CVT: its cells have none)."""
        np = _np()
        if self.binned:
            raise ValueError("a CVT archive's cells have no grid coordinates (use grid_coords of the measures)")
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if not len(idx):
            return np.zeros((0, self.ndim), np.int64)
        return np.stack(np.unravel_index(idx, tuple(self.cells)), axis=1).astype(np.int64)

    def locate(self, values: Sequence[Optional[float]]) -> Optional[list[int]]:
        """The (display) cell holding one point (None when a value is missing or not finite)."""
        point = []
        for d in range(self.ndim):
            x = values[d] if d < len(values) else None
            if x is None or not math.isfinite(x):
                return None
            point.append(float(x))
        return [int(c) for c in self.grid_coords([point])[0]]

    def coverage(self, measures) -> tuple[Any, float]:
        """Cells (N,) that measures (N, m) fall in (clipped), and the fraction of the archive's cells they occupy."""
        np = _np()
        if len(measures) == 0:
            return np.zeros(0, np.int64), 0.0
        idx = self.index_of(self.clip(measures))
        return idx, float(len(np.unique(idx)) / self.archive_cells)

    @staticmethod
    def tiles(coords, cells: Sequence[int], counts: Sequence[int]):
        """(N, k) coordinates on a grid of ``cells`` -> their tile on a coarser grid of ``counts``
        tiles per dimension, each tile whole cells (a montage's layout)."""
        np = _np()
        return np.asarray(coords, dtype=np.int64) * np.asarray(counts) // np.asarray(cells)

    # ------------------------------------------------------------------ comparing placements
    @staticmethod
    def within_one(a, b):
        """(N, k) and (N, k) cell coordinates -> (N,) bool: Chebyshev distance <= 1 (the same cell or
        one of its up to 3^k - 1 neighbours)."""
        np = _np()
        a, b = np.asarray(a), np.asarray(b)
        return np.abs(a - b).max(axis=1) <= 1 if len(a) else np.zeros(0, bool)

    def agreement(self, indices, *, vad=None, dist=None):
        """Does another model's reading of each elite put it in the elite's cell, or within one?

        ``indices`` (N,) are the elites' cells; the other model's reading is ``vad`` (N, 3) (VAD
        spaces) or ``dist`` (N, 7) (emotions grid). On a grid, "within one" is a Chebyshev
        distance <= 1 in cell coordinates. A CVT has no coordinates: there the elite's centroid
        must be among the 1 + 2m centroids nearest to the reading (an approximation of Voronoi
        adjacency). On an emotions grid, "same" is the reading's most probable emotion (of all 7)
        being the slot's (and, with bands, its probability of the slot emotion in the same band);
        "within one" the slot's emotion among its two most probable (and the band within one).
        Returns ``(same (N,) bool, within_one (N,) bool)``.
        """
        np = _np()
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) == 0:
            return np.zeros(0, bool), np.zeros(0, bool)
        if self.is_slots:
            return self._slot_agreement(indices, dist)
        pts = self.measures(vad=vad)
        other = self.index_of(pts)
        same = other == indices
        if self.binned:
            cents = self.centroid_array()
            k = min(len(cents), 1 + 2 * self.ndim)
            d = ((pts[:, None, :] - cents[None, :, :]) ** 2).sum(-1)  # (N, C)
            within = (np.argsort(d, axis=1)[:, :k] == indices[:, None]).any(axis=1)
        else:
            within = self.within_one(self.coords(indices), self.coords(other))
        return same, within | same

    def _slot_agreement(self, indices, dist):
        np = _np()
        cells = self.coords(indices)
        dist = np.asarray(dist, dtype=np.float64).reshape(len(indices), len(EMOTIONS))
        want = np.asarray(self.slot_columns)[cells[:, 0]]  # (N,) column of each slot's emotion
        order = np.argsort(-dist, axis=1, kind="stable")  # (N, 7)
        same = order[:, 0] == want
        within = (order[:, :2] == want[:, None]).any(axis=1)
        if self.ndim == 2:
            p_slot = dist[np.arange(len(dist)), want]
            band = self.grid_coords(np.stack([cells[:, 0] + 0.5, p_slot], axis=1))[:, 1]
            gap = np.abs(band - cells[:, 1])
            same &= gap == 0
            within &= gap <= 1
        return same, within | same

    # ------------------------------------------------------------------ the archive
    def centroid_array(self):
        """CVT: the (C, m) centroids (computed once with pyribs' k-means when built from a config)."""
        np = _np()
        if not self.binned:
            raise ValueError(f"a {self.name} space has no centroids")
        if self.centroids is None:
            if not self.cvt_cells:
                raise DataError("CVT grid without centroids (a manifest written before qdemo recorded them): "
                                "build the space from the run's config.yaml instead")
            from ribs.archives import k_means_centroids

            cents, _ = k_means_centroids(centroids=self.cvt_cells, ranges=self.ranges, samples=self.cvt_samples,
                                         dtype=np.float64, seed=self.seed)
            self.centroids = cents.tolist()
        return np.asarray(self.centroids, dtype=np.float64)

    def build_archive(self, solution_dim: int, *, extra_fields: Optional[dict] = None,
                      learning_rate: Optional[float] = None, threshold_min: float = -math.inf, seed: int = 0):
        """The pyribs archive over this space (GridArchive, or CVTArchive over :meth:`centroid_array`);
        ``learning_rate``: CMA-MAE's soft archive (with ``threshold_min``); ``seed``: the archive's rng."""
        kw: dict[str, Any] = {}
        if learning_rate is not None:
            kw = {"learning_rate": learning_rate, "threshold_min": threshold_min}
        ranges = [tuple(r) for r in self.ranges]
        if self.binned:
            from ribs.archives import CVTArchive

            return CVTArchive(solution_dim=solution_dim, centroids=self.centroid_array(), ranges=ranges, seed=seed,
                              nearest_neighbors="brute_force", extra_fields=extra_fields, **kw)
        from ribs.archives import GridArchive

        return GridArchive(solution_dim=solution_dim, dims=list(self.cells), ranges=ranges, seed=seed,
                           extra_fields=extra_fields, **kw)


__all__ = ["CELL_COLUMNS", "DISPLAY_CELLS", "EPSILON", "KINDS", "SLOT_CELL_COLUMNS", "SLOT_DIMS", "MeasureSpace"]
