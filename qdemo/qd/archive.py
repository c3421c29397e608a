"""The archives of a search (pyribs ``GridArchive`` / ``CVTArchive``), built over its measure space.

The cells and their geometry are :class:`qdemo.measure_space.MeasureSpace`'s; this module adds
what the search stores per elite: next to pyribs' own fields, the searcher's full mean VAD
(``vad``) and its ensemble spread (``vad_sd``), so a 2-D (V, A) archive still remembers each
elite's dominance, and on an emotions grid its emotion distribution (``dist``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from ribs.archives import ArchiveBase

from qdemo import EMOTIONS
from qdemo.measure_space import MeasureSpace

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


def build_archives(space: MeasureSpace, solution_dim: int, *, learning_rate: float = 1.0,
                   threshold_min: float = 0.0, seed: int = 0) -> Archives:
    """A plain archive, or (``learning_rate < 1``) a CMA-MAE soft archive plus a result archive,
    both over ``space`` (a CVT's centroids are computed once and shared by both)."""
    fields = SLOT_FIELDS if space.is_slots else EXTRA_FIELDS
    if learning_rate >= 1.0:
        return Archives(space.build_archive(solution_dim, extra_fields=fields, seed=seed), None)
    soft = space.build_archive(solution_dim, extra_fields=fields, learning_rate=learning_rate,
                               threshold_min=threshold_min, seed=seed)
    return Archives(soft, space.build_archive(solution_dim, extra_fields=fields, seed=seed + 1))


__all__ = ["EXTRA_FIELDS", "SLOT_FIELDS", "Archives", "build_archives"]
