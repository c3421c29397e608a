"""The images of a rated set: checking that each opens, and loading them as one array."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from qdemo.emotion.datasets.ratedset import RatedSet
from qdemo.errors import DataError
from qdemo.io import open_rgb


def verify_images(rated_set: RatedSet, *, on_error: str = "raise", progress: bool | None = None) -> RatedSet:
    """Open every image once (via :func:`qdemo.io.open_rgb`) and report unusable ones.

    ``on_error="raise"`` raises one :class:`DataError` listing the bad files (corrupt,
    non-image, unreadable); ``"skip"`` returns the set without them, each recorded in
    ``skipped`` with its reason. Grayscale, CMYK and alpha images are fine (converted).
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    from tqdm.auto import tqdm

    if progress is None:
        progress = len(rated_set) >= 200
    bad: list[tuple[int, str]] = []
    for i, p in enumerate(tqdm(rated_set.paths, desc=f"checking {rated_set.name} images",
                               disable=not progress, unit="img")):
        try:
            open_rgb(p)
        except DataError as exc:
            bad.append((i, str(exc)))
    if not bad:
        return rated_set
    if on_error == "raise":
        show = "; ".join(msg for _, msg in bad[:5])
        more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise DataError(f"{rated_set.name}: {len(bad)} of {len(rated_set)} images unusable: {show}{more} "
                        f"(use on_error='skip' / --on-bad-image skip to leave them out)")
    keep = np.ones(len(rated_set), dtype=bool)
    keep[[i for i, _ in bad]] = False
    out = rated_set.subset(keep)
    out.skipped = list(rated_set.skipped) + [
        (str(rated_set.paths[i]), msg.split(": ", 1)[-1] if msg.startswith(str(rated_set.paths[i])) else msg)
        for i, msg in bad]
    return out


def _square(im, size: int, fit: str):
    """A PIL image resized to ``size`` x ``size``: squashed (``resize``) or ``center_crop``."""
    from PIL import Image

    if fit == "center_crop":
        w, h = im.size
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BICUBIC)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        return im.crop((left, top, left + size, top + size))
    return im.resize((size, size), Image.BICUBIC)


def load_image_array(paths: Sequence[str | Path], size: int, *, fit: str = "resize",
                     cache_dir: str | Path | None = None, progress: bool | None = None) -> np.ndarray:
    """All images as one uint8 array ``(N, 3, size, size)`` (for training and frozen features).

    ``fit="resize"`` squashes the whole image to a square (what
    :meth:`EmotionModel.prepare` does to any input); ``"center_crop"`` resizes the short
    side to ``size`` and crops the centre. Images go through :func:`qdemo.io.open_rgb`
    (grayscale, CMYK, alpha handled; a corrupt file raises :class:`DataError` naming it).
    With ``cache_dir`` the array is saved as ``.npy`` keyed by the paths, their sizes and
    modification times, so a second call loads it (atomic write).
    """
    import hashlib

    from tqdm.auto import tqdm

    if fit not in ("resize", "center_crop"):
        raise ValueError(f"fit must be 'resize' or 'center_crop', got {fit!r}")
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    cache = None
    if cache_dir is not None:
        from qdemo.io import hash_files_state

        h = hashlib.sha256(f"{size}|{fit}".encode())
        hash_files_state(h, paths)
        cache = Path(cache_dir).expanduser() / f"images-{size}-{fit}-{h.hexdigest()[:16]}.npy"
        if cache.exists():
            arr = np.load(cache)
            if arr.shape == (len(paths), 3, size, size) and arr.dtype == np.uint8:
                return arr
    out = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    if progress is None:
        progress = len(paths) >= 200
    for i, p in enumerate(tqdm(paths, desc=f"loading images at {size}px", unit="img", disable=not progress)):
        out[i] = np.asarray(_square(open_rgb(p), size, fit), dtype=np.uint8).transpose(2, 0, 1)  # (3, size, size)
    if cache is not None:
        from qdemo.io import atomic_path

        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, out)
    return out


__all__ = ["load_image_array", "verify_images"]
