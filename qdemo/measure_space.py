"""The cell grid of a run folder (``manifest.json`` ``grid``) and how a point finds its cell.

Standard library only. :func:`parse_grid` validates a manifest's grid; :class:`RunGrid`
places elites (C-order flat indices as pyribs' GridArchive, measures clipped into the grid).
CVT archives have no regular grid: their elites are binned on a display grid. An emotions
archive's grid is one slot per emotion (``slots``), optionally x intensity bands.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from qdemo import DIMS, EMOTIONS
from qdemo.errors import DataError
from qdemo.runfolder.schema import CELL_COLUMNS, DISPLAY_CELLS, GRID_NAMES, MANIFEST, SLOT_CELL_COLUMNS

SLOT_DIMS = ("emotion", "intensity")
"""The measures of an emotions grid: the slot, then (optionally) the intensity band."""


@dataclass
class RunGrid:
    """The cell grid of a run (from ``manifest.json`` ``grid``), all lists for JSON."""

    name: str
    """'vad', 'va', 'cvt' or 'emotions'."""
    dims: list[str]
    """Measure names in order, e.g. ['valence', 'arousal', 'dominance']."""
    cells: list[int]
    """Cells per dimension (for CVT: the display grid the elites are binned into)."""
    ranges: list[tuple[float, float]]
    """(low, high) per dimension on the canonical scale."""
    binned: bool = False
    """True for CVT: no regular grid, elites placed by their searcher measures."""
    slots: list[str] = field(default_factory=list)
    """Emotions grid: the emotion of each slot, in order (empty for VAD grids)."""

    @property
    def ndim(self) -> int:
        return len(self.dims)

    @property
    def is_slots(self) -> bool:
        """True for an emotions archive (cells are emotion slots, not VAD cells)."""
        return self.name == "emotions"

    @property
    def cell_columns(self) -> tuple[str, ...]:
        """archive.csv columns of the cell coordinates."""
        return (SLOT_CELL_COLUMNS if self.is_slots else CELL_COLUMNS)[: self.ndim]

    @property
    def size(self) -> int:
        return math.prod(self.cells)

    def centre(self, coords: Sequence[int]) -> list[float]:
        """Centre of the cell ``coords`` on the canonical scale."""
        return [lo + (int(c) + 0.5) * (hi - lo) / n for c, (lo, hi), n in zip(coords, self.ranges, self.cells)]

    def cell_of(self, value: Any, d: int) -> Any:
        """Cell coordinate along dimension ``d`` of a measure value (clipped into the grid)."""
        lo, hi = self.ranges[d]
        c = math.floor((float(value) - lo) / (hi - lo) * self.cells[d])
        return min(max(c, 0), self.cells[d] - 1)

    def locate(self, values: Sequence[float | None]) -> list[int] | None:
        """The cell holding the point ``values`` (None when a value is missing)."""
        out = []
        for d in range(self.ndim):
            x = values[d] if d < len(values) else None
            if x is None or not math.isfinite(x):
                return None
            out.append(RunGrid.cell_of(self, x, d))
        return out

    def unravel(self, index: int) -> list[int]:
        """Cell coordinates of a flat index (C order)."""
        out = []
        for n in reversed(self.cells):
            index, c = divmod(index, n)
            out.append(c)
        return out[::-1]

    def ravel(self, coords: Sequence[int]) -> int:
        """Flat index of cell coordinates (C order)."""
        index = 0
        for c, n in zip(coords, self.cells):
            index = index * n + int(c)
        return index

    def to_json(self) -> dict[str, Any]:
        out = {"name": self.name, "dims": list(self.dims), "cells": list(self.cells),
               "ranges": [list(r) for r in self.ranges], "binned": self.binned}
        if self.is_slots:
            out["slots"] = list(self.slots)
        return out


def _counts(cells: Any, n: int) -> bool:
    return (isinstance(cells, list) and len(cells) == n
            and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in cells))


def parse_grid(manifest: dict[str, Any], source: str | os.PathLike = MANIFEST) -> RunGrid:
    """The manifest's ``grid`` validated; ``source`` names the file in messages."""
    g = manifest.get("grid")
    if not isinstance(g, dict):
        raise DataError(f"{source}: missing 'grid' (expected {{name, dims, cells, ranges}})")
    name = str(g.get("name") or "vad")
    if name not in GRID_NAMES:
        raise DataError(f"{source}: grid.name must be one of {', '.join(GRID_NAMES)}, got {name!r}")
    if name == "emotions":
        return _parse_slots(g, source)
    dims = g.get("dims") or list(DIMS[:2] if name == "va" else DIMS)
    if (not isinstance(dims, list) or not 1 <= len(dims) <= 3 or any(d not in DIMS for d in dims)
            or len(set(dims)) != len(dims)):
        raise DataError(f"{source}: grid.dims must list some of {list(DIMS)} once each, got {dims!r}")
    cells = g.get("cells")
    binned = name == "cvt"
    if binned and not _counts(cells, len(dims)):
        cells = list(DISPLAY_CELLS[: len(dims)])  # CVT centroids: a display grid to bin them on
    if not _counts(cells, len(dims)):
        raise DataError(f"{source}: grid.cells must be {len(dims)} positive integers, got {cells!r}")
    raw = g.get("ranges") or [[-1.0, 1.0]] * len(dims)
    try:
        ranges = [(float(lo), float(hi)) for lo, hi in raw]
    except (TypeError, ValueError):
        raise DataError(f"{source}: grid.ranges must be [[lo, hi], ...], got {raw!r}") from None
    if len(ranges) != len(dims) or any(not (math.isfinite(lo) and math.isfinite(hi) and lo < hi)
                                       for lo, hi in ranges):
        raise DataError(f"{source}: grid.ranges must be {len(dims)} finite [lo, hi] with lo < hi, got {raw!r}")
    return RunGrid(name=name, dims=list(dims), cells=list(cells), ranges=ranges, binned=binned)


