"""A user's own rated set: a CSV naming each image and any of valence / arousal / dominance."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from qdemo import DIMS
from qdemo.emotion.datasets.cells import (
    check_on_missing, check_range, duplicate_check, find_column, missing_error, parse_number, resolve_image,
)
from qdemo.emotion.datasets.ratedset import SOURCE_HUMAN, SOURCE_MISSING, RatedSet
from qdemo.emotion.scale import Scale, parse_scale, to_canonical
from qdemo.errors import DataError
from qdemo.tables import Table, read_table

FILE_ALIASES = ("file", "filename", "file_name", "image", "image_file", "image_filename", "image_name",
                "image_path", "imagepath", "path", "img", "picture", "stimulus", "stim", "name", "photo",
                "theme")
VALENCE_ALIASES = ("valence", "valence_mean", "valence_m", "mean_valence", "val", "valmn", "val_mn",
                   "v_mean", "v_mean_sum", "v", "pleasure", "pleasantness")
AROUSAL_ALIASES = ("arousal", "arousal_mean", "arousal_m", "mean_arousal", "aro", "aromn", "aro_mn",
                   "a_mean", "a_mean_sum", "a", "activation")
DOMINANCE_ALIASES = ("dominance", "dominance_mean", "dominance_m", "mean_dominance", "dom", "dommn",
                     "dom1mn", "dom_mn", "d_mean", "d_mean_sum", "d", "control", "potency")
GROUP_ALIASES = ("group", "groups", "theme_group", "scene", "cluster")
STRATUM_ALIASES = ("stratum", "strata", "category", "class", "folder", "label")
ALIASES: dict[str, tuple[str, ...]] = {
    "file": FILE_ALIASES, "valence": VALENCE_ALIASES, "arousal": AROUSAL_ALIASES,
    "dominance": DOMINANCE_ALIASES, "group": GROUP_ALIASES, "stratum": STRATUM_ALIASES,
}
"""Column names recognised (case-insensitively, ignoring spaces, dots, dashes) per role."""


def _scales_per_dim(scale: Any) -> dict[str, Scale]:
    if scale is None:
        raise DataError("the native rating scale of a CSV set must be given (scale=(lo, hi), "
                        "e.g. (1, 9) for SAM, (1, 7) for OASIS, (0, 1); CLI: --scale 1,9)")
    if isinstance(scale, Mapping):
        out = {}
        for d, s in scale.items():
            if d not in DIMS:
                raise DataError(f"scale given for unknown dimension {d!r} (expected one of {', '.join(DIMS)})")
            out[d] = parse_scale(s)
        return out
    try:
        s = parse_scale(scale)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    return {d: s for d in DIMS}


@dataclass
class _Columns:
    """Where each role sits in the table."""

    file: int
    dims: dict[str, int]
    group: int | None
    stratum: int | None


def _csv_columns(table: Table, columns: Mapping[str, str], scales: Mapping[str, Scale]) -> _Columns:
    """Find the file, dimension, group and stratum columns (explicit names first, then aliases)."""
    csv_path = table.path
    if len(table.header) < 2:
        raise DataError(
            f"{csv_path}: found a single column ({table.header[0]!r}); expected a CSV table with a "
            f"file column and valence/arousal/dominance columns separated by commas, tabs or semicolons")
    c_file = find_column(table, FILE_ALIASES, columns.get("file"), role="file")
    c_dim: dict[str, int] = {}
    for d in DIMS:
        c = find_column(table, ALIASES[d], columns.get(d), role=d, required=False)
        if c is not None and c != c_file:
            c_dim[d] = c
    no_scale = [d for d in c_dim if d not in scales]
    if no_scale:
        raise DataError(f"{csv_path}: no rating scale given for {', '.join(no_scale)} "
                        f"(scales given for: {', '.join(scales) or 'none'})")
    if not c_dim:
        raise DataError(
            f"{csv_path}: no valence, arousal or dominance column (found: "
            f"{', '.join(repr(h) for h in table.header)}); name them with columns={{'valence': ...}} "
            f"or --columns valence=NAME")
    used = {c_file, *c_dim.values()}
    c_group = find_column(table, GROUP_ALIASES, columns.get("group"), role="group", required=False)
    c_strat = find_column(table, STRATUM_ALIASES, columns.get("stratum"), role="stratum", required=False)
    return _Columns(c_file, c_dim, None if c_group in used else c_group, None if c_strat in used else c_strat)


def _row_targets(table: Table, r: int, cols: _Columns, scales: Mapping[str, Scale], on_nan: str) -> list[float]:
    """(3,) canonical targets of row ``r`` (NaN for an absent dimension or a masked NaN)."""
    t = [math.nan] * len(DIMS)
    for j, d in enumerate(DIMS):
        if d in cols.dims:
            val = parse_number(table, r, cols.dims[d], d, allow_nan=on_nan == "mask")
            check_range(table, r, cols.dims[d], val, scales[d], d)
            t[j] = float(to_canonical(val, *scales[d])) if not math.isnan(val) else math.nan
    return t


def _stratum(row: list[str], key: str, cols: _Columns) -> str:
    if cols.stratum is not None:
        return row[cols.stratum].strip() or "unknown"
    rel = Path(key)
    return rel.parent.as_posix() if rel.parent.as_posix() not in ("", ".") else "all"


def _read_rows(table: Table, cols: _Columns, scales: Mapping[str, Scale], roots: Sequence[Path], on_nan: str):
    """Every row checked: (paths, targets, groups, strata, missing (line, name), skipped (name, why))."""
    paths, targets, groups, strata, missing, skipped = [], [], [], [], [], []
    seen: dict[str, int] = {}
    for r, row in enumerate(table.rows):
        fname = row[cols.file]
        if not fname.strip():
            raise DataError(f"{table.path}: line {table.lines[r]}: empty file name in column "
                            f"{table.header[cols.file]!r}")
        key = fname.strip()
        duplicate_check(seen, key, table, r)
        t = _row_targets(table, r, cols, scales, on_nan)
        path = resolve_image(fname, roots)
        if path is None:
            missing.append((table.lines[r], key))
            skipped.append((key, "image not found"))
            continue
        paths.append(path)
        targets.append(t)
        group = row[cols.group].strip() if cols.group is not None else ""
        groups.append(group or str(path))
        strata.append(_stratum(row, key, cols))
    return paths, targets, groups, strata, missing, skipped


def load_csv(csv_path: str | Path, *, image_root: str | Path | None = None,
             scale: Any = None, columns: Mapping[str, str] | None = None,
             on_missing: str = "raise", on_nan: str = "raise", name: str | None = None,
             delimiter: str | None = None) -> RatedSet:
    """Load a user's rated set: a CSV naming each image and any of valence/arousal/dominance.

    Args:
        csv_path: the ratings table (comma, tab or semicolon separated; any line endings).
        image_root: folder the file names are relative to (default: the CSV's folder, then
            its ``images/`` sub-folder). Names without a suffix are tried with image suffixes.
        scale: native rating scale, required: ``(lo, hi)``, ``"1,9"``, a name such as
            ``"sam"`` / ``"oasis"``, or a dict per dimension.
        columns: explicit column names per role (``file``, ``valence``, ``arousal``,
            ``dominance``, ``group``, ``stratum``); other roles are found by alias
            (:data:`ALIASES`). A CSV needs a file column and at least one dimension.
        on_missing: ``"raise"`` (default) if a named image is absent, or ``"skip"`` it
            (reported in ``skipped`` with a count).
        on_nan: ``"raise"`` (default) on an empty/NaN rating, or ``"mask"`` it (the
            dimension is then masked for that image only).
        name: the set's name (default: the CSV's stem).

    Groups default to the image (each its own group); strata to the image's sub-folder.
    """
    check_on_missing(on_missing)
    if on_nan not in ("raise", "mask"):
        raise ValueError(f"on_nan must be 'raise' or 'mask', got {on_nan!r}")
    csv_path = Path(csv_path)
    scales = _scales_per_dim(scale)
    columns = dict(columns or {})
    unknown = set(columns) - set(ALIASES)
    if unknown:
        raise DataError(f"unknown column role(s) {sorted(unknown)} (expected {', '.join(ALIASES)})")
    table = read_table(csv_path, delimiter=delimiter, strip=False)
    cols = _csv_columns(table, columns, scales)
    if not table.rows:
        raise DataError(f"{csv_path}: no data rows (only a header)")
    roots: list[Path] = [Path(image_root)] if image_root is not None else [csv_path.parent, csv_path.parent / "images"]
    if image_root is not None and not roots[0].is_dir():
        raise DataError(f"{image_root}: image folder not found")

    paths, targets, groups, strata, missing, skipped = _read_rows(table, cols, scales, roots, on_nan)
    if missing and on_missing == "raise":
        raise missing_error(csv_path, missing, roots)
    if not paths:
        raise DataError(f"{csv_path}: none of the {len(table.rows)} images named in the CSV were found "
                        f"under {' or '.join(str(r) for r in roots)}")
    return RatedSet(
        name=name or csv_path.stem, root=(roots[0]).resolve(), paths=paths,
        targets=np.asarray(targets, dtype=np.float32).reshape(-1, 3),
        sources={d: (SOURCE_HUMAN if d in cols.dims else SOURCE_MISSING) for d in DIMS},
        groups=np.asarray(groups, dtype=str), strata=np.asarray(strata, dtype=str),
        skipped=skipped,
        info={"csv": str(csv_path), "scale": {d: scales[d] for d in cols.dims},
              "columns": {d: table.header[c] for d, c in [("file", cols.file), *cols.dims.items()]},
              "group_by": table.header[cols.group] if cols.group is not None else "image",
              "strata_by": table.header[cols.stratum] if cols.stratum is not None else "sub-folder"},
    )


def parse_columns(spec: str | Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Column roles from a CLI string: ``"file=Image,valence=Val"`` (or a list of
    ``role=NAME`` items, or a dict) -> ``{"file": "Image", "valence": "Val"}``."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        parts = spec.split(",") if isinstance(spec, str) else [x for s in spec for x in str(s).split(",")]
        items = []
        for part in parts:
            if not part.strip():
                continue
            if "=" not in part:
                raise DataError(f"--columns: {part!r} is not role=NAME (roles: {', '.join(ALIASES)})")
            role, name = part.split("=", 1)
            items.append((role.strip().lower(), name.strip()))
    out = {}
    for role, name in items:
        if role not in ALIASES:
            raise DataError(f"--columns: unknown role {role!r} (roles: {', '.join(ALIASES)})")
        out[role] = name
    return out


__all__ = ["ALIASES", "load_csv", "parse_columns"]
