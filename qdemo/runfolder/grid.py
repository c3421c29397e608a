"""The cell grid of a run folder (``manifest.json`` ``grid``) and how a point finds its cell.

Standard library only. :func:`parse_grid` validates a manifest's grid; :class:`RunGrid`
places elites (C-order flat indices as pyribs' GridArchive, measures clipped into the grid).
CVT archives have no regular grid: their elites are binned on a display grid.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Sequence

from qdemo import DIMS
from qdemo.errors import DataError
from qdemo.runfolder.schema import DISPLAY_CELLS, GRID_NAMES, MANIFEST


@dataclass
class RunGrid:
    """The cell grid of a run (from ``manifest.json`` ``grid``), all lists for JSON."""

    name: str
    """'vad', 'va' or 'cvt'."""
    dims: list[str]
    """Measure names in order, e.g. ['valence', 'arousal', 'dominance']."""
    cells: list[int]
    """Cells per dimension (for CVT: the display grid the elites are binned into)."""
    ranges: list[tuple[float, float]]
    """(low, high) per dimension on the canonical scale."""
    binned: bool = False
    """True for CVT: no regular grid, elites placed by their searcher measures."""

    @property
    def ndim(self) -> int:
        return len(self.dims)

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
        return {"name": self.name, "dims": list(self.dims), "cells": list(self.cells),
                "ranges": [list(r) for r in self.ranges], "binned": self.binned}


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


__all__ = ["RunGrid", "parse_grid"]
