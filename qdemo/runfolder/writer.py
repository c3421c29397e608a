"""The one writer of run folders ``archives/<run>/`` (docs/formats.md).

Every file is written atomically (a temporary file in the folder, then renamed), so an
interrupted write never leaves a half-written file where a good one was. Columns and file
names come from :mod:`qdemo.runfolder.schema`, the same ones the reader checks::

    table = ArchiveTable(index=idx, cells=coords, objective=obj, vad=vad, vad_sd=sd)
    write_archive(run_dir, table)          # archive.csv
    write_solutions(run_dir, solutions)    # solutions.npy
    write_elite_images(run_dir, idx, images)

Numbers are written as whole numbers in the integer columns (index, cells, flags), with six
decimals elsewhere, and as empty cells where missing (None or NaN).
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
from PIL import Image

from qdemo import DIMS
from qdemo.config import save_config
from qdemo.errors import DataError, QdemoError
from qdemo.io import atomic_path, atomic_write_json, atomic_write_text, open_rgb, tensor_to_pil
from qdemo.runfolder.schema import (CHECKPOINT, CLASSES, CONFIG, CRITIC_COLUMNS, CRITIC_EMOTION_COLUMNS, DIST_COLUMNS,
                                    EMOTION_COLUMN, FLAG_COLUMNS, HISTORY_COLUMNS, IMAGE_COLUMN, INT_COLUMNS, MANIFEST, METRICS, NUMERIC_COLUMNS, REFERENCE, REFERENCE_COLUMNS,
                                    RUN_MARKERS, SOLUTIONS, TABLE, all_archive_columns, archive_columns, elite_image, reference_thumb)
from qdemo.tables import read_output_table, table_text


def format_cell(column: str, value: Any) -> str:
    """One archive.csv / reference.csv cell as text (see the module docstring)."""
    if value is None or (isinstance(value, str) and not value):
        return ""
    if column in INT_COLUMNS:
        return str(int(value))
    if column in NUMERIC_COLUMNS or column.startswith("human_"):
        x = float(value)
        return f"{x:.6f}" if math.isfinite(x) else ""
    return str(value)


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    atomic_write_text(path, table_text(header, ([format_cell(c, v) for c, v in zip(header, row)] for row in rows)))
    return path


@dataclass
class ArchiveTable:
    """archive.csv for N elites (rows in this order; numpy arrays or sequences)."""

    index: np.ndarray
    """(N,) flat cell index."""
    cells: Optional[np.ndarray]
    """(N, m) integer cell coordinates; None for a CVT archive (no cell columns)."""
    objective: np.ndarray
    """(N,) in [0, 100]."""
    vad: np.ndarray
    """(N, 3) searcher mean VAD."""
    vad_sd: np.ndarray
    """(N, 3) searcher spread."""
    critic_vad: Optional[np.ndarray] = None
    """(N, 3) critic VAD; None until confirmation has run."""
    critic_same_cell: Optional[np.ndarray] = None
    """(N,) bool: the critic puts the elite in the same cell."""
    critic_within_one: Optional[np.ndarray] = None
    """(N,) bool: ... in the same or a neighbouring cell."""
    image: Optional[Sequence[str]] = None
    """(N,) PNG paths relative to the run folder (empty: none); None: no images."""
    emotion: Optional[Sequence[str]] = None
    """Emotions archive: (N,) the slot emotion of each elite; None: a VAD archive."""
    dist: Optional[np.ndarray] = None
    """Emotions archive: (N, 7) the searcher's emotion distribution."""
    critic_emotion: Optional[Sequence[str]] = None
    """Emotions archive: (N,) the critic's most probable emotion; None until confirmation."""
    critic_p: Optional[np.ndarray] = None
    """(N,) its probability."""
    critic_p_slot: Optional[np.ndarray] = None
    """(N,) the critic's probability of the slot's emotion."""
    critic_match: Optional[np.ndarray] = None
    """(N,) bool: the critic's top emotion is the slot's."""

    def header(self) -> list[str]:
        return archive_columns(0 if self.cells is None else np.shape(self.cells)[1], emotions=self.emotion is not None)

    def rows(self) -> list[list[Any]]:
        """Row values in :meth:`header` order (unformatted)."""
        header = self.header()
        cell_cols = header[1:1 + (0 if self.cells is None else np.shape(self.cells)[1])]
        per_dim = {"": self.vad, "_sd": self.vad_sd}
        out = []
        for i in range(len(self.index)):
            row: dict[str, Any] = {"index": self.index[i], "objective": self.objective[i],
                                   IMAGE_COLUMN: self.image[i] if self.image is not None else ""}
            row.update(zip(cell_cols, list(self.cells[i]) if self.cells is not None else []))
            for suffix, arr in per_dim.items():
                row.update({f"{d}{suffix}": arr[i][k] for k, d in enumerate(DIMS)})
            if self.critic_vad is not None:
                row.update(zip(CRITIC_COLUMNS, self.critic_vad[i]))
            for col, arr in (*zip(FLAG_COLUMNS, (self.critic_same_cell, self.critic_within_one)),
                             (EMOTION_COLUMN, self.emotion), *zip(CRITIC_EMOTION_COLUMNS, (
                                 self.critic_emotion, self.critic_p, self.critic_p_slot, self.critic_match))):
                if arr is not None:
                    row[col] = arr[i]
            if self.dist is not None:
                row.update(zip(DIST_COLUMNS, self.dist[i]))
            out.append([row.get(c) for c in header])
        return out


