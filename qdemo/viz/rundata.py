"""Read an archive run folder (``archives/<run>/``, see ``docs/formats.md``) for plotting.

Only the files are read (``manifest.json``, ``archive.csv``, ``metrics.csv``): the viewers
work on any finished or interrupted run without importing the explorer. Parsing and
validation live in :mod:`qdemo.runfolder` (shared with ``qdemo compare`` and ``qdemo browse``);
this module turns its result into numpy columns, without reading the files again. Every problem with the files is a
:class:`~qdemo.errors.DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qdemo.errors import DataError
from qdemo.runfolder import (CELL_COLUMNS, CRITIC_COLUMNS, EMOTION_COLUMN, NUMERIC_COLUMNS, RunFolder, read_history,
                             read_run)
from qdemo.runfolder import read_manifest as load_manifest
from qdemo.runfolder.schema import METRICS

TEXT_COLUMNS = ("image", EMOTION_COLUMN, "critic_emotion")
__all__ = ["CELL_COLUMNS", "CRITIC_COLUMNS", "RunData", "dense_grid", "from_sam9", "load_manifest",
           "load_metrics", "load_run", "to_sam9"]


def to_sam9(x: Any) -> Any:
    """Canonical [-1, 1] -> the SAM 1–9 equivalent (5 neutral), for axis labels."""
    return np.asarray(x, dtype=np.float64) * 4.0 + 5.0


def from_sam9(x: Any) -> Any:
    """SAM 1–9 -> canonical [-1, 1]."""
    return (np.asarray(x, dtype=np.float64) - 5.0) / 4.0


@dataclass
class RunData(RunFolder):
    """A run folder as :func:`qdemo.runfolder.read_run` reads it, once, with its archive.csv columns
    as numpy arrays: what every plot of a run is handed (no plot reads the files again)."""

    cells: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    """(n, grid.ndim) integer cell coordinate of every elite (its ``coords``)."""

    @classmethod
    def of(cls, run: RunFolder) -> "RunData":
        """``run`` with numpy columns: floats (NaN where empty), text for the text columns."""
        if isinstance(run, RunData):
            return run
        cols = {c: _column_array(run.table, run.lines, c, v, text=c in TEXT_COLUMNS, strict=c in NUMERIC_COLUMNS)
                for c, v in run.columns.items()}  # other numeric-looking columns become numbers too
        cells = np.asarray(run.coords, dtype=np.int64).reshape(run.n, run.grid.ndim)
        return cls(path=run.path, manifest=run.manifest, grid=run.grid, columns=cols, coords=run.coords,
                   lines=run.lines, notes=list(run.notes), cells=cells)

    @property
    def run_dir(self) -> Path:
        return self.path

    def has_critic(self) -> bool:
        """True when at least one elite carries a critic score."""
        cols = [c for c in CRITIC_COLUMNS[: self.grid.ndim] if c in self.columns]
        return bool(cols) and self.n > 0 and bool(np.isfinite(self.columns[cols[0]]).any())


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


def load_run(run: str | os.PathLike | RunFolder) -> RunData:
    """A run folder for plotting: read and validated once (:func:`qdemo.runfolder.read_run`), or the
    :class:`~qdemo.runfolder.RunFolder` already read (nothing is read again)."""
    return RunData.of(run if isinstance(run, RunFolder) else read_run(run, require=("objective",)))


def dense_grid(run: RunData, values: np.ndarray, *, reduce: str = "max") -> np.ndarray:
    """Scatter per-elite ``values`` into a dense array of shape ``grid.cells`` (NaN = empty).

    Several elites in one cell (only for CVT display grids) are reduced by ``max`` or ``mean``.
    """
    shape = tuple(run.grid.cells)
    out = np.full(shape, np.nan)
    if run.n == 0:
        return out
    flat = run.grid.flat(run.cells)
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
