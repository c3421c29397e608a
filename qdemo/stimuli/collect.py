"""Which images a stimulus set holds: the run's elites, or those of them a study had rated.

Without a database every elite of the run is an item (its PNG, model norms only). With one, the
items are the study's stimuli whose ``key.csv`` origin is an elite of this run, each with the
study's PNG (the image the raters saw: resized, perhaps equalised) and its ratings.
"""

from __future__ import annotations

import json
import math
import re
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


def _cell_of(origin: str, run) -> int | None:
    """The cell of an elite origin ``<run>/elites/cell_N.png`` when ``<run>`` is this run folder."""
    p = Path(origin)
    m = re.fullmatch(r"cell_(\d+)\.png", p.name)
    if not m or p.parent.name != "elites":
        return None
    folder = p.parent.parent
    same = folder.name == run.path.name if not folder.is_absolute() else folder.resolve() == run.path.resolve()
    return int(m.group(1)) if same else None


def study_items(run, study) -> tuple[list[Item], dict[str, Any]]:
    """The study's stimuli made from this run's elites (:class:`qdemo.web.reliability.Study`), as
    rated: the study's PNGs, their ratings, the intended VAD and the critic's prediction of that
    PNG from the study's key (the searcher's is scored again by the caller: the run may have been
    re-judged since). DataError naming the database when none of its stimuli is from this run."""
    from qdemo.tables import read_output_table

    key_path = study.folder / "key.csv"
    if not key_path.is_file():
        raise DataError(f"{key_path}: the study's key is missing (which stimulus is which elite is unknown)")
    key = read_output_table(key_path, required=("stimulus_id", "source", "origin")).dicts()
    grid = run.grid
    items, other, n_elite = [], 0, 0
    for row in key:
        sid = row["stimulus_id"].strip()
        if row["source"].strip() != "elite":
            other += 1
            continue
        n_elite += 1
        cell = _cell_of(row["origin"].strip(), run)
        if cell is None or sid not in study.stimuli:
            continue
        coords = grid.unravel(cell) if not grid.binned and not grid.is_slots and cell < grid.size else []
        items.append(Item(image=study.stimuli[sid].path, cell=cell, coords=list(coords),
                          intended=[_f(row.get(f"intended_{d}")) for d in DIMS], searcher=[math.nan] * 3,
                          critic=[_f(row.get(f"predicted_{d}")) for d in DIMS], objective=_f(row.get("objective")),
                          stimulus_id=sid, human=study.means.get(sid), extra={"origin": row["origin"]}))
    if not items:
        raise DataError(f"{study.db_path}: a ratings database of another stimulus set: none of its {n_elite} elite "
                        f"stimuli ({study.folder}) is an elite of {run.path}")
    items.sort(key=lambda x: (x.cell, x.stimulus_id))
    info: dict[str, Any] = {"key": str(key_path), "elite_stimuli": n_elite, "other_stimuli": other,
                            "matched": len(items)}
    study_json = study.folder / "study.json"
    if study_json.is_file():
        try:
            info["study"] = json.loads(study_json.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DataError(f"{study_json}: not valid JSON ({exc})") from None
    return items, info


__all__ = ["Item", "run_items", "study_items"]
