"""Read an archive run folder (``archives/<run>/``, see ``docs/formats.md``) for plotting.

Only the files are read (``manifest.json``, ``archive.csv``, ``metrics.csv``): the viewers
work on any finished or interrupted run without importing the explorer. Parsing and
validation live in :mod:`qdemo.runfolder` (shared with ``qdemo compare`` and ``qdemo browse``);
this module turns its result into numpy columns. Every problem with the files is a
:class:`~qdemo.errors.DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qdemo.errors import DataError
from qdemo.runfolder import CELL_COLUMNS, CRITIC_COLUMNS, EMOTION_COLUMN, NUMERIC_COLUMNS, RunGrid, proxy_dims, read_history, read_run
from qdemo.runfolder import read_manifest as load_manifest
from qdemo.runfolder.schema import METRICS

TEXT_COLUMNS = ("image", EMOTION_COLUMN, "critic_emotion")
__all__ = ["CELL_COLUMNS", "CRITIC_COLUMNS", "Grid", "RunData", "dense_grid", "from_sam9", "load_manifest",
           "load_metrics", "load_run", "to_sam9"]


def to_sam9(x: Any) -> Any:
    """Canonical [-1, 1] -> the SAM 1–9 equivalent (5 neutral), for axis labels."""
    return np.asarray(x, dtype=np.float64) * 4.0 + 5.0


def from_sam9(x: Any) -> Any:
    """SAM 1–9 -> canonical [-1, 1]."""
    return (np.asarray(x, dtype=np.float64) - 5.0) / 4.0


class Grid(RunGrid):
    """The cell grid of a run (:class:`qdemo.runfolder.RunGrid`) with numpy helpers."""

    def edges(self, d: int) -> np.ndarray:
        """(cells[d] + 1,) cell boundaries along dimension ``d``."""
        lo, hi = self.ranges[d]
        return np.linspace(lo, hi, self.cells[d] + 1)

    def cell_of(self, values: Any, d: int) -> np.ndarray:
        """Cell coordinate along ``d`` of measure values (clipped into the grid)."""
        lo, hi = self.ranges[d]
        idx = np.floor((np.asarray(values, dtype=np.float64) - lo) / (hi - lo) * self.cells[d])
        return np.clip(idx, 0, self.cells[d] - 1).astype(np.int64)


@dataclass
class RunData:
    """One run folder: manifest, grid and the archive table as numpy columns."""

    run_dir: Path
    manifest: dict[str, Any]
    grid: Grid
    columns: dict[str, np.ndarray]
    """archive.csv columns: floats (NaN where empty) except ``image`` (str)."""
    cells: np.ndarray
    """(n, grid.ndim) integer cell coordinate of every elite."""
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.cells.shape[0])

    @property
    def name(self) -> str:
        return self.run_dir.name

    def has_critic(self) -> bool:
        """True when at least one elite carries a critic score."""
        cols = [c for c in CRITIC_COLUMNS[: self.grid.ndim] if c in self.columns]
        return bool(cols) and self.n > 0 and bool(np.isfinite(self.columns[cols[0]]).any())

    def proxy_dims(self) -> list[str]:
        """Dimensions the searcher learned from a proxy (not human image ratings)."""
        return proxy_dims(self.manifest)


def _column_array(path: Path, lines: Sequence[int] | None, col: str, cells: Sequence[Any], *, text: bool,
                  strict: bool) -> np.ndarray:
    """One table column as floats (empty -> NaN), or as text (``text``, or non-numbers without
    ``strict``). ``lines``: file line of each cell, for the message of a ``strict`` column."""
    if text:
        return np.asarray(list(cells), dtype=object)
    values = []
    for k, cell in enumerate(cells):
        if isinstance(cell, float):
            values.append(cell)
            continue
        try:
            values.append(float(cell) if cell else math.nan)
        except ValueError:
            if not strict:
                return np.asarray(list(cells), dtype=object)
            line = f"line {lines[k]}, " if lines is not None else ""
            raise DataError(f"{path}: {line}column {col!r}: not a number ({cell!r})") from None
    return np.asarray(values, dtype=np.float64)


def load_run(run_dir: str | os.PathLike) -> RunData:
    """Read ``manifest.json`` and ``archive.csv`` of a run folder, validated (:func:`qdemo.runfolder.read_run`)."""
    run = read_run(run_dir, require=("objective",))
    grid = Grid(**{f.name: getattr(run.grid, f.name) for f in fields(run.grid)})
    # known columns are numbers already; other numeric-looking columns become numbers too
    cols = {c: _column_array(run.table, run.lines, c, v, text=c in TEXT_COLUMNS, strict=c in NUMERIC_COLUMNS)
            for c, v in run.columns.items()}
    cells = np.asarray(run.coords, dtype=np.int64).reshape(run.n, grid.ndim)
    return RunData(run_dir=run.path, manifest=run.manifest, grid=grid, columns=cols, cells=cells,
                   notes=list(run.notes))


def dense_grid(run: RunData, values: np.ndarray, *, reduce: str = "max") -> np.ndarray:
    """Scatter per-elite ``values`` into a dense array of shape ``grid.cells`` (NaN = empty).

    Several elites in one cell (only for CVT display grids) are reduced by ``max`` or ``mean``.
    """
    shape = tuple(run.grid.cells)
    out = np.full(shape, np.nan)
    if run.n == 0:
        return out
    flat = np.ravel_multi_index(tuple(run.cells.T), shape)
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    flat, values = flat[finite], values[finite]
    dense = out.reshape(-1)
    if reduce == "max":
        order = np.argsort(values, kind="stable")  # later (larger) writes win
        dense[flat[order]] = values[order]
    elif reduce == "mean":
        sums = np.bincount(flat, weights=values, minlength=dense.size)
        counts = np.bincount(flat, minlength=dense.size)
        nz = counts > 0
        dense[nz] = sums[nz] / counts[nz]
    else:
        raise ValueError(f"reduce={reduce!r}: use 'max' or 'mean'")
    return out


def load_metrics(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """``metrics.csv`` of a run (:func:`qdemo.runfolder.read_history`) as float columns (at least one row)."""
    path = Path(run_dir) / METRICS
    history = read_history(run_dir)
    if not history or len(next(iter(history.values()))) == 0:
        raise DataError(f"{path}: no rows (the run has not finished an iteration yet)")
    return {c: _column_array(path, None, c, v, text=False, strict=False) for c, v in history.items()}
