"""Reading a measure space back from a run's ``manifest.json`` ``grid``, validated.

:meth:`qdemo.measure_space.MeasureSpace.from_manifest` (the one type of the grid) builds the space from the fields
:func:`grid_fields` returns; every problem is a :class:`~qdemo.errors.DataError` naming the
file and what is wrong (the run-folder reader's and ``qdemo confirm``'s messages). Standard
library only.
"""

from __future__ import annotations

import math
import os
from typing import Any, Optional

from qdemo import DIMS, EMOTIONS
from qdemo.errors import DataError

KINDS = ("vad", "va", "cvt", "emotions")
"""The kinds of measure space (``grid.name`` of configs and manifests)."""
SLOT_DIMS = ("emotion", "intensity")
"""The measures of an emotions grid: the slot, then (optionally) the intensity band."""
DISPLAY_CELLS = (10, 10, 5)
"""Display grid of CVT spaces (no regular grid): points binned by their VAD for drawing."""
MANIFEST_NAME = "manifest.json"


def grid_fields(manifest: dict[str, Any], source: str | os.PathLike = MANIFEST_NAME) -> dict[str, Any]:
    """The :class:`~qdemo.measure_space.MeasureSpace` fields of the manifest's ``grid``, validated."""
    g = manifest.get("grid")
    if not isinstance(g, dict):
        raise DataError(f"{source}: missing 'grid' (expected {{name, dims, cells, ranges}})")
    name = str(g.get("name") or "vad")
    if name not in KINDS:
        raise DataError(f"{source}: grid.name must be one of {', '.join(KINDS)}, got {name!r}")
    if name == "emotions":
        return _slot_fields(g, source)
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
    ranges = _ranges(g.get("ranges") or [[-1.0, 1.0]] * len(dims), len(dims), source)
    centroids = _centroids(g.get("centroids"), len(dims), source) if binned else None
    return {"name": name, "dims": list(dims), "cells": list(cells), "ranges": ranges, "binned": binned,
            "centroids": centroids}


def _counts(cells: Any, n: int) -> bool:
    return (isinstance(cells, list) and len(cells) == n
            and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in cells))


def _ranges(raw: Any, n: int, source: str | os.PathLike) -> list[tuple[float, float]]:
    try:
        ranges = [(float(lo), float(hi)) for lo, hi in raw]
    except (TypeError, ValueError):
        raise DataError(f"{source}: grid.ranges must be [[lo, hi], ...], got {raw!r}") from None
    if len(ranges) != n or any(not (math.isfinite(lo) and math.isfinite(hi) and lo < hi) for lo, hi in ranges):
        raise DataError(f"{source}: grid.ranges must be {n} finite [lo, hi] with lo < hi, got {raw!r}")
    return ranges


def _centroids(raw: Any, n: int, source: str | os.PathLike) -> Optional[list[list[float]]]:
    """A CVT manifest's centroids (None when it has none: written before they were recorded)."""
    if raw is None:
        return None
    try:
        out = [[float(x) for x in c] for c in raw]
    except (TypeError, ValueError):
        raise DataError(f"{source}: grid.centroids must be [[v, a, d], ...], got {str(raw)[:60]!r}") from None
    if not out or any(len(c) != n or not all(math.isfinite(x) for x in c) for c in out):
        raise DataError(f"{source}: grid.centroids must be finite points of {n} numbers each")
    return out


def _slot_fields(g: dict[str, Any], source: str | os.PathLike) -> dict[str, Any]:
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
    ranges = _ranges(g.get("ranges") or [[0.0, float(len(slots))], [0.0, 1.0]][: len(cells)], len(cells), source)
    return {"name": "emotions", "dims": list(dims), "cells": list(cells), "ranges": ranges, "slots": list(slots)}


__all__ = ["DISPLAY_CELLS", "KINDS", "MANIFEST_NAME", "SLOT_DIMS", "grid_fields"]