def write_archive(run_dir: str | os.PathLike, table: ArchiveTable) -> Path:
    """Write ``run_dir/archive.csv`` (columns of :func:`~qdemo.runfolder.schema.archive_columns`)."""
    return _write_csv(Path(run_dir) / TABLE, table.header(), table.rows())


def update_archive_columns(run_dir: str | os.PathLike, values: Mapping[str, Sequence[Any]]) -> Path:
    """Replace whole columns of an existing archive.csv (e.g. the critic's), keeping the rest.

    ``values``: {column: N values in row order}; every column must be one of the schema's
    and already in the file. The other cells are kept as they are (stripped); a BOM, CRLF
    line endings and unnamed columns are dropped. DataError when the file or a column is
    missing or a column's length differs from the table's.
    """
    path = Path(run_dir) / TABLE
    known = all_archive_columns()
    unknown = [c for c in values if c not in known]
    if unknown:
        raise QdemoError(f"{path}: not archive.csv columns: {', '.join(unknown)}")
    table = read_output_table(path, required=("index", *values))
    for col, vals in values.items():
        if len(vals) != len(table):
            raise DataError(f"{path}: {len(vals)} values for column {col!r} but the table has {len(table)} rows")
    header = [h for h in table.header if h]
    rows = table.dicts()
    for i, row in enumerate(rows):
        for col, vals in values.items():
            row[col] = format_cell(col, vals[i])
    return _write_csv(path, header, [[row[h] for h in header] for row in rows])


def critic_columns(vad: np.ndarray, same: np.ndarray, within: np.ndarray, *, emotion: Optional[Sequence[str]] = None,
                   p: Optional[np.ndarray] = None, p_slot: Optional[np.ndarray] = None,
                   match: Optional[np.ndarray] = None) -> dict[str, Any]:
    """{column: values} of the critic columns for :func:`update_archive_columns`: vad (N, 3), same / within (N,);
    an emotions archive adds the critic's top emotion (N,), its probability, that of the slot and the match."""
    cols: dict[str, Any] = {c: np.asarray(vad)[:, d] for d, c in enumerate(CRITIC_COLUMNS)}
    cols.update(zip(FLAG_COLUMNS, (np.asarray(same), np.asarray(within))))
    if emotion is not None:
        cols.update(zip(CRITIC_EMOTION_COLUMNS, (list(emotion), np.asarray(p), np.asarray(p_slot), np.asarray(match))))
    return cols


def write_history(run_dir: str | os.PathLike, history: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``run_dir/metrics.csv``: one row per iteration (:data:`~qdemo.runfolder.schema.HISTORY_COLUMNS`)."""
    rows = ([row.get(k, "") for k in HISTORY_COLUMNS] for row in history)
    atomic_write_text(Path(run_dir) / METRICS, table_text(HISTORY_COLUMNS, rows))
    return Path(run_dir) / METRICS


def write_solutions(run_dir: str | os.PathLike, solutions: np.ndarray) -> Path:
    """Write ``run_dir/solutions.npy``: (N, dim) float32, rows in archive.csv's order."""
    path = Path(run_dir) / SOLUTIONS
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(solutions, dtype=np.float32))
    return path


