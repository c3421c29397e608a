"""The one reader of delimited text tables (CSV / TSV) in qdemo, and the one CSV formatter.

Real files arrive with ``\\r``, ``\\n`` or ``\\r\\n`` line endings, a UTF-8 byte-order mark,
Windows (cp1252) text, commas, tabs or semicolons, stray spaces and blank lines.
:func:`read_table` reads all of them into a :class:`Table` that keeps the file line of every
row, and turns every problem into a :class:`~qdemo.errors.DataError` naming the file (and
line). Standard library only: the base layer, usable by every area and by ``qdemo --help``.

    table = read_table("ratings.csv", required=("file",))
    table.header, table.rows[0], table.lines[0], table.column("file"), table.dicts()

Tables that qdemo wrote itself (run folders, comparisons, study folders, logs) are read back
strictly by :func:`read_output_table`; every CSV qdemo writes is formatted by
:func:`table_text` (header first, ``\\n`` line endings) and written atomically by the caller.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from qdemo.errors import DataError

DELIMITERS = ("\t", ",", ";")
"""Separators :func:`read_table` sniffs from the header line (most frequent wins; comma if none)."""


@dataclass
class Table:
    """A parsed delimited text file: header, rows and the file line of each row."""

    path: Path
    """The file read (for messages)."""
    header: list[str]
    """Column names, stripped of surrounding spaces."""
    rows: list[list[str]]
    """Data rows (blank lines dropped); cells stripped when read with ``strip=True``."""
    lines: list[int]
    """File line number (1-based) of each row, for error messages."""
    delimiter: str = ","
    """The separator used (given or sniffed)."""

    def __len__(self) -> int:
        return len(self.rows)

    def index(self, name: str) -> int:
        """Position of column ``name`` (exact match), or DataError naming the file."""
        try:
            return self.header.index(name)
        except ValueError:
            raise DataError(f"{self.path}: no column {name!r} (found: "
                            f"{', '.join(repr(h) for h in self.header) or 'nothing'})") from None

    def column(self, name: str) -> list[str]:
        """The cells of column ``name``, one per row."""
        j = self.index(name)
        return [r[j] if j < len(r) else "" for r in self.rows]

    def dicts(self) -> list[dict[str, str]]:
        """Rows as ``{column: value}`` (unnamed columns dropped)."""
        named = [(j, h) for j, h in enumerate(self.header) if h]
        return [{h: (r[j] if j < len(r) else "") for j, h in named} for r in self.rows]


def _decode(path: Path, data: bytes, encodings: Sequence[str]) -> str:
    for enc in encodings:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    names = [e.replace("-sig", "").replace("utf-8", "UTF-8") for e in encodings]
    raise DataError(f"{path}: not {' or '.join(names)} text")


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DataError(f"{path}: missing (file not found)")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a CSV file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def sniff_delimiter(line: str) -> str:
    """The most frequent of tab, comma and semicolon in ``line`` (comma when none occurs)."""
    counts = {d: line.count(d) for d in DELIMITERS}
    return max(counts, key=counts.get) if max(counts.values()) > 0 else ","


def _parse(path: Path, text: str, delimiter: str, strip: bool) -> tuple[list[list[str]], list[int]]:
    """Non-blank rows of ``text`` (newlines already normalised to ``\\n``) with their line numbers."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            rows.append([c.strip() for c in row] if strip else row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{path}: cannot parse as CSV near line {reader.line_num} ({exc})") from None
    return rows, lines


def _check_shape(table: Table, required: Sequence[str], ragged: str, unique_header: bool) -> None:
    path, header = table.path, table.header
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(map(repr, missing))} "
                        f"(found: {', '.join(h for h in header if h) or 'nothing'})")
    if unique_header:
        named = [h for h in header if h]
        dup = sorted({h for h in named if named.count(h) > 1})
        if dup:
            raise DataError(f"{path}: duplicate column(s) {', '.join(map(repr, dup))}")
    for i, (row, line) in enumerate(zip(table.rows, table.lines)):
        if len(row) == len(header):
            continue
        if ragged == "error":
            raise DataError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}")
        if len(row) < len(header):
            table.rows[i] = row + [""] * (len(header) - len(row))


