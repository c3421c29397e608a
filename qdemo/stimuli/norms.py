"""``norms.csv`` of a stimulus set: one row per image.

Columns (:data:`NORM_COLUMNS`): the id and file; ``norms`` = ``human`` (rated) or ``model only``;
``n`` raters; per dimension the mean and SD of the human ratings on SAM 1-9 (``valence_mean``,
``valence_sd``) and on the canonical scale (``valence_mean_canonical``, ``valence_sd_canonical``
= SAM / 4); the run's cell (flat index and coordinates) and the VAD it stands for
(``intended_*``, canonical); both models' predictions (``searcher_*``, ``critic_*``, canonical);
low-level statistics of the exported image (:func:`qdemo.emotion.lowlevel.lowlevel_features`:
mean luminance, RMS contrast, colourfulness, spectral slope, edge density); the study's blinded
stimulus id and the elite's objective.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from qdemo import DIMS
from qdemo.stimuli.collect import Item

LOWLEVEL = {"luminance": "lum_mean", "contrast": "rms_contrast", "colourfulness": "colourfulness",
            "spectral_slope": "spectral_slope", "edge_density": "edge_density"}
"""norms.csv column -> :data:`qdemo.emotion.lowlevel.LOWLEVEL_FEATURE_NAMES` entry."""
NORM_COLUMNS = (
    "id", "file", "norms", "n",
    *(f"{d}_{s}" for d in DIMS for s in ("mean", "sd")),
    *(f"{d}_{s}_canonical" for d in DIMS for s in ("mean", "sd")),
    "cell_index", "cell", *(f"intended_{d}" for d in DIMS), *(f"searcher_{d}" for d in DIMS),
    *(f"critic_{d}" for d in DIMS), *LOWLEVEL, "stimulus_id", "objective",
)
REGION_EDGES = (-1 / 3, 1 / 3)
"""Valence and arousal are cut at -1/3 and +1/3 (canonical) into low / middle / high thirds of the scale."""
V_NAMES, A_NAMES = ("negative", "neutral", "positive"), ("calm", "moderate", "aroused")


def lowlevel_stats(path) -> dict[str, float]:
    """The low-level statistics of one image file (:data:`LOWLEVEL`)."""
    from qdemo.emotion.lowlevel import LOWLEVEL_FEATURE_NAMES, lowlevel_features
    from qdemo.io import load_image

    f = lowlevel_features(load_image(path))
    return {k: float(f[LOWLEVEL_FEATURE_NAMES.index(v)]) for k, v in LOWLEVEL.items()}


def _num(x: float, nd: int = 4) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.{nd}f}"


def norm_row(item_id: str, file: str, it: Item, stats: dict[str, float]) -> list[str]:
    """One row of norms.csv (:data:`NORM_COLUMNS`)."""
    h = it.human
    n = 0 if h is None else int(h["n_raters"])
    sam = [(_num(h["mean_sam"][k], 3), _num(h["sd_sam"][k], 3)) if h else ("", "") for k in range(3)]
    can = [(_num(h["mean"][k]), _num(h["sd"][k])) if h else ("", "") for k in range(3)]
    return [item_id, file, "human" if n else "model only", str(n), *(x for pair in sam for x in pair),
            *(x for pair in can for x in pair), str(it.cell), "-".join(map(str, it.coords)),
            *(_num(x) for x in it.intended), *(_num(x) for x in it.searcher), *(_num(x) for x in it.critic),
            *(_num(stats[k], 5) for k in LOWLEVEL), it.stimulus_id, _num(it.objective, 3)]


def va_region(v: float, a: float) -> str | None:
    """'positive-aroused', ... (thirds of the canonical scale: a 3 x 3 measure space over valence and
    arousal); None when either is missing."""
    from qdemo.measure_space import MeasureSpace

    cell = MeasureSpace.grid([(-1.0, 1.0), (-1.0, 1.0)], [3, 3]).locate([v, a])
    return None if cell is None else f"{V_NAMES[cell[0]]}-{A_NAMES[cell[1]]}"


def region_counts(items: Sequence[Item]) -> dict[str, Any]:
    """How many images fall in each of the 3 x 3 valence x arousal regions, by the human means
    where rated (``human``) and by the critic (else the searcher) for all (``model``)."""
    out: dict[str, Any] = {"edges": list(REGION_EDGES), "human": {}, "model": {}}
    for it in items:
        pred = it.critic if math.isfinite(it.critic[0]) else it.searcher
        for key, (v, a) in (("model", (pred[0], pred[1])),
                            ("human", (it.human["mean"][0], it.human["mean"][1]) if it.human else (math.nan,) * 2)):
            r = va_region(v, a)
            if r:
                out[key][r] = out[key].get(r, 0) + 1
    return out


__all__ = ["LOWLEVEL", "NORM_COLUMNS", "REGION_EDGES", "lowlevel_stats", "norm_row", "region_counts", "va_region"]