def write_elite_images(run_dir: str | os.PathLike, indices: Sequence[int], images: Any) -> list[str]:
    """Write one PNG per elite: ``images`` (N, 3, H, W) tensor in [0, 1] or N PIL images.
    Returns the paths relative to the run folder, in order."""
    rels = []
    for i, index in enumerate(indices):
        im = images[i]
        pil = im if isinstance(im, Image.Image) else tensor_to_pil(im)
        rel = elite_image(index)
        with atomic_path(Path(run_dir) / rel) as tmp:
            pil.save(tmp, format="PNG")
        rels.append(rel)
    return rels


def write_manifest(run_dir: str | os.PathLike, manifest: Mapping[str, Any]) -> Path:
    """Write ``run_dir/manifest.json``."""
    atomic_write_json(Path(run_dir) / MANIFEST, dict(manifest))
    return Path(run_dir) / MANIFEST


def write_classes(run_dir: str | os.PathLike, indices: Sequence[int], classes: Sequence[Any], *,
                  model: str) -> Path:
    """Write ``run_dir/classes.json``: for each elite (flat cell ``indices``), what ``model``'s
    classifiers see (:func:`qdemo.emotion.explain.top_classes_batch`'s parts, same order)."""
    if len(indices) != len(classes):
        raise ValueError(f"{len(indices)} cells but {len(classes)} class lists")
    data = {"model": model, "cells": {str(int(i)): list(c) for i, c in zip(indices, classes)}}
    atomic_write_json(Path(run_dir) / CLASSES, data)
    return Path(run_dir) / CLASSES


def write_config(run_dir: str | os.PathLike, config: Any) -> Path:
    """Write the resolved config (a dataclass) as ``run_dir/config.yaml``."""
    save_config(config, Path(run_dir) / CONFIG)
    return Path(run_dir) / CONFIG


def write_reference(run_dir: str | os.PathLike, sources: Sequence[str | os.PathLike], vad: np.ndarray,
                    vad_sd: np.ndarray, indices: Sequence[int], *, human: Optional[np.ndarray] = None,
                    thumbnails: bool = True, images: Optional[Sequence[Image.Image]] = None) -> Path:
    """Write ``reference.csv`` (+ ``reference/*.jpg`` thumbnails <= 128 px) for N scored photos.

    ``sources``: the photos' paths; vad, vad_sd (N, 3) searcher; ``indices`` (N,) their cells;
    ``human`` (N, 3) ratings (NaN where not rated); ``images``: the photos themselves (else
    each source is opened for its thumbnail).
    """
    run_dir = Path(run_dir)
    rows = []
    for i, src in enumerate(sources):
        rel = ""
        if thumbnails:
            rel = reference_thumb(i)
            im = (images[i] if images is not None else open_rgb(src)).copy()
            im.thumbnail((128, 128))
            with atomic_path(run_dir / rel) as tmp:
                im.save(tmp, format="JPEG", quality=85)
        rated = human[i] if human is not None else [None] * 3
        rows.append([str(src), rel, int(indices[i]), *vad[i], *vad_sd[i], *rated])
    return _write_csv(run_dir / REFERENCE, REFERENCE_COLUMNS, rows)


def prepare_run_dir(out: str | os.PathLike, *, force: bool) -> Path:
    """Create ``out``; an existing non-empty folder needs ``force`` and must be a run folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise QdemoError(f"{out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not force:
            hint = f"continue it with --resume {out}, " if (out / CHECKPOINT).exists() else ""
            raise QdemoError(f"{out}: run folder already exists; {hint}pick another --name, or pass --force to replace it")
        if not any((out / m).exists() for m in RUN_MARKERS):
            raise QdemoError(f"{out}: folder is not empty and is not a qdemo run folder; refusing to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


__all__ = ["ArchiveTable", "critic_columns", "format_cell", "prepare_run_dir", "update_archive_columns",
           "write_archive", "write_config", "write_elite_images", "write_history", "write_manifest",
           "write_reference", "write_solutions"]
