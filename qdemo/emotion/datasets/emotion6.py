"""Cornell Emotion6 (Peng et al. 2015): ``ground_truth.txt`` + ``images/<emotion>/``, 1-9,
with the 7-way emotion distribution."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from qdemo.emotion.datasets.cells import (
    check_on_missing, check_range, duplicate_check, find_column, missing_error, norm_header, parse_number,
    resolve_image,
)
from qdemo.emotion.datasets.ratedset import EMOTIONS, SOURCE_HUMAN, SOURCE_MISSING, RatedSet
from qdemo.emotion.scale import EMOTION6, to_canonical
from qdemo.errors import DataError
from qdemo.tables import Table, read_table


def _emotion_columns(table: Table) -> list[int]:
    """Column of the probability of each of :data:`EMOTIONS`, in that order."""
    normed = [norm_header(h) for h in table.header]
    out = []
    for emo in EMOTIONS:
        hits = [i for i, h in enumerate(normed) if re.search(rf"(^|_){emo}($|_)", h)]
        if not hits:
            raise DataError(f"{table.path}: missing column for the probability of {emo!r} "
                            f"(found: {', '.join(repr(h) for h in table.header)})")
        out.append(hits[0])
    return out


def _distribution(table: Table, r: int, c_emo: list[int]) -> np.ndarray:
    """(7,) the emotion distribution of row ``r``, checked and renormalised."""
    p = np.array([parse_number(table, r, c, f"probability of {e}", allow_nan=False)
                  for c, e in zip(c_emo, EMOTIONS)])
    if (p < -1e-6).any() or (p > 1 + 1e-6).any() or abs(p.sum() - 1.0) > 0.02:
        raise DataError(f"{table.path}: line {table.lines[r]}: emotion distribution {p.round(3).tolist()} "
                        f"is not a probability distribution (sum {p.sum():.3f})")
    p = np.clip(p, 0, None)
    return p / p.sum()


def load_emotion6(root: str | Path, *, on_missing: str = "raise") -> RatedSet:
    """Load Cornell Emotion6 (Peng et al. 2015) from ``root`` (``ground_truth.txt``, ``images/``).

    Valence and arousal (1–9) are human ratings, plus the 7-way emotion distribution.
    Groups are the image paths (no two images share a scene), strata the folder.
    """
    check_on_missing(on_missing)
    root = Path(root)
    gt = root / "ground_truth.txt" if root.is_dir() else root
    if root.is_file():
        root = root.parent
    if not gt.exists():
        raise DataError(f"{root}: no ground_truth.txt here (expected the Emotion6 folder)")
    img_root = root / "images"
    table = read_table(gt, strip=False)
    c_file = find_column(table, ["image_filename", "filename", "image", "file"], role="file")
    c_val = find_column(table, ["valence"], role="valence")
    c_aro = find_column(table, ["arousal"], role="arousal")
    c_emo = _emotion_columns(table)
    if not table.rows:
        raise DataError(f"{gt}: no data rows (only a header)")
    paths, targets, dists, groups, strata, missing, skipped = [], [], [], [], [], [], []
    seen: dict[str, int] = {}
    for r, row in enumerate(table.rows):
        rel = row[c_file].strip().replace("\\", "/")
        if not rel:
            raise DataError(f"{gt}: line {table.lines[r]}: empty image file name")
        duplicate_check(seen, rel, table, r)
        v = parse_number(table, r, c_val, "valence", allow_nan=False)
        a = parse_number(table, r, c_aro, "arousal", allow_nan=False)
        check_range(table, r, c_val, v, EMOTION6, "valence")
        check_range(table, r, c_aro, a, EMOTION6, "arousal")
        p = _distribution(table, r, c_emo)
        path = resolve_image(rel, [img_root])
        if path is None:
            missing.append((table.lines[r], rel))
            skipped.append((rel, "image not found"))
            continue
        paths.append(path)
        targets.append([v, a, math.nan])
        dists.append(p)
        groups.append(rel)
        strata.append(rel.split("/")[0] if "/" in rel else "unknown")
    if missing and on_missing == "raise":
        raise missing_error(gt, missing, [img_root])
    t = np.asarray(targets, dtype=np.float64).reshape(-1, 3)
    t[:, :2] = to_canonical(t[:, :2], *EMOTION6)
    return RatedSet(
        name="emotion6", root=root.resolve(), paths=paths, targets=t.astype(np.float32),
        sources={"valence": SOURCE_HUMAN, "arousal": SOURCE_HUMAN, "dominance": SOURCE_MISSING},
        groups=np.asarray(groups, dtype=str), strata=np.asarray(strata, dtype=str),
        emotion_dist=np.asarray(dists, dtype=np.float32).reshape(-1, len(EMOTIONS)),
        skipped=skipped, info={"csv": str(gt), "scale": {"valence": EMOTION6, "arousal": EMOTION6},
                               "group_by": "image", "strata_by": "folder"},
    )


__all__ = ["load_emotion6"]
