"""Image sets for normalisation: which files, which emotion group, at which size.

A :class:`ImageSet` is a list of image files with a group per file (the Emotion6
folder, an OASIS category, a sub-folder) and, where the set is rated, VAD targets on
the canonical [-1, 1] scale. SHINE needs all images at one size; :func:`load_fixed`
brings each image there (centre-crop + resize, or stretch) or, with ``size=None``,
insists they already share one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from qdemo.errors import DataError
from qdemo.io import list_images, open_rgb


@dataclass
class ImageSet:
    """Images to normalise, with their emotion group."""

    root: Path
    """Folder the set was read from (outputs mirror paths relative to it)."""
    paths: list[Path]
    """(N,) image files."""
    groups: list[str]
    """(N,) emotion group per image (Emotion6 folder, OASIS category, sub-folder or 'all')."""
    targets: np.ndarray | None = None
    """(N, 3) human VAD on [-1, 1] (NaN where not rated), or None for an unrated folder."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(file, reason) for every file that was left out."""
    name: str = "images"
    """Short name for reports."""

    def __len__(self) -> int:
        return len(self.paths)

    def rel(self, i: int) -> Path:
        """Path of image ``i`` relative to :attr:`root` (or its name when outside it)."""
        try:
            return self.paths[i].resolve().relative_to(self.root.resolve())
        except ValueError:
            return Path(self.paths[i].name)

    def subset(self, idx: Sequence[int]) -> "ImageSet":
        idx = list(idx)
        return ImageSet(
            root=self.root, paths=[self.paths[i] for i in idx], groups=[self.groups[i] for i in idx],
            targets=None if self.targets is None else self.targets[idx], skipped=list(self.skipped),
            name=self.name,
        )


def collect(data: str | Path, fmt: str = "auto") -> ImageSet:
    """Read the image list of ``data`` (a rated set via qdemo.emotion's loaders, or a folder)."""
    data = Path(data)
    if not data.exists():
        raise DataError(f"{data}: not found")
    if fmt == "auto":  # a rated set qdemo.emotion recognises (OASIS, Emotion6, BASS, a table), else images
        from qdemo.emotion.datasets.dispatch import detect_format, is_rated_set

        table = data.is_file() and data.suffix.lower() in (".csv", ".tsv", ".txt")
        fmt = detect_format(data) if (data.is_dir() and is_rated_set(data)) or table else "folder"
    if fmt == "folder":
        if not data.is_dir():
            raise DataError(f"{data}: --format folder needs a directory of images")
        paths = list_images(data)
        if not paths:
            raise DataError(f"{data}: no image files found (looked for .jpg .png .bmp .gif .tif .webp)")
        groups = [p.relative_to(data).parts[0] if len(p.relative_to(data).parts) > 1 else "all" for p in paths]
        return ImageSet(root=data, paths=paths, groups=groups, name=data.name or "images")
    from qdemo.emotion.datasets import load_dataset  # lazy: the emotion layer is below us

    rated = load_dataset(data, fmt, on_missing="skip")
    if len(rated.paths) == 0:
        raise DataError(f"{data}: the {fmt} set lists no usable images")
    root = Path(rated.root)
    if (root / "images").is_dir() and all(_inside(p, root / "images") for p in rated.paths):
        root = root / "images"
    return ImageSet(
        root=root, paths=[Path(p) for p in rated.paths], groups=[str(s) for s in rated.strata],
        targets=np.asarray(rated.targets, dtype=np.float32), skipped=list(rated.skipped), name=rated.name,
    )


def _inside(p: Path, root: Path) -> bool:
    try:
        Path(p).resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def choose_subset(images: ImageSet, limit: int | None, seed: int) -> ImageSet:
    """A seeded subset of at most ``limit`` images, as balanced over groups as possible."""
    if limit is None or limit >= len(images):
        return images
    if limit < 1:
        raise DataError(f"data.limit={limit}: must be at least 1")
    rng = np.random.default_rng(seed)
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(images.groups):
        by_group.setdefault(g, []).append(i)
    for g in by_group:
        rng.shuffle(by_group[g])
    chosen: list[int] = []
    while len(chosen) < limit:  # round-robin over groups
        progressed = False
        for g in sorted(by_group):
            if by_group[g] and len(chosen) < limit:
                chosen.append(by_group[g].pop())
                progressed = True
        if not progressed:
            break
    return images.subset(sorted(chosen))


