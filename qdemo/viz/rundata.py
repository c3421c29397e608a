"""Read an archive run folder (``archives/<run>/``, see ``docs/formats.md``) for plotting.

Only the files are read (``manifest.json``, ``archive.csv``, ``metrics.csv``): the viewers
work on any finished or interrupted run without importing the explorer. Every problem
with the files is a :class:`~qdemo.errors.DataError` naming the file and what is wrong.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qdemo import DIMS
from qdemo.errors import DataError

CELL_COLUMNS = ("cell_v", "cell_a", "cell_d")
"""archive.csv columns holding the integer cell coordinate along valence, arousal, dominance."""
CRITIC_COLUMNS = ("critic_valence", "critic_arousal", "critic_dominance")
TEXT_COLUMNS = ("image",)


def to_sam9(x: Any) -> Any:
    """Canonical [-1, 1] -> the SAM 1–9 equivalent (5 neutral), for axis labels."""
    return np.asarray(x, dtype=np.float64) * 4.0 + 5.0


def from_sam9(x: Any) -> Any:
    """SAM 1–9 -> canonical [-1, 1]."""
    return (np.asarray(x, dtype=np.float64) - 5.0) / 4.0


@dataclass
class Grid:
    """The cell grid of a run, from ``manifest.json`` ``grid``."""

    name: str
    """'vad', 'va' or 'cvt'."""
    dims: list[str]
    """Measure names in order, e.g. ['valence', 'arousal', 'dominance']."""
    cells: list[int]
    """Cells per dimension (for 'cvt' a display grid the centroids are binned into)."""
    ranges: list[tuple[float, float]]
    """(low, high) per dimension on the canonical scale."""

    @property
    def ndim(self) -> int:
        return len(self.dims)

    def edges(self, d: int) -> np.ndarray:
        """(cells[d] + 1,) cell boundaries along dimension ``d``."""
        lo, hi = self.ranges[d]
        return np.linspace(lo, hi, self.cells[d] + 1)

    def cell_of(self, values: np.ndarray, d: int) -> np.ndarray:
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
        searcher = (self.manifest.get("models") or {}).get("searcher") or {}
        proxy = searcher.get("proxy")
        return list(proxy) if isinstance(proxy, (list, tuple)) else []


def load_manifest(run_dir: str | os.PathLike) -> dict[str, Any]:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: not a run folder (directory not found)")
    path = run_dir / "manifest.json"
    if not path.exists():
        raise DataError(f"{path}: missing (is {run_dir} a run folder written by `qdemo evolve`?)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(manifest).__name__}")
    return manifest


def _parse_grid(manifest: dict[str, Any], path: Path) -> Grid:
    g = manifest.get("grid")
    if not isinstance(g, dict):
        raise DataError(f"{path}: missing 'grid' (expected {{name, dims, cells, ranges}})")
    name = str(g.get("name", "vad"))
    dims = g.get("dims") or (list(DIMS) if name == "vad" else list(DIMS[:2]))
    if not isinstance(dims, list) or not 1 <= len(dims) <= 3 or any(d not in DIMS for d in dims):
        raise DataError(f"{path}: grid.dims must list some of {list(DIMS)}, got {dims!r}")
    cells = g.get("cells")
    if name == "cvt" and not (isinstance(cells, list) and len(cells) == len(dims)):
        # CVT archives have centroids, not a grid: bin them on a display grid.
        cells = [10, 10, 5][: len(dims)]
    if not (isinstance(cells, list) and len(cells) == len(dims)
            and all(isinstance(c, int) and c >= 1 for c in cells)):
        raise DataError(f"{path}: grid.cells must be {len(dims)} positive integers, got {cells!r}")
    ranges = g.get("ranges") or [[-1.0, 1.0]] * len(dims)
    try:
        ranges = [(float(lo), float(hi)) for lo, hi in ranges]
    except (TypeError, ValueError):
        raise DataError(f"{path}: grid.ranges must be [[lo, hi], ...], got {g.get('ranges')!r}") from None
    if len(ranges) != len(dims) or any(not (math.isfinite(lo) and math.isfinite(hi) and lo < hi)
                                       for lo, hi in ranges):
        raise DataError(f"{path}: grid.ranges must be {len(dims)} finite [lo, hi] with lo < hi, got {ranges!r}")
    return Grid(name=name, dims=list(dims), cells=list(cells), ranges=ranges)


def read_csv_columns(path: Path, *, required: tuple[str, ...] = (),
                     text: tuple[str, ...] = TEXT_COLUMNS, strict: bool = True) -> dict[str, np.ndarray]:
    """Read a CSV into float columns (empty -> NaN); ``text`` columns stay strings.

    Handles a UTF-8 BOM and any line endings. Raises DataError for a missing file,
    missing ``required`` columns, ragged rows and non-numeric values (with
    ``strict=False`` a column holding non-numbers is kept as text instead).
    """
    if not path.exists():
        raise DataError(f"{path}: missing")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: unreadable CSV ({exc})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise DataError(f"{path}: empty file (expected a header row)")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header)})")
    body = rows[1:]
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise DataError(f"{path}: line {i + 2} has {len(r)} fields, the header has {len(header)}")
    out: dict[str, np.ndarray] = {}
    for j, col in enumerate(header):
        if not col:
            continue
        values: list[Any] | None = []
        for i, r in enumerate(body):
            cell = r[j].strip()
            if col in text:
                values.append(cell)
                continue
            if cell == "":
                values.append(math.nan)
                continue
            try:
                values.append(float(cell))
            except ValueError:
                if not strict:
                    values = None
                    break
                raise DataError(f"{path}: line {i + 2}, column {col!r}: not a number ({cell!r})") from None
        if values is None:
            out[col] = np.asarray([r[j].strip() for r in body], dtype=object)
        else:
            out[col] = np.asarray(values, dtype=object if col in text else np.float64)
    return out


def load_run(run_dir: str | os.PathLike) -> RunData:
    """Read ``manifest.json`` and ``archive.csv`` of a run folder, validated."""
    run_dir = Path(run_dir)
    manifest = load_manifest(run_dir)
    grid = _parse_grid(manifest, run_dir / "manifest.json")
    path = run_dir / "archive.csv"
    measure_cols = tuple(grid.dims)
    cols = read_csv_columns(path, required=("objective",))
    n = len(cols["objective"])
    notes: list[str] = []
    cell_cols = CELL_COLUMNS[: grid.ndim]
    if grid.name != "cvt" and all(c in cols for c in cell_cols):
        raw = np.stack([cols[c] for c in cell_cols], axis=1) if n else np.zeros((0, grid.ndim))
        if not np.isfinite(raw).all():
            bad = int(np.argwhere(~np.isfinite(raw))[0][0])
            raise DataError(f"{path}: line {bad + 2}: empty cell coordinate in {', '.join(cell_cols)}")
        if (raw != np.round(raw)).any():
            raise DataError(f"{path}: {', '.join(cell_cols)} must be whole numbers")
        cells = raw.astype(np.int64)
        for d, c in enumerate(cell_cols):
            out_of = (cells[:, d] < 0) | (cells[:, d] >= grid.cells[d])
            if out_of.any():
                i = int(np.argmax(out_of))
                raise DataError(
                    f"{path}: line {i + 2}: {c}={cells[i, d]} outside the grid (0..{grid.cells[d] - 1}, "
                    f"from manifest.json grid.cells)"
                )
    elif all(c in cols for c in measure_cols):
        vals = np.stack([cols[c] for c in measure_cols], axis=1) if n else np.zeros((0, grid.ndim))
        if not np.isfinite(vals).all():
            bad = int(np.argwhere(~np.isfinite(vals))[0][0])
            raise DataError(f"{path}: line {bad + 2}: empty or non-finite {', '.join(measure_cols)}")
        cells = np.stack([grid.cell_of(vals[:, d], d) for d in range(grid.ndim)], axis=1).reshape(n, grid.ndim)
        if grid.name != "cvt":
            notes.append("cell coordinates recomputed from the measures (no cell_* columns)")
    else:
        need = [c for c in cell_cols if c not in cols]
        raise DataError(
            f"{path}: missing column(s) {', '.join(need)} (and no {', '.join(measure_cols)} to place elites; "
            f"found: {', '.join(cols)})"
        )
    obj = cols["objective"]
    if n and not np.isfinite(obj).all():
        i = int(np.argmax(~np.isfinite(obj)))
        raise DataError(f"{path}: line {i + 2}: objective is empty or not finite")
    return RunData(run_dir=run_dir, manifest=manifest, grid=grid, columns=cols,
                   cells=cells.reshape(n, grid.ndim), notes=notes)


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
    """``metrics.csv`` of a run as float columns (at least one row)."""
    path = Path(run_dir) / "metrics.csv"
    cols = read_csv_columns(path, text=(), strict=False)
    if not cols or len(next(iter(cols.values()))) == 0:
        raise DataError(f"{path}: no rows (the run has not finished an iteration yet)")
    return cols
