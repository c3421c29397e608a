"""Reading an explorer run folder (``archives/<run>/``, docs/formats.md) for comparison.

Only what the comparison needs: the manifest's grid, and per elite its flat cell index,
the cell centre on [-1, 1]^3 and the image path. The cell of a flat index follows
``numpy.unravel_index(index, cells)`` (C order, as pyribs' GridArchive). For a 2-D
``va`` grid the dominance target is 0 (the generator always takes three numbers); for a
CVT archive, which has no cell centres, the target is the elite's own searcher VAD.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qdemo import DIMS
from qdemo.errors import DataError
from qdemo.io import sha256_file


@dataclass
class ArchiveCell:
    """One occupied cell of an archive."""

    index: int
    """Flat cell index."""
    target: tuple[float, float, float]
    """Cell centre (valence, arousal, dominance) on [-1, 1]."""
    image: Path
    """Absolute path of the elite's PNG."""
    objective: float
    """The elite's objective (0-100), NaN if absent."""


@dataclass
class ArchiveRun:
    """An explorer run folder, as far as the comparison needs it."""

    path: Path
    name: str
    """Run folder name (used in CSVs and as a task-key prefix)."""
    grid_name: str
    dims: list[str]
    """Grid dimensions (the first two or three of valence, arousal, dominance)."""
    cells_shape: list[int]
    ranges: list[list[float]]
    cells: list[ArchiveCell]
    table_sha256: str

    @property
    def dim_idx(self) -> list[int]:
        """Positions of the grid's dims in (valence, arousal, dominance)."""
        return [DIMS.index(d) for d in self.dims]

    def cell_width(self) -> np.ndarray:
        """(len(dims),) width of a cell along each grid dim (NaN for CVT)."""
        if not self.cells_shape:
            return np.full(len(self.dims), np.nan)
        return np.array([(hi - lo) / n for (lo, hi), n in zip(self.ranges, self.cells_shape)])


def safe_name(text: str) -> str:
    """A name usable in task keys and file names."""
    out = re.sub(r"[^A-Za-z0-9_.+-]", "_", text)[:80]
    return out or "archive"


def _float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def read_archive(path: str | os.PathLike) -> ArchiveRun:
    """Read ``manifest.json`` + ``archive.csv``; raise :class:`DataError` naming what is wrong."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path}: archive run folder not found")
    mf, table = path / "manifest.json", path / "archive.csv"
    for f in (mf, table):
        if not f.exists():
            raise DataError(f"{f}: missing (is {path} a 'qdemo evolve' run folder?)")
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8"))
        grid = manifest["grid"]
        grid_name = str(grid.get("name", "vad"))
        dims = list(grid.get("dims") or ["valence", "arousal", "dominance"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{mf}: not a readable qdemo manifest (no 'grid': {exc})") from None
    if any(d not in DIMS for d in dims):
        raise DataError(f"{mf}: grid dims {dims} must be among {list(DIMS)}")
    cells_shape = [int(n) for n in (grid.get("cells") or [])] if grid_name != "cvt" else []
    ranges = [[float(a), float(b)] for a, b in (grid.get("ranges") or [[-1, 1]] * len(dims))]
    if cells_shape and len(cells_shape) != len(dims):
        raise DataError(f"{mf}: grid 'cells' {cells_shape} does not match dims {dims}")
    with open(table, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        need = {"index", "image"}
        missing = need - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"{table}: missing column(s) {', '.join(sorted(missing))} (found: {', '.join(reader.fieldnames or [])})")
        rows = list(reader)
    cells: list[ArchiveCell] = []
    for n, row in enumerate(rows, start=2):
        try:
            index = int(float(row["index"]))
        except (TypeError, ValueError):
            raise DataError(f"{table}: line {n}: 'index' {row['index']!r} is not an integer") from None
        target = [0.0, 0.0, 0.0]
        if cells_shape:
            if not 0 <= index < int(np.prod(cells_shape)):
                raise DataError(f"{table}: line {n}: index {index} outside the grid {cells_shape}")
            multi = np.unravel_index(index, cells_shape)
            for d, i, (lo, hi), k in zip(dims, multi, ranges, cells_shape):
                target[DIMS.index(d)] = lo + (int(i) + 0.5) * (hi - lo) / k
        else:  # CVT: the elite's own measures
            for d in dims:
                v = _float(row.get(d))
                if math.isnan(v):
                    raise DataError(f"{table}: line {n}: CVT archive needs a numeric {d!r} column")
                target[DIMS.index(d)] = v
        img = path / row["image"]
        cells.append(ArchiveCell(index=index, target=(target[0], target[1], target[2]), image=img,
                                 objective=_float(row.get("objective"))))
    if not cells:
        raise DataError(f"{table}: the archive has no elites")
    return ArchiveRun(path=path, name=safe_name(path.name), grid_name=grid_name, dims=dims,
                      cells_shape=cells_shape, ranges=ranges, cells=cells, table_sha256=sha256_file(table))
