"""``qdemo regressor predict``: score image files, one CSV row per image.

The CSV has the same columns whatever happened (:data:`PREDICT_COLUMNS`): ``path``, the
canonical ``valence, arousal, dominance``, their ensemble ``*_sd`` (empty for a single-member
model) and ``error`` (empty when the file was scored). Files that could not be read (with
``--on-error skip``) follow the scored ones, with empty numbers and the reason in ``error``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

from qdemo import DIMS
from qdemo.errors import DataError
from qdemo.tables import table_text

PREDICT_COLUMNS = ("path", *DIMS, *(f"{d}_sd" for d in DIMS), "error")
"""Columns of the predict CSV, for scored and unreadable files alike."""


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given; folders expanded to the images under them (sorted)."""
    from qdemo.io import list_images

    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = list_images(p)
            if not found:
                raise DataError(f"{p}: folder holds no image files")
            out.extend(found)
        else:
            out.append(p)  # missing files are reported (named) when they are read
    return out


def predict_files(model, paths: list[Path], *, batch_size: int = 32, on_error: str = "skip",
                  progress: bool = True) -> tuple[list[dict], list[tuple[str, str]]]:
    """Score ``paths`` with ``model``. Returns (rows, skipped (path, reason)).

    Each row: path, valence, arousal, dominance (canonical [-1, 1]) and, for an ensemble,
    valence_sd, arousal_sd, dominance_sd. ``on_error='raise'`` stops at the first bad file
    (DataError naming it); ``'skip'`` leaves it out and lists it in ``skipped``.
    """
    import torch
    from tqdm import tqdm

    from qdemo.emotion.views import resize_square
    from qdemo.io import load_image

    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    members = int(getattr(getattr(model, "spec", None), "members", 1) or 1)
    rows: list[dict] = []
    skipped: list[tuple[str, str]] = []
    batch: list[tuple[Path, torch.Tensor]] = []

    def flush() -> None:
        if not batch:
            return
        x = torch.stack([t for _, t in batch]).to(next(model.parameters()).device)
        with torch.no_grad():
            pr = model.predict(x)
        mean, sd = pr.mean.cpu().numpy(), pr.sd.cpu().numpy()
        for (p, _), m, s in zip(batch, mean, sd):
            row = {"path": str(p), **{d: float(m[j]) for j, d in enumerate(DIMS)}}
            if members > 1:
                row.update({f"{d}_sd": float(s[j]) for j, d in enumerate(DIMS)})
            rows.append(row)
        batch.clear()

    for p in tqdm(paths, desc="predict", unit="img", disable=not progress):
        try:
            img = load_image(p)
        except DataError as exc:
            if on_error == "raise":
                raise
            skipped.append((str(p), str(exc).split(": ", 1)[-1]))
            continue
        batch.append((p, resize_square(img, model.resolution)))
        if len(batch) >= batch_size:
            flush()
    flush()
    return rows, skipped


def rows_to_csv(rows: list[dict], skipped: Iterable[tuple[str, str]] = ()) -> str:
    """CSV text with :data:`PREDICT_COLUMNS` (6 decimals): scored rows, then the ``skipped``
    (path, reason) files with empty numbers and the reason in ``error``."""
    scored = [{k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
    return table_text(PREDICT_COLUMNS, [*scored, *({"path": path, "error": why} for path, why in skipped)])


def summarise(rows: list[dict]) -> str:
    if not rows:
        return "no images scored"
    arr = np.array([[r[d] for d in DIMS] for r in rows])
    return f"{len(rows)} images; mean " + ", ".join(f"{d} {arr[:, j].mean():+.3f}" for j, d in enumerate(DIMS))


__all__ = ["PREDICT_COLUMNS", "expand_paths", "predict_files", "rows_to_csv"]
