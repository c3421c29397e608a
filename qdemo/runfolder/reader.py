"""The one reader of explorer run folders (``archives/<run>/``, see ``docs/formats.md``).

``qdemo compare``, the plots (``qdemo.viz``) and ``qdemo browse`` all read run folders
through :func:`read_run`, which validates ``manifest.json`` and ``archive.csv`` and places
every elite in a cell::

    run = read_run("archives/demo", require=("objective", "image"))
    run.grid.cells, run.n, run.coords[0], run.value("objective", 0), run.image_path(0)

Standard library only (no numpy, torch or ribs; :func:`read_solutions` imports numpy when
called): the web server and ``qdemo --help`` stay light. Columns and file names come from
:mod:`qdemo.runfolder.schema`, shared with the writer; the tables are parsed by
:func:`qdemo.tables.read_output_table`. Every problem is a :class:`~qdemo.errors.DataError`
naming the file (and line) and what is wrong; nothing is ever written here.

Placement of an elite: on a regular grid (``vad``, ``va``) its ``cell_v, cell_a[, cell_d]``
columns, which must be whole numbers inside the grid and agree with its flat ``index``
(``numpy.unravel_index(index, cells)``, C order as pyribs' GridArchive); without those
columns, the cell containing its searcher measures (noted in :attr:`RunFolder.notes`).
An emotions archive's elites are placed by their ``cell_slot[, cell_band]`` columns (required).
CVT archives have no regular grid: elites are binned by their measures on a display grid
(``grid.cells`` of the manifest when it lists one count per dimension, else 10 x 10 x 5).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from qdemo.errors import DataError
from qdemo.measure_space import MeasureSpace
from qdemo.runfolder.schema import (CELL_COLUMNS, CLASSES, CONFIG, HISTORY_COLUMNS, MANIFEST, METRICS, NUMERIC_COLUMNS,
                                    REFERENCE, SOLUTIONS, TABLE)
from qdemo.tables import Table, read_output_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- manifest

def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``run_dir/manifest.json`` as a dict; DataError when missing or not a JSON object."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: run folder not found (not a directory)")
    path = run_dir / MANIFEST
    if not path.is_file():
        raise DataError(f"{path}: missing (is {run_dir} a run folder written by `qdemo evolve`?)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(manifest).__name__}")
    return manifest

# --------------------------------------------------------------------------- the run folder

@dataclass
class RunFolder:
    """A validated run folder: manifest, grid, archive.csv columns and each elite's cell."""

    path: Path
    manifest: dict[str, Any]
    grid: MeasureSpace
    """The run's measure space, read from the manifest (for CVT: binned on its display grid)."""
    columns: dict[str, list[Any]]
    """archive.csv columns: the :data:`NUMERIC_COLUMNS` as floats (NaN where empty), others as text."""
    coords: list[list[int]]
    """Cell of every elite on ``grid`` (``grid.ndim`` integers)."""
    lines: list[int]
    """Line of archive.csv of every elite."""
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.coords)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def table(self) -> Path:
        return self.path / TABLE

    @property
    def indices(self) -> list[int]:
        return [int(i) for i in self.columns["index"]]

    def value(self, column: str, i: int) -> float:
        """Number in ``column`` for elite ``i``; NaN when empty or the column is absent."""
        col = self.columns.get(column)
        return col[i] if col is not None and column in NUMERIC_COLUMNS else math.nan

    def image_path(self, i: int) -> Path:
        """Path of elite ``i``'s PNG; DataError when archive.csv names none."""
        rel = self.columns.get("image", [""] * self.n)[i]
        if not rel:
            raise DataError(f"{self.table}: line {self.lines[i]}: no image for cell {self.indices[i]} "
                            f"(was the run made without elite images?)")
        return self.path / rel

    def check_images(self) -> None:
        """DataError naming the first elite PNG that is missing or not a PNG file."""
        for i in range(self.n):
            path = self.image_path(i)
            try:
                with open(path, "rb") as f:
                    head = f.read(len(PNG_SIGNATURE))
            except OSError:
                raise DataError(f"{path}: elite image missing (cell {self.indices[i]}, {TABLE} line "
                                f"{self.lines[i]}; {self.n} elites in {self.path})") from None
            if head != PNG_SIGNATURE:
                raise DataError(f"{path}: not a PNG file (elite of cell {self.indices[i]}, {TABLE} line {self.lines[i]})")

    def proxy_dims(self) -> list[str]:
        """Dimensions the searcher learned from a proxy (not human image ratings)."""
        return proxy_dims(self.manifest)


