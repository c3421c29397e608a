"""OASIS (Kurdi, Lozano & Banaji 2017): ``OASIS.csv`` + ``images/``, valence and arousal 1-7."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from qdemo.emotion.datasets.cells import (
    check_on_missing, check_range, duplicate_check, find_column, missing_error, parse_number, resolve_image,
)
from qdemo.emotion.datasets.ratedset import SOURCE_HUMAN, SOURCE_MISSING, RatedSet
from qdemo.emotion.scale import OASIS, to_canonical
from qdemo.errors import DataError
from qdemo.tables import read_table


def oasis_theme(name: str) -> str:
    """OASIS group of an image: the theme minus its trailing number ('War 2 ' -> 'War')."""
    return re.sub(r"\s*\d+$", "", name.strip()).strip()


def load_oasis(root: str | Path, *, on_missing: str = "raise") -> RatedSet:
    """Load OASIS (Kurdi et al. 2017) from ``root`` (holding ``OASIS.csv`` and ``images/``).

    Valence and arousal (1–7) are human ratings; dominance is missing (see
    :mod:`qdemo.emotion.proxies`). Groups are themes ('Car crash'), strata the Category.
    """
    check_on_missing(on_missing)
    root = Path(root)
    csv_path = root / "OASIS.csv" if root.is_dir() else root
    if root.is_file():
        root = root.parent
    if not csv_path.exists():
        raise DataError(f"{root}: no OASIS.csv here (expected the OASIS folder with OASIS.csv and images/)")
    img_root = root / "images"
    table = read_table(csv_path, strip=False)
    c_theme = find_column(table, ["Theme"], role="theme")
    c_cat = find_column(table, ["Category"], role="category")
    c_val = find_column(table, ["Valence_mean"], role="valence")
    c_aro = find_column(table, ["Arousal_mean"], role="arousal")
    if not table.rows:
        raise DataError(f"{csv_path}: no data rows (only a header)")
    paths, targets, groups, strata, missing, skipped = [], [], [], [], [], []
    seen: dict[str, int] = {}
    for r, row in enumerate(table.rows):
        theme = row[c_theme]
        if not theme.strip():
            raise DataError(f"{csv_path}: line {table.lines[r]}: empty Theme")
        key = theme.strip()
        duplicate_check(seen, key, table, r)
        v = parse_number(table, r, c_val, "valence", allow_nan=False)
        a = parse_number(table, r, c_aro, "arousal", allow_nan=False)
        check_range(table, r, c_val, v, OASIS, "valence")
        check_range(table, r, c_aro, a, OASIS, "arousal")
        path = resolve_image(key + ".jpg", [img_root]) or resolve_image(key, [img_root])
        if path is None:
            missing.append((table.lines[r], key + ".jpg"))
            skipped.append((key + ".jpg", "image not found"))
            continue
        paths.append(path)
        targets.append([v, a, math.nan])
        groups.append(oasis_theme(theme))
        strata.append(row[c_cat].strip() or "unknown")
    if missing and on_missing == "raise":
        raise missing_error(csv_path, missing, [img_root])
    t = np.asarray(targets, dtype=np.float64).reshape(-1, 3)
    t[:, :2] = to_canonical(t[:, :2], *OASIS)
    return RatedSet(
        name="oasis", root=root.resolve(), paths=paths, targets=t.astype(np.float32),
        sources={"valence": SOURCE_HUMAN, "arousal": SOURCE_HUMAN, "dominance": SOURCE_MISSING},
        groups=np.asarray(groups, dtype=str), strata=np.asarray(strata, dtype=str),
        skipped=skipped, info={"csv": str(csv_path), "scale": {"valence": OASIS, "arousal": OASIS},
                               "group_by": "theme (name minus trailing number)",
                               "strata_by": "Category"},
    )


__all__ = ["load_oasis", "oasis_theme"]
