"""One entry point for every rated-set format: :func:`load_dataset` (with format detection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qdemo.emotion.datasets.bass import BASS_CSV, load_bass
from qdemo.emotion.datasets.emotion6 import load_emotion6
from qdemo.emotion.datasets.oasis import load_oasis
from qdemo.emotion.datasets.ratedset import RatedSet
from qdemo.emotion.datasets.usercsv import load_csv
from qdemo.errors import DataError

FORMATS = ("auto", "oasis", "emotion6", "bass", "csv")
MARKERS = {"OASIS.csv": "oasis", "ground_truth.txt": "emotion6", BASS_CSV: "bass"}
"""The file that marks a folder (or names a table) as a known rated set."""


def detect_format(path: str | Path) -> str:
    """'oasis', 'emotion6', 'bass' or 'csv' from what is at ``path``."""
    path = Path(path)
    if path.is_dir():
        for marker, fmt in MARKERS.items():
            if (path / marker).exists():
                return fmt
        raise DataError(f"{path}: cannot tell the format (no {', '.join(MARKERS)}; "
                        f"for your own set pass the CSV file and format='csv')")
    for marker, fmt in MARKERS.items():
        if path.name.lower() == marker.lower():
            return fmt
    return "csv"


def is_rated_set(path: str | Path) -> bool:
    """True when ``path`` is a known rated set's folder or table (or any file: a user's CSV)."""
    path = Path(path)
    return path.is_file() or (path.is_dir() and any((path / m).exists() for m in MARKERS))


def load_dataset(path: str | Path, format: str = "auto", **kw: Any) -> RatedSet:
    """Load a rated set: ``format`` is 'oasis', 'emotion6', 'bass', 'csv' or 'auto' (detect).

    Keyword arguments go to the loader (``on_missing``; for BASS ``on_nan``; for CSV
    ``scale``, ``columns``, ``image_root``, ``on_nan``, ``name``).
    """
    fmt = (format or "auto").lower()
    if fmt not in FORMATS:
        raise DataError(f"unknown dataset format {format!r} (expected one of {', '.join(FORMATS)})")
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "oasis":
        return load_oasis(path, **kw)
    if fmt == "emotion6":
        return load_emotion6(path, **kw)
    if fmt == "bass":
        return load_bass(path, **kw)
    if path.is_dir():
        csvs = sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".tsv", ".txt"))
        if len(csvs) != 1:
            raise DataError(f"{path}: format 'csv' needs the CSV file itself "
                            f"(found {len(csvs)} candidate tables here)")
        path = csvs[0]
    return load_csv(path, **kw)


__all__ = ["FORMATS", "MARKERS", "detect_format", "is_rated_set", "load_dataset"]