def proxy_dims(manifest: dict[str, Any]) -> list[str]:
    """The manifest's ``models.searcher.proxy``: dimensions learned from a proxy, not human ratings."""
    searcher = (manifest.get("models") or {}).get("searcher") or {}
    proxy = searcher.get("proxy") if isinstance(searcher, dict) else None
    return list(proxy) if isinstance(proxy, (list, tuple)) else []


def _parse_columns(table: Table, numeric: Sequence[str] = NUMERIC_COLUMNS) -> dict[str, list[Any]]:
    """{column: values}: the ``numeric`` columns as floats (NaN where empty), others as text."""
    out: dict[str, list[Any]] = {}
    for j, col in enumerate(table.header):
        if not col:
            continue
        cells = [r[j] for r in table.rows]
        if col not in numeric:
            out[col] = cells
            continue
        values = []
        for cell, line in zip(cells, table.lines):
            try:
                values.append(float(cell) if cell else math.nan)
            except ValueError:
                raise DataError(f"{table.path}: line {line}, column {col!r}: not a number ({cell!r})") from None
        out[col] = values
    return out


def _place(table: Table, cols: dict[str, list[Any]], grid: MeasureSpace, notes: list[str]) -> list[list[int]]:
    path, n = table.path, len(table)
    cell_cols = list(grid.cell_columns)
    if grid.is_slots and not all(c in cols for c in cell_cols):
        raise DataError(f"{path}: missing column(s) {', '.join(repr(c) for c in cell_cols if c not in cols)} "
                        f"(an emotions archive places its elites by slot; found: {', '.join(cols)})")
    if not grid.binned and all(c in cols for c in cell_cols):
        coords = []
        for i in range(n):
            raw = [cols[c][i] for c in cell_cols]
            if not all(math.isfinite(x) for x in raw):
                raise DataError(f"{path}: line {table.lines[i]}: empty cell coordinate in {', '.join(cell_cols)}")
            if any(x != round(x) for x in raw):
                raise DataError(f"{path}: line {table.lines[i]}: {', '.join(cell_cols)} must be whole numbers")
            cell = [int(x) for x in raw]
            for d, c in enumerate(cell_cols):
                if not 0 <= cell[d] < grid.cells[d]:
                    raise DataError(f"{path}: line {table.lines[i]}: {c}={cell[d]} outside the grid "
                                    f"(0..{grid.cells[d] - 1}, from {MANIFEST} grid.cells)")
            if grid.ravel(cell) != int(cols["index"][i]):
                raise DataError(f"{path}: line {table.lines[i]}: index {int(cols['index'][i])} is not the cell "
                                f"{', '.join(cell_cols)} = {tuple(cell)} (flat index {grid.ravel(cell)})")
            coords.append(cell)
        return coords
    measures = list(grid.dims)
    if not all(m in cols for m in measures):
        need = [c for c in cell_cols if c not in cols] if not grid.binned else [m for m in measures if m not in cols]
        raise DataError(f"{path}: missing column(s) {', '.join(map(repr, need))} (and no "
                        f"{', '.join(measures)} to place elites; found: {', '.join(cols)})")
    coords = []
    for i in range(n):
        cell = grid.locate([cols[m][i] for m in measures])
        if cell is None:
            raise DataError(f"{path}: line {table.lines[i]}: empty or non-finite {', '.join(measures)}")
        coords.append(cell)
    if not grid.binned:
        notes.append("cell coordinates recomputed from the measures (no cell_* columns)")
    return coords


