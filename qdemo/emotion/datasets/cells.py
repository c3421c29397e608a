"""Reading the cells of a ratings table: columns by alias, numbers, scales, image files.

Shared by every format reader (OASIS, Emotion6, BASS, a user's CSV) and the word norms.
Every problem is a :class:`~qdemo.errors.DataError` naming the file, the line and the
column. The tables themselves come from :func:`qdemo.tables.read_table`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Iterable, Sequence

from qdemo.emotion.scale import Scale
from qdemo.errors import DataError
from qdemo.io import IMAGE_SUFFIXES
from qdemo.tables import Table

NA_STRINGS = frozenset({"", "na", "nan", "n/a", "null", "none", "-", "?"})
"""Cells read as a missing value (case-insensitive)."""
ON_MISSING = ("raise", "skip")
"""What a loader does when a named image is absent: stop, or skip it with a count."""


def norm_header(name: str) -> str:
    """'[Valence Mean]' / 'Valence.Mean' / ' valence_mean ' -> 'valence_mean'."""
    s = name.strip().strip("[](){}").strip().lower()
    s = re.sub(r"[\s.\-/]+", "_", s)
    return s.strip("_")


def find_column(table: Table, aliases: Iterable[str], explicit: str | None = None,
                *, role: str, required: bool = True) -> int | None:
    """Index of the column for ``role`` (explicit name first, then aliases, case-insensitive)."""
    normed = [norm_header(h) for h in table.header]
    if explicit is not None:
        key = norm_header(explicit)
        if key in normed:
            return normed.index(key)
        raise DataError(
            f"{table.path}: column {explicit!r} (given for {role}) not found "
            f"(found: {', '.join(repr(h) for h in table.header)})")
    for alias in aliases:
        key = norm_header(alias)
        if key in normed:
            return normed.index(key)
    if required:
        raise DataError(
            f"{table.path}: missing column for {role} (looked for {', '.join(list(aliases)[:6])}, ...; "
            f"found: {', '.join(repr(h) for h in table.header)}); name it with columns={{'{role}': ...}}"
            f" or --columns {role}=NAME")
    return None


def parse_number(table: Table, r: int, c: int, what: str, *, allow_nan: bool) -> float:
    """The number in row ``r``, column ``c`` (NaN for an empty / NA cell when ``allow_nan``)."""
    raw = table.rows[r][c].strip()
    if raw.lower() in NA_STRINGS:
        if allow_nan:
            return math.nan
        raise DataError(f"{table.path}: line {table.lines[r]}: {what} is missing/NaN ({raw!r}) "
                        f"in column {table.header[c]!r}")
    txt = raw
    if table.delimiter == ";" and "," in txt and "." not in txt:
        txt = txt.replace(",", ".")  # European decimal comma
    try:
        val = float(txt)
    except ValueError:
        raise DataError(f"{table.path}: line {table.lines[r]}: {what} {raw!r} in column "
                        f"{table.header[c]!r} is not a number") from None
    if not math.isfinite(val):
        if allow_nan and math.isnan(val):
            return math.nan
        raise DataError(f"{table.path}: line {table.lines[r]}: {what} is {raw!r} in column "
                        f"{table.header[c]!r} (not a finite number)")
    return val


SCALE_HINT = "give the native scale of this set, e.g. scale=(1, 9) / --scale 1,9"


def check_range(table: Table, r: int, c: int, val: float, scale: Scale, what: str, *,
                hint: str = SCALE_HINT) -> None:
    """DataError naming the line when ``val`` lies outside the native ``scale``."""
    lo, hi = scale
    tol = 1e-6 * (hi - lo)
    if not math.isnan(val) and (val < lo - tol or val > hi + tol):
        raise DataError(
            f"{table.path}: line {table.lines[r]}: {what} {val:g} in column {table.header[c]!r} "
            f"is outside the scale [{lo:g}, {hi:g}] ({hint})")


def resolve_image(name: str, roots: Sequence[Path]) -> Path | None:
    """The existing file for ``name`` under one of ``roots`` (stray spaces and a missing
    image suffix are tolerated), or None."""
    cands = [name.strip()]
    if name != name.strip():
        cands.append(name)
    if "\\" in name:  # a Windows-style relative path
        cands.append(name.strip().replace("\\", "/"))
    for cand in cands:
        p = Path(cand)
        bases = [p] if p.is_absolute() else [root / p for root in roots]
        for b in bases:
            if b.is_file():
                return b.resolve()
            if not b.suffix or b.suffix.lower() not in IMAGE_SUFFIXES:
                for suf in IMAGE_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES):
                    q = b.with_name(b.name + suf)
                    if q.is_file():
                        return q.resolve()
    return None


def check_on_missing(on_missing: str) -> None:
    if on_missing not in ON_MISSING:
        raise ValueError(f"on_missing must be 'raise' or 'skip', got {on_missing!r}")


def missing_error(csv_path: Path, missing: list[tuple[int, str]], roots: Sequence[Path]) -> DataError:
    """One DataError listing the first absent images (with their lines) and how to skip them."""
    show = ", ".join(f"{name!r} (line {line})" for line, name in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    where = " or ".join(str(r) for r in roots)
    return DataError(
        f"{csv_path}: {len(missing)} image(s) named in the CSV not found under {where}: {show}{more} "
        f"(use on_missing='skip' / --on-missing skip to leave them out)")


def duplicate_check(seen: dict[str, int], key: str, table: Table, r: int) -> None:
    """Record image ``key`` of row ``r``; DataError naming both lines when it was seen before."""
    if key in seen:
        raise DataError(f"{table.path}: line {table.lines[r]}: duplicate image {key!r} "
                        f"(also on line {seen[key]})")
    seen[key] = table.lines[r]


__all__ = ["NA_STRINGS", "ON_MISSING", "check_on_missing", "check_range", "duplicate_check", "find_column",
           "missing_error", "norm_header", "parse_number", "resolve_image"]
