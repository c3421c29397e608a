"""BASS, the Bicolor Affective Silhouettes and Shapes (Kawai, Lukács & Ansorge 2021).

583 black-and-white 300x300 PNG silhouettes in ``images/`` with ``BASS_data.csv``: per image
the mean valence and arousal of a US sample (``val_mean_us``, ``aro_mean_us``) and of a
Chinese sample (``val_mean_ch``, ``aro_mean_ch``) on the study's 9-point scales (1-9, 5
neutral), plus ``keywords`` and ``source``. Licence CC BY 4.0.

* Targets: the US sample, mapped to the canonical scale by ``(x - 5) / 4``.
* Second rating: the Chinese sample, kept in :attr:`RatedSet.second_targets` (never trained
  on); :meth:`RatedSet.second_agreement` gives the US-vs-CN Pearson r, a ceiling for any model.
* Groups: the image stem, the file name minus its extension and trailing digits (``dog.png``,
  ``dog5.png`` -> ``dog``), so variants of one motif never straddle a split.
* Dominance: not rated; :mod:`qdemo.emotion.proxies` fills it from the ``keywords``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from qdemo.emotion.datasets.cells import (
    check_on_missing, check_range, duplicate_check, find_column, missing_error, parse_number, resolve_image,
)
from qdemo.emotion.datasets.ratedset import SOURCE_HUMAN, SOURCE_MISSING, RatedSet
from qdemo.emotion.scale import BASS, to_canonical
from qdemo.errors import DataError
from qdemo.tables import Table, read_table

BASS_CSV = "BASS_data.csv"
"""The ratings table of the set (also what format detection looks for)."""
TARGET_COLUMNS = {"valence": "val_mean_us", "arousal": "aro_mean_us"}
"""The US sample: the targets."""
SECOND_COLUMNS = {"valence": "val_mean_ch", "arousal": "aro_mean_ch"}
"""The Chinese sample: the second rating."""
ON_NAN = ("raise", "mask")
_HINT = "BASS rates on 9-point scales, 1-9"


def bass_stem(file_name: str) -> str:
    """The motif of a BASS image: the file name minus extension and trailing digits
    ('dog5.png' -> 'dog', 'couple.png' -> 'couple'); the whole stem if only digits remain."""
    stem = Path(file_name.strip().replace("\\", "/")).stem.strip()
    return re.sub(r"\d+$", "", stem).strip() or stem


def _columns(table: Table) -> dict[str, int | None]:
    """Positions of the file, US, CN, keyword and source columns; DataError naming what is absent."""
    cols: dict[str, int | None] = {}
    absent = []
    for key, name in [("file", "file_name"), *(("us_" + d, c) for d, c in TARGET_COLUMNS.items()),
                      *(("cn_" + d, c) for d, c in SECOND_COLUMNS.items())]:
        cols[key] = find_column(table, [name], role=name, required=False)
        if cols[key] is None:
            absent.append(name)
    if absent:
        raise DataError(
            f"{table.path}: not a BASS ratings table: missing column(s) {', '.join(absent)} (BASS needs "
            f"file_name, {', '.join(TARGET_COLUMNS.values())} for the US sample and "
            f"{', '.join(SECOND_COLUMNS.values())} for the Chinese sample; found: "
            f"{', '.join(repr(h) for h in table.header)})")
    cols["keywords"] = find_column(table, ["keywords"], role="keywords", required=False)
    cols["source"] = find_column(table, ["source"], role="source", required=False)
    return cols


def _ratings(table: Table, r: int, cols: dict, sample: str, on_nan: str) -> list[float]:
    """(3,) canonical valence, arousal, NaN dominance of ``sample`` ('us' or 'cn') in row ``r``."""
    out = []
    for d in ("valence", "arousal"):
        c = cols[f"{sample}_{d}"]
        what = f"{d} ({'US' if sample == 'us' else 'Chinese'} sample)"
        val = parse_number(table, r, c, what, allow_nan=on_nan == "mask")
        check_range(table, r, c, val, BASS, what, hint=_HINT)
        out.append(float(to_canonical(val, *BASS)) if not math.isnan(val) else math.nan)
    return out + [math.nan]


def _csv_and_root(root: Path) -> tuple[Path, Path]:
    csv_path = root / BASS_CSV if root.is_dir() else root
    folder = root if root.is_dir() else root.parent
    if not csv_path.exists():
        raise DataError(f"{root}: no {BASS_CSV} here (expected the BASS folder with {BASS_CSV} and images/)")
    return csv_path, folder


def load_bass(root: str | Path, *, on_missing: str = "raise", on_nan: str = "raise") -> RatedSet:
    """Load BASS from ``root`` (the folder with ``BASS_data.csv`` and ``images/``, or the CSV).

    Args:
        root: the BASS folder, or a BASS-style ratings CSV (images in ``images/`` beside it).
        on_missing: ``"raise"`` (default) when a listed image is absent, or ``"skip"`` it
            (listed in ``skipped`` with a count).
        on_nan: ``"raise"`` (default) on an empty / NaN rating of either sample, naming the
            file, line and column; ``"mask"`` keeps the row with that rating masked (counted in
            ``info['masked']``).

    Duplicate file names, ratings outside 1-9, unreadable numbers and a table without the
    US or the Chinese columns raise :class:`DataError` naming the file (and line).
    """
    check_on_missing(on_missing)
    if on_nan not in ON_NAN:
        raise ValueError(f"on_nan must be 'raise' or 'mask', got {on_nan!r}")
    csv_path, folder = _csv_and_root(Path(root))
    img_root = folder / "images"
    table = read_table(csv_path, strip=False)
    cols = _columns(table)
    if not table.rows:
        raise DataError(f"{csv_path}: no data rows (only a header)")
    paths, us, cn, groups, strata, words, missing, skipped = [], [], [], [], [], [], [], []
    seen: dict[str, int] = {}
    for r, row in enumerate(table.rows):
        name = row[cols["file"]].strip()
        if not name:
            raise DataError(f"{csv_path}: line {table.lines[r]}: empty file_name")
        duplicate_check(seen, name, table, r)
        t_us, t_cn = _ratings(table, r, cols, "us", on_nan), _ratings(table, r, cols, "cn", on_nan)
        path = resolve_image(name, [img_root])
        if path is None:
            missing.append((table.lines[r], name))
            skipped.append((name, "image not found"))
            continue
        paths.append(path)
        us.append(t_us)
        cn.append(t_cn)
        groups.append(bass_stem(name))
        strata.append((row[cols["source"]].strip() or "unknown") if cols["source"] is not None else "all")
        words.append(row[cols["keywords"]].strip() if cols["keywords"] is not None else "")
    if missing and on_missing == "raise":
        raise missing_error(csv_path, missing, [img_root])
    us_arr = np.asarray(us, dtype=np.float32).reshape(-1, 3)
    cn_arr = np.asarray(cn, dtype=np.float32).reshape(-1, 3)
    masked = {"us": int(np.isnan(us_arr[:, :2]).any(1).sum()), "cn": int(np.isnan(cn_arr[:, :2]).any(1).sum())}
    return RatedSet(
        name="bass", root=folder.resolve(), paths=paths, targets=us_arr,
        sources={"valence": SOURCE_HUMAN, "arousal": SOURCE_HUMAN, "dominance": SOURCE_MISSING},
        groups=np.asarray(groups, dtype=str), strata=np.asarray(strata, dtype=str),
        skipped=skipped, second_targets=cn_arr,
        keywords=np.asarray(words, dtype=str) if cols["keywords"] is not None else None,
        info={"csv": str(csv_path), "scale": {"valence": BASS, "arousal": BASS},
              "target_sample": "US (val_mean_us, aro_mean_us)",
              "second_sample": "Chinese (val_mean_ch, aro_mean_ch)",
              "group_by": "image stem (file name minus extension and trailing digits)",
              "strata_by": "source" if cols["source"] is not None else "none",
              "masked": masked},
    )


__all__ = ["BASS_CSV", "SECOND_COLUMNS", "TARGET_COLUMNS", "bass_stem", "load_bass"]