def read_run(path: str | os.PathLike, *, require: Sequence[str] = (), check_images: bool = False) -> RunFolder:
    """Read and validate a run folder's ``manifest.json`` and ``archive.csv``.

    ``require``: archive.csv columns the caller needs besides ``index`` (always required).
    ``check_images``: also check that every elite's PNG exists and is a PNG file.
    Checks: the folder, archive.csv and manifest.json exist; the manifest is a JSON object
    with a valid ``grid``; the table has its columns, equal-length rows, numbers where
    numbers belong, whole unique indices inside the grid, finite objectives and a cell for
    every elite (see the module docstring).
    """
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: run folder not found (not a directory)")
    table_path, manifest_path = run_dir / TABLE, run_dir / MANIFEST
    if not table_path.is_file():
        hint = ("the run has not saved its archive yet (try again after its first checkpoint)"
                if manifest_path.is_file() else f"is {run_dir} a run folder written by `qdemo evolve`?")
        raise DataError(f"{table_path}: missing (no {TABLE}; {hint})")
    manifest = read_manifest(run_dir)
    grid = MeasureSpace.from_manifest(manifest, manifest_path)
    table = read_output_table(table_path, required=("index", *(c for c in require if c != "index")))
    cols = _parse_columns(table)
    seen: dict[int, int] = {}
    for x, text, line in zip(cols["index"], table.column("index"), table.lines):
        if not (math.isfinite(x) and x == round(x)):
            raise DataError(f"{table_path}: line {line}: 'index' is not an integer ({text!r})")
        if not grid.binned and not 0 <= x < grid.size:
            raise DataError(f"{table_path}: line {line}: index {int(x)} outside the grid {grid.cells}")
        if int(x) in seen:
            raise DataError(f"{table_path}: line {line}: index {int(x)} already on line {seen[int(x)]}")
        seen[int(x)] = line
    if "objective" in cols:
        bad = [line for x, line in zip(cols["objective"], table.lines) if not math.isfinite(x)]
        if bad:
            raise DataError(f"{table_path}: line {bad[0]}: objective is empty or not finite")
    notes: list[str] = []
    coords = _place(table, cols, grid, notes)
    run = RunFolder(path=run_dir, manifest=manifest, grid=grid, columns=cols, coords=coords,
                    lines=list(table.lines), notes=notes)
    if check_images:
        run.check_images()
    return run


def read_config(run_dir: str | os.PathLike, overrides: dict[str, Any] | None = None):
    """``run_dir/config.yaml`` as the :class:`~qdemo.qd.config.EvolveConfig` the run used (``overrides``:
    dotted keys changed on top, e.g. the fields a resumed run may change); DataError when missing.
    Imports yaml and the config classes when called."""
    from qdemo.config import load_config
    from qdemo.qd.config import EvolveConfig

    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise DataError(f"{path}: missing (is {Path(run_dir)} a run folder written by `qdemo evolve`?)")
    return load_config(EvolveConfig, path, overrides or {})


def read_history(run_dir: str | os.PathLike, *, missing_ok: bool = False) -> dict[str, list[Any]] | None:
    """``run_dir/metrics.csv``: {column: one value per iteration}, the :data:`HISTORY_COLUMNS` as
    floats (NaN where empty), other columns as text. ``None`` when the file is missing and
    ``missing_ok``; else DataError naming the file (also for a non-number in a numeric column).
    """
    path = Path(run_dir) / METRICS
    if missing_ok and not path.is_file():
        return None
    return _parse_columns(read_output_table(path), HISTORY_COLUMNS)


def read_reference(run_dir: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of ``run_dir/reference.csv`` (real photos scored by the searcher) as ``{column: text}``;
    empty when the run has none. Columns: :data:`~qdemo.runfolder.schema.REFERENCE_COLUMNS`."""
    path = Path(run_dir) / REFERENCE
    return read_output_table(path).dicts() if path.is_file() else []


def read_classes(run_dir: str | os.PathLike) -> dict[int, list[dict[str, Any]]]:
    """``run_dir/classes.json``: flat cell index -> what the critic's classifiers see in that
    cell's elite (one entry per classifier: backbone, resolution, top classes with probability and
    canonical V/A/D norms or None); empty when the run has no such file (a critic without
    classifiers, or a run written before it existed). DataError for a file that is not that."""
    path = Path(run_dir) / CLASSES
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        cells = data["cells"]
        return {int(k): list(v) for k, v in cells.items()}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: not a classes file written by qdemo evolve ({type(exc).__name__})") from None


def read_solutions(path: str | os.PathLike):
    """``solutions.npy`` of a run folder: (N, dim) array, rows in archive.csv's order.

    Imports numpy when called (the rest of this module is standard library only)."""
    import numpy as np

    file = Path(path) / SOLUTIONS
    if not file.is_file():
        raise DataError(f"{file}: missing (is {Path(path)} a run folder written by `qdemo evolve`?)")
    try:
        return np.load(file, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{file}: unreadable ({exc})") from None


__all__ = ["RunFolder", "proxy_dims", "read_classes", "read_config", "read_history", "read_manifest", "read_reference", "read_run",
           "read_solutions"]
