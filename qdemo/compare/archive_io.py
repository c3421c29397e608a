"""Reading an explorer run folder (``archives/<run>/``, docs/formats.md) for comparison.

Parsing and validation are :func:`qdemo.runfolder.read_run` (shared with the plots and
``qdemo browse``); this keeps what the comparison needs: the manifest's grid, and per elite
its flat cell index, the cell centre on [-1, 1]^3 and the image path (every elite PNG must
exist). The cell of a flat index follows ``numpy.unravel_index(index, cells)`` (C order, as
pyribs' GridArchive). For a 2-D ``va`` grid the dominance target is 0 (the generator always
takes three numbers); for a CVT archive, which has no cell centres, the target is the
elite's own searcher VAD.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qdemo import DIMS
from qdemo.errors import DataError
from qdemo.io import sha256_file
from qdemo.runfolder import read_run


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
    renderer: dict = field(default_factory=dict)
    """The manifest's ``renderer`` (name, options as described by the renderer)."""
    metrics: dict = field(default_factory=dict)
    """The manifest's ``metrics`` (evaluations, coverage, ...)."""
    searcher: dict = field(default_factory=dict)
    """The manifest's ``models.searcher`` (name, sha256: the judge the elites were searched against)."""
    seconds: float = float("nan")
    """Wall seconds the search took (the manifest's ``wall_s``), NaN when not recorded."""

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


def read_archive(path: str | os.PathLike) -> ArchiveRun:
    """Read ``manifest.json`` + ``archive.csv`` (and check the elite PNGs); :class:`DataError` naming what is wrong."""
    run = read_run(path, require=("image",), check_images=True)
    grid = run.grid
    if grid.is_slots:
        raise DataError(f"{run.path}: an emotions archive has emotion slots, not VAD cells to compare with "
                        f"generator samples or to export as intended VAD; compare it with a VAD grid using "
                        f"`qdemo compare-categories {run.path} RUN_VAD --out DIR`")
    cells: list[ArchiveCell] = []
    for i, index in enumerate(run.indices):
        # centre of the index's cell on a regular grid; a CVT elite's own measures (finite: read_run placed it by them)
        point = [run.value(d, i) for d in grid.dims] if grid.binned else grid.centre(grid.unravel(index))
        target = [0.0, 0.0, 0.0]
        for d, x in zip(grid.dims, point):
            target[DIMS.index(d)] = x
        cells.append(ArchiveCell(index=index, target=(target[0], target[1], target[2]), image=run.image_path(i),
                                 objective=run.value("objective", i)))
    if not cells:
        raise DataError(f"{run.table}: the archive has no elites")
    return ArchiveRun(path=run.path, name=safe_name(run.path.name), grid_name=grid.name, dims=list(grid.dims),
                      cells_shape=[] if grid.binned else list(grid.cells), ranges=[list(r) for r in grid.ranges],
                      cells=cells, table_sha256=sha256_file(run.table), renderer=dict(run.manifest.get("renderer") or {}),
                      metrics=dict(run.manifest.get("metrics") or {}),
                      searcher=dict((run.manifest.get("models") or {}).get("searcher") or {}), seconds=_seconds(run.manifest))


def _seconds(manifest: dict) -> float:
    for key in ("wall_s", "elapsed_seconds", "seconds"):
        for block in (manifest, manifest.get("metrics") or {}):
            value = block.get(key)
            if isinstance(value, (int, float)):
                return float(value)
    return float("nan")
