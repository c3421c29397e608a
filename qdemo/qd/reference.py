"""Reference coverage: real photos scored by the searcher, and the cells they occupy.

The explorer should exceed the coverage of real photographs: if a few hundred photos
already fill the cells an archive reaches, the search has not added anything. Their
cells are :meth:`qdemo.measure_space.MeasureSpace.coverage`; ``reference.csv`` in a run folder
is written by :func:`qdemo.runfolder.writer.write_reference`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from qdemo.errors import DataError, QdemoError
from qdemo.io import list_images, open_rgb
from qdemo.qd.config import DatasetConfig


@dataclass
class Reference:
    """Scored reference photos."""

    paths: list[Path]
    vad: np.ndarray
    """(N, 3) searcher mean VAD."""
    vad_sd: np.ndarray
    """(N, 3) ensemble spread."""
    skipped: list[str]
    """Files that could not be read (name + reason)."""
    human: Optional[np.ndarray] = None
    """(N, 3) human ratings on the canonical scale (NaN where not rated), for rated sets."""
    dist: Optional[np.ndarray] = None
    """(N, 7) searcher emotion distribution (scorers of an emotions grid only)."""
    images: Optional[torch.Tensor] = None
    """(N, 3, r, r) the photos as scored (for the diversity figure, qdemo.qd.showcase)."""


def reference_images(cfg: DatasetConfig, *, seed: int) -> list[Path]:
    """The (seeded subset of) photos named by the dataset config (see :func:`reference_set`)."""
    return reference_set(cfg, seed=seed)[0]


def reference_set(cfg: DatasetConfig, *, seed: int) -> tuple[list[Path], Optional[np.ndarray]]:
    """The (seeded subset of) photos named by the dataset config, and their human VAD ratings.

    Rated sets ('oasis', 'emotion6', 'csv', or 'auto' recognising them, BASS too) are read with
    :func:`qdemo.emotion.load_dataset` (ratings on the canonical scale, NaN where not
    rated); 'folder' (or 'auto' on any other folder) takes every image under ``path``.
    """
    if cfg.path is None:
        return [], None
    root = Path(cfg.path).expanduser()
    if not root.exists():
        raise DataError(f"--dataset {root}: not found")
    fmt = cfg.format
    if fmt == "auto":
        from qdemo.emotion.datasets import is_rated_set

        fmt = "rated" if is_rated_set(root) else "folder"
    ratings: Optional[np.ndarray] = None
    if fmt == "folder":
        if not root.is_dir():
            raise DataError(f"--dataset {root}: format 'folder' needs a directory of images")
        files = list_images(root)
    else:
        from qdemo.emotion.datasets import load_dataset

        rs = load_dataset(root, "auto" if fmt == "rated" else fmt, on_missing="skip")
        files, ratings = list(rs.paths), np.asarray(rs.targets, dtype=np.float64)
    if not files:
        raise DataError(f"--dataset {root}: no image files found")
    if len(files) > cfg.max_images:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(files), size=cfg.max_images, replace=False))
        files = [files[i] for i in keep]
        ratings = ratings[keep] if ratings is not None else None
    return files, ratings


def score_reference(files: list[Path], scorer, *, resolution: int, batch: int = 32,
                    progress: bool = False, ratings: Optional[np.ndarray] = None) -> Reference:
    """Score photos (squashed to ``resolution`` squares, as the models resize) with ``scorer``."""
    from tqdm import tqdm

    vads, sds, dists, kept, skipped, images = [], [], [], [], [], []
    buf: list[torch.Tensor] = []
    bufp: list[Path] = []
    slots = scorer.space.is_slots  # an emotions grid places photos by their emotion distribution

    def flush() -> None:
        if not buf:
            return
        _, v, s, *d = scorer.score_images(torch.stack(buf), with_distribution=slots)
        vads.append(v)
        sds.append(s)
        dists.extend(d)
        kept.extend(bufp)
        images.append(torch.stack(buf))
        buf.clear()
        bufp.clear()

    rated = {p: ratings[i] for i, p in enumerate(files)} if ratings is not None else None
    for p in tqdm(files, desc="reference photos", disable=not progress, leave=False):
        try:
            im = open_rgb(p).resize((resolution, resolution), Image.BICUBIC)
        except DataError as exc:
            skipped.append(str(exc))
            warnings.warn(f"skipping reference photo: {exc}", stacklevel=2)
            continue
        arr = np.asarray(im, dtype=np.uint8)
        buf.append(torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0)  # (3, r, r)
        bufp.append(p)
        if len(buf) >= batch:
            flush()
    flush()
    if not kept:
        raise QdemoError("no reference photo could be read: " + "; ".join(skipped[:3]))
    human = np.stack([rated[p] for p in kept]) if rated is not None else None
    return Reference(kept, np.concatenate(vads), np.concatenate(sds), skipped, human,
                     dist=np.concatenate(dists) if dists else None, images=torch.cat(images))
