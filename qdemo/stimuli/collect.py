"""Which images a stimulus set holds: the run's elites, or those of them a study had rated.

Without a database every elite of the run is an item (its PNG, model norms only). With one, the
items are the study's stimuli whose ``key.csv`` origin is an elite of this run, each with the
study's PNG (the image the raters saw: resized, perhaps equalised) and its ratings.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdemo import DIMS
from qdemo.errors import DataError


@dataclass
class Item:
    """One image of the set."""

    image: Path
    """The file exported (the run's elite PNG, or the study's PNG that was rated)."""
    cell: int
    """Flat cell index of the elite in the run."""
    coords: list[int]
    """Its cell coordinates on the run's grid."""
    intended: list[float]
    """(3,) canonical VAD the cell stands for (its centre; a CVT elite: its searcher VAD; NaN where the
    grid has no such dimension)."""
    searcher: list[float]
    """(3,) the searcher's VAD of the elite (archive.csv)."""
    critic: list[float]
    """(3,) the critic's VAD (archive.csv; NaN if the run was not confirmed)."""
    objective: float
    stimulus_id: str = ""
    """The study's blinded id (with ratings)."""
    human: dict[str, Any] | None = None
    """:func:`qdemo.web.reliability.stimulus_means` of its ratings (None: not rated)."""
    extra: dict[str, Any] = field(default_factory=dict)


def _f(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


def run_items(run) -> list[Item]:
    """Every elite of ``run`` (a :class:`qdemo.runfolder.RunFolder`) as an item, in cell order."""
    grid = run.grid
    if grid.is_slots:
        raise DataError(f"{run.path}: an emotions archive has emotion slots, not VAD cells; export a VAD-grid run")
    items = []
    for i in sorted(range(run.n), key=lambda j: run.indices[j]):
        searcher = [run.value(d, i) for d in DIMS]
        point = searcher if grid.binned else grid.centre(run.coords[i])
        intended = [math.nan] * 3
        for d, x in zip(grid.dims, point if not grid.binned else [searcher[DIMS.index(d)] for d in grid.dims]):
            intended[DIMS.index(d)] = float(x)
        items.append(Item(image=run.image_path(i), cell=run.indices[i], coords=list(run.coords[i]), intended=intended,
                          searcher=searcher, critic=[run.value(f"critic_{d}", i) for d in DIMS],
                          objective=run.value("objective", i)))
    if not items:
        raise DataError(f"{run.table}: the archive has no elites")
    return items


def _elite_key(path: str | os.PathLike) -> tuple[str, ...]:
    """The last three parts of an elite path: run folder name, 'elites', 'cell_N.png'."""
    return tuple(Path(path).parts[-3:])


def study_items(run, study) -> tuple[list[Item], dict[str, Any]]:
    """The run's elites in ``study`` (:class:`qdemo.web.reliability.Study`), with their ratings and the
    study's PNGs; DataError naming the database when the study holds none of this run's elites."""
    from qdemo.tables import read_output_table

    key_path = study.folder / "key.csv"
    if not key_path.is_file():
        raise DataError(f"{key_path}: the study's key is missing (which stimulus is which elite is unknown)")
    key = read_output_table(key_path, required=("stimulus_id", "source", "origin")).dicts()
    by_path = {}
    for it in run_items(run):
        by_path[str(Path(it.image).resolve())] = it
        by_path[_elite_key(it.image)] = it
    items, other = [], 0
    for row in key:
        sid, origin = row["stimulus_id"].strip(), row["origin"].strip()
        if row["source"].strip() != "elite":
            other += 1
            continue
        it = by_path.get(str(Path(origin).resolve())) or by_path.get(_elite_key(origin))
        if it is None or sid not in study.stimuli:
            continue
        items.append(Item(**{**it.__dict__, "image": study.stimuli[sid].path, "stimulus_id": sid,
                             "human": study.means.get(sid), "extra": {"origin": origin}}))
    n_elite = sum(1 for r in key if r["source"].strip() == "elite")
    if not items:
        raise DataError(f"{study.db_path}: a ratings database of another stimulus set: none of its {n_elite} elite "
                        f"stimuli ({study.folder}) is an elite of {run.path}")
    items.sort(key=lambda x: x.cell)
    info = {"key": str(key_path), "elite_stimuli": n_elite, "other_stimuli": other, "matched": len(items)}
    study_json = study.folder / "study.json"
    if study_json.is_file():
        try:
            info["study"] = json.loads(study_json.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DataError(f"{study_json}: not valid JSON ({exc})") from None
    return items, info


__all__ = ["Item", "run_items", "study_items"]
