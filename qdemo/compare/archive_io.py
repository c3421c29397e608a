"""Reading an explorer run folder (``archives/<run>/``, docs/formats.md) for comparison.

Parsing and validation are :func:`qdemo.runfolder.read_run` (shared with the plots and
``qdemo browse``); :class:`ArchiveRun` is that run folder with what the comparison adds: per
elite its flat cell index, the cell centre on [-1, 1]^3 (the measure space's) and the image
path (every elite PNG must exist). For a 2-D ``va`` grid the dominance target is 0 (the generator always
takes three numbers); for a CVT archive, which has no cell centres, the target is the
elite's own searcher VAD.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path


from qdemo import DIMS
from qdemo.errors import DataError
from qdemo.io import sha256_file
from qdemo.runfolder import RunFolder, read_run


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
class ArchiveRun(RunFolder):
    """A run folder as :func:`qdemo.runfolder.read_run` read it (the one form, read once), with what
    the comparison derives from it: per elite its cell centre and image (:attr:`cells`)."""

    cells: list[ArchiveCell] = field(default_factory=list)
    """The occupied cells, in archive.csv order."""

    @property
    def name(self) -> str:
        """Run folder name, usable in CSVs and as a task-key prefix."""
        return safe_name(self.path.name)

    @property
    def grid_name(self) -> str:
        return self.grid.name

    @property
    def dims(self) -> list[str]:
        """Grid dimensions (the first two or three of valence, arousal, dominance)."""
        return list(self.grid.dims)

    @property
    def dim_idx(self) -> list[int]:
        """Positions of the grid's dims in (valence, arousal, dominance)."""
        return [DIMS.index(d) for d in self.dims]

    @property
    def cells_shape(self) -> list[int]:
        """Cells per dimension of a regular grid (empty for CVT)."""
        return [] if self.grid.binned else list(self.grid.cells)

    @property
    def ranges(self) -> list[list[float]]:
        return [list(r) for r in self.grid.ranges]

    @property
    def table_sha256(self) -> str:
        return sha256_file(self.table)

    @property
    def renderer(self) -> dict:
        """The manifest's ``renderer`` (name, options as described by the renderer)."""
        return dict(self.manifest.get("renderer") or {})

    @property
    def metrics(self) -> dict:
        """The manifest's ``metrics`` (evaluations, coverage, ...)."""
        return dict(self.manifest.get("metrics") or {})

    @property
    def searcher(self) -> dict:
        """The manifest's ``models.searcher`` (name, sha256: the judge the elites were searched against)."""
        return dict((self.manifest.get("models") or {}).get("searcher") or {})

    @property
    def seconds(self) -> float:
        """Wall seconds the search took (the manifest's ``wall_s``), NaN when not recorded."""
        for key in ("wall_s", "elapsed_seconds", "seconds"):
            for block in (self.manifest, self.metrics):
                value = block.get(key)
                if isinstance(value, (int, float)):
                    return float(value)
        return float("nan")


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
    return ArchiveRun(**{f.name: getattr(run, f.name) for f in fields(RunFolder)}, cells=cells)