def _parse_slots(g: dict[str, Any], source: str | os.PathLike) -> RunGrid:
    """An emotions grid: ``slots`` (emotion names), dims ['emotion'(, 'intensity')], cells [S(, bands)]."""
    slots = g.get("slots")
    if (not isinstance(slots, list) or not slots or any(s not in EMOTIONS for s in slots)
            or len(set(slots)) != len(slots)):
        raise DataError(f"{source}: an emotions grid needs grid.slots, distinct names of {', '.join(EMOTIONS)}; "
                        f"got {slots!r}")
    cells = g.get("cells") or [len(slots)]
    if not (isinstance(cells, list) and 1 <= len(cells) <= 2 and _counts(cells, len(cells))
            and cells[0] == len(slots)):
        raise DataError(f"{source}: grid.cells of an emotions grid must be [{len(slots)}] or [{len(slots)}, bands] "
                        f"(one cell per slot), got {cells!r}")
    dims = g.get("dims") or list(SLOT_DIMS[: len(cells)])
    if dims != list(SLOT_DIMS[: len(cells)]):
        raise DataError(f"{source}: grid.dims of an emotions grid must be {list(SLOT_DIMS[: len(cells)])}, got {dims!r}")
    raw = g.get("ranges") or [[0.0, float(len(slots))], [0.0, 1.0]][: len(cells)]
    try:
        ranges = [(float(lo), float(hi)) for lo, hi in raw]
    except (TypeError, ValueError):
        raise DataError(f"{source}: grid.ranges must be [[lo, hi], ...], got {raw!r}") from None
    if len(ranges) != len(cells) or any(not (math.isfinite(lo) and math.isfinite(hi) and lo < hi)
                                        for lo, hi in ranges):
        raise DataError(f"{source}: grid.ranges must be {len(cells)} finite [lo, hi] with lo < hi, got {raw!r}")
    return RunGrid(name="emotions", dims=list(dims), cells=list(cells), ranges=ranges, slots=list(slots))


__all__ = ["SLOT_DIMS", "RunGrid", "parse_grid"]
