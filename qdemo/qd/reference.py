"""Reference coverage: real photos scored by the searcher, and the cells they occupy.

The explorer should exceed the coverage of real photographs: if a few hundred photos
already fill the cells an archive reaches, the search has not added anything.
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from qdemo.errors import DataError, QdemoError
from qdemo.io import atomic_path, atomic_write_text, list_images, open_rgb
from qdemo.qd.archive import coverage_of_points
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


def reference_images(cfg: DatasetConfig, *, seed: int) -> list[Path]:
    """The (seeded subset of) image files named by the dataset config."""
    if cfg.path is None:
        return []
    root = Path(cfg.path).expanduser()
    if not root.is_dir():
        raise DataError(f"--dataset {root}: not a directory")
    fmt = cfg.format
    if fmt == "auto":
        if (root / "OASIS.csv").exists():
            fmt = "oasis"
        elif (root / "ground_truth.txt").exists():
            fmt = "emotion6"
        else:
            fmt = "folder"
    if fmt in ("oasis", "emotion6"):
        folder = root / "images"
        if not folder.is_dir():
            raise DataError(f"--dataset {root}: {fmt} layout expected an images/ folder")
        files = list_images(folder)
    else:
        files = list_images(root)
    if not files:
        raise DataError(f"--dataset {root}: no image files found")
    if len(files) > cfg.max_images:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(files), size=cfg.max_images, replace=False))
        files = [files[i] for i in keep]
    return files


def score_reference(files: list[Path], scorer, *, resolution: int, batch: int = 32,
                    progress: bool = False) -> Reference:
    """Score photos (squashed to ``resolution`` squares, as the models resize) with ``scorer``."""
    from tqdm import tqdm

    vads, sds, kept, skipped = [], [], [], []
    buf: list[torch.Tensor] = []
    bufp: list[Path] = []

    def flush() -> None:
        if not buf:
            return
        _, v, s = scorer.score_images(torch.stack(buf))
        vads.append(v)
        sds.append(s)
        kept.extend(bufp)
        buf.clear()
        bufp.clear()

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
    return Reference(kept, np.concatenate(vads), np.concatenate(sds), skipped)


def write_reference(run_dir: Path, ref: Reference, archive, *, measure_dim: int,
                    thumbnails: bool = True) -> float:
    """Write reference.csv (+ thumbnails) and return the fraction of cells the photos occupy."""
    idx, cov = coverage_of_points(archive, ref.vad[:, :measure_dim])
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["source", "image", "index", "valence", "arousal", "dominance",
                "valence_sd", "arousal_sd", "dominance_sd"])
    for i, p in enumerate(ref.paths):
        rel = ""
        if thumbnails:
            rel = f"reference/{i:04d}.jpg"
            im = open_rgb(p)
            im.thumbnail((128, 128))
            with atomic_path(run_dir / rel) as tmp:
                im.save(tmp, format="JPEG", quality=85)
        w.writerow([str(p), rel, int(idx[i]), *[f"{x:.6f}" for x in ref.vad[i]],
                    *[f"{x:.6f}" for x in ref.vad_sd[i]]])
    atomic_write_text(run_dir / "reference.csv", out.getvalue())
    return cov