def split_train_test(images: ImageSet, test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of a seeded train/test split, stratified by group (each group on both sides)."""
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"train.test_fraction={test_fraction}: must be between 0 and 1")
    return _stratified_split(images, range(len(images.groups)), test_fraction, np.random.default_rng(seed + 1))


def split_validation(images: ImageSet, train: Sequence[int], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Carve a seeded validation share (stratified by group) out of the training indices
    ``train``: -> (train without validation, validation). ``val_fraction`` 0 -> no validation."""
    if val_fraction == 0:
        return sorted(train), []
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"train.val_fraction={val_fraction}: must be 0 (none) or between 0 and 1")
    return _stratified_split(images, sorted(train), val_fraction, np.random.default_rng(seed + 2))


def _stratified_split(images: ImageSet, indices: Sequence[int], fraction: float,
                      rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Split ``indices`` into (kept, taken): ``fraction`` of each group's images (rounded; none
    from a group of one) are taken, chosen by shuffling with ``rng`` group by group in name order."""
    kept, taken = [], []
    by_group: dict[str, list[int]] = {}
    for i in indices:
        by_group.setdefault(images.groups[i], []).append(i)
    for g in sorted(by_group):
        idx = np.array(by_group[g])
        rng.shuffle(idx)
        n = int(round(len(idx) * fraction)) if len(idx) > 1 else 0
        taken.extend(idx[:n].tolist())
        kept.extend(idx[n:].tolist())
    return sorted(kept), sorted(taken)


def fit_image(im: Image.Image, size: int | None, fit: str) -> Image.Image:
    """Bring a PIL RGB image to ``size`` x ``size`` (``fit``: crop or stretch); None keeps it."""
    if size is None:
        return im
    if fit == "crop":
        w, h = im.size
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s))
    elif fit != "stretch":
        raise DataError(f"fit={fit!r}: use 'crop' or 'stretch'")
    if im.size != (size, size):
        im = im.resize((size, size), Image.BICUBIC)
    return im


def load_fixed(path: str | Path, size: int | None, fit: str = "crop") -> np.ndarray:
    """Load ``path`` as uint8 ``(H, W, 3)`` at the working size (DataError names bad files)."""
    return np.asarray(fit_image(open_rgb(path), size, fit), dtype=np.uint8).copy()


def check_same_size(arrays: Sequence[np.ndarray], paths: Sequence[Path | str]) -> None:
    """Raise DataError naming the files whose size differs from the first image's."""
    if not arrays:
        return
    ref = arrays[0].shape[:2]
    bad = [(str(p), a.shape[:2]) for a, p in zip(arrays, paths) if a.shape[:2] != ref]
    if bad:
        listed = "; ".join(f"{p} is {s[1]}x{s[0]}" for p, s in bad[:5])
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise DataError(
            f"images differ in size: {paths[0]} is {ref[1]}x{ref[0]} but {listed}{more}. "
            f"SHINE needs one size: set data.size (e.g. --size 128) to resize them all"
        )


def load_batch(paths: Sequence[Path | str], size: int | None, fit: str, on_error: str = "raise"
               ) -> tuple[list[np.ndarray], list[int], list[tuple[str, str]]]:
    """Load many images; returns (arrays, indices that loaded, skipped (file, reason))."""
    arrays, ok, skipped = [], [], []
    for i, p in enumerate(paths):
        try:
            arrays.append(load_fixed(p, size, fit))
            ok.append(i)
        except DataError as exc:
            if on_error == "raise":
                raise
            skipped.append((str(p), str(exc)))
    return arrays, ok, skipped


def to_tensor(arrays: Sequence[np.ndarray]):
    """uint8 ``(H, W, 3)`` arrays -> float tensor ``(B, 3, H, W)`` in [0, 1]."""
    import torch

    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255.0)  # (B, 3, H, W)
    return x.contiguous()


def group_indices(groups: Sequence[str]) -> dict[str, list[int]]:
    """Group name -> indices, sorted by name."""
    out: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        out.setdefault(g, []).append(i)
    return dict(sorted(out.items()))


def tertile_labels(values: np.ndarray, name: str) -> list[str]:
    """Label each value low / mid / high by the tertiles of the finite values."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size < 3:
        raise DataError(f"{name} tertiles: need at least 3 rated images, have {finite.size}")
    lo, hi = np.quantile(finite, [1 / 3, 2 / 3])
    labels = []
    for v in values:
        if not math.isfinite(v):
            labels.append(f"{name}-unrated")
        elif v <= lo:
            labels.append(f"{name}-low")
        elif v <= hi:
            labels.append(f"{name}-mid")
        else:
            labels.append(f"{name}-high")
    return labels