def read_table(path: str | os.PathLike, *, delimiter: str | None = None, required: Sequence[str] = (),
               strip: bool = True, ragged: str = "pad", unique_header: bool = False,
               encodings: Sequence[str] = ("utf-8-sig", "cp1252"), allow_empty: bool = False) -> Table:
    """Read a CSV / TSV file robustly, or raise :class:`DataError` naming it.

    Args:
        path: the file.
        delimiter: the separator; ``None`` sniffs it (tab, comma or semicolon) from the header.
        required: column names that must be in the header (exact match).
        strip: strip surrounding spaces from every cell (the header is always stripped).
        ragged: ``"pad"`` pads short rows with empty cells and keeps long ones;
            ``"error"`` refuses any row whose field count differs from the header's.
        unique_header: refuse duplicate (non-empty) column names.
        encodings: tried in order (default UTF-8 with or without BOM, then cp1252).
        allow_empty: an empty file gives an empty table instead of an error (only
            when nothing is ``required``).

    ``\\r``, ``\\n`` and ``\\r\\n`` line endings (even mixed) are all accepted; blank lines are
    dropped; :attr:`Table.lines` keeps each row's line in the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if not data.strip():
        if allow_empty and not required:
            return Table(path=path, header=[], rows=[], lines=[], delimiter=delimiter or ",")
        what = f"a header row with {', '.join(required)}" if required else "a CSV with a header row"
        raise DataError(f"{path}: empty file (expected {what})")
    if b"\x00" in data[:8192]:
        raise DataError(f"{path}: binary file, not a CSV/text table")
    if ragged not in ("pad", "error"):
        raise ValueError(f"ragged must be 'pad' or 'error', got {ragged!r}")
    text = _decode(path, data, encodings).lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if delimiter is None:
        delimiter = sniff_delimiter(next((ln for ln in text.split("\n") if ln.strip()), ""))
    rows, lines = _parse(path, text, delimiter, strip)
    if not rows:
        raise DataError(f"{path}: empty file (expected a CSV with a header row)")
    table = Table(path=path, header=[c.strip() for c in rows[0]], rows=rows[1:], lines=lines[1:],
                  delimiter=delimiter)
    _check_shape(table, required, ragged, unique_header)
    return table


def read_output_table(path: str | os.PathLike, *, required: Sequence[str] = ()) -> Table:
    """Read back a CSV that qdemo wrote (:func:`table_text`), strictly: comma-separated UTF-8
    (BOM and any line endings accepted), unique column names, every row as long as the header.

    An empty file gives an empty table unless columns are ``required``. Anything else is a
    damaged or foreign file: :class:`DataError` naming the file (and line).
    """
    return read_table(path, delimiter=",", required=required, ragged="error", unique_header=True,
                      encodings=("utf-8-sig",), allow_empty=True)


def table_text(header: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]], *,
               extra: str = "error") -> str:
    """A CSV as text: ``header`` then one line per row, ``\\n`` line endings (the one CSV formatter).

    A row is a sequence in ``header`` order or a mapping ``{column: value}`` (missing columns
    are written empty). ``extra``: what to do with a mapping's keys outside ``header``:
    ``"error"`` (ValueError) or ``"ignore"``. Values are written as ``str()`` writes them
    (``None`` as an empty cell). Write the text with :func:`qdemo.io.atomic_write_text`.
    """
    if extra not in ("error", "ignore"):
        raise ValueError(f"extra must be 'error' or 'ignore', got {extra!r}")
    header = list(header)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        if isinstance(row, Mapping):
            unknown = [k for k in row if k not in header] if extra == "error" else []
            if unknown:
                raise ValueError(f"row has column(s) not in the header: {', '.join(map(str, unknown))}")
            row = [row.get(h, "") for h in header]
        w.writerow(row)
    return buf.getvalue()


__all__ = ["DELIMITERS", "Table", "read_output_table", "read_table", "sniff_delimiter", "table_text"]
