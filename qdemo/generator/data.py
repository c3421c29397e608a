"""Real photos for the discriminator, preloaded once into a uint8 tensor file (a cache).

Decoding ~3k JPEGs takes tens of seconds; training reads thousands of batches. So the
photos are centre-cropped to a square, resized to the training resolution and stored as
``(N, 3, R, R)`` uint8 in ``cache_dir`` (outside the repository), keyed by the list of
files (path, size, mtime) and the resolution. The searcher's VAD for every photo (the
condition the projection discriminator sees with it) is cached the same way, keyed by a
hash of the searcher's weights.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from qdemo.errors import DataError
from qdemo.io import atomic_path, list_images, open_rgb


def square_resize(im: Image.Image, size: int) -> Image.Image:
    """Centre-crop a PIL image to a square and resize it to ``size`` (bicubic, antialiased)."""
    w, h = im.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return im.crop((left, top, left + s, top + s)).resize((size, size), Image.BICUBIC, reducing_gap=3.0)


def collect_photos(sources: Sequence[str | os.PathLike]) -> list[Path]:
    """Image files in the given folders (recursively) or given directly, sorted, de-duplicated."""
    files: list[Path] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            files.extend(list_images(p))
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"{p}: photo folder or file not found")
    files = sorted(set(files))
    if not files:
        raise DataError(f"no images found in {', '.join(map(str, sources))}")
    return files


def _listing_key(files: Sequence[Path], resolution: int) -> str:
    h = hashlib.sha256(f"r{resolution}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{int(st.st_mtime)}\n".encode())
    return h.hexdigest()[:16]


def load_photo_tensor(
    sources: Sequence[str | os.PathLike], resolution: int, *, cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> tuple[torch.Tensor, list[str]]:
    """Return ``(images (N, 3, R, R) uint8, paths)``, from the cache when it is current.

    A corrupt or non-image file raises :class:`DataError` naming it.
    """
    files = collect_photos(sources)
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"photos_{resolution}px_{_listing_key(files, resolution)}.pt"
        if cache_file.exists():
            try:
                data = torch.load(cache_file, weights_only=True)
                return data["images"], list(data["paths"])
            except Exception:  # damaged cache: rebuild it
                pass
    arr = np.empty((len(files), resolution, resolution, 3), dtype=np.uint8)
    for i, f in enumerate(tqdm(files, desc=f"photos -> {resolution}px", unit="img", disable=not progress, leave=False)):
        arr[i] = np.asarray(square_resize(open_rgb(f), resolution), dtype=np.uint8)
    images = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()  # (N, 3, R, R) uint8
    paths = [str(f) for f in files]
    if cache_file is not None:
        with atomic_path(cache_file) as tmp:
            torch.save({"images": images, "paths": paths}, tmp)
    return images, paths


def model_key(model: torch.nn.Module) -> str:
    """A short hash of a model's parameters and buffers (identifies it in cache names)."""
    h = hashlib.sha256(type(model).__name__.encode())
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def score_photos(
    images: torch.Tensor, model: torch.nn.Module, *, batch_size: int = 64, cache_dir: str | os.PathLike | None = None,
    tag: str = "", progress: bool = True, what: str = "vad",
) -> torch.Tensor:
    """VAD ``(N, 3)`` (``what="vad"``) or features ``(N, F)`` (``what="features"``) of uint8 photos.

    Cached under ``cache_dir`` by model hash, the photos' own bytes, ``tag`` and count (two photo
    sets of one size never share an entry).
    """
    cache_file = None
    if cache_dir is not None:
        content = hashlib.sha256(images.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]
        key = hashlib.sha256(f"{model_key(model)}|{content}|{tag}|{len(images)}|{what}".encode()).hexdigest()[:16]
        cache_file = Path(cache_dir) / f"{what}_{key}.pt"
        if cache_file.exists():
            try:
                return torch.load(cache_file, weights_only=True)["values"]
            except Exception:
                pass
    device = next(model.parameters()).device
    out = []
    for i in tqdm(range(0, len(images), batch_size), desc=f"scoring photos ({what})", disable=not progress, leave=False):
        x = images[i:i + batch_size].to(device).float().div(255.0)  # (b, 3, R, R)
        y = model(x) if what == "vad" else model.features(x)
        out.append(y.float().cpu())
    values = torch.cat(out)
    if cache_file is not None:
        with atomic_path(cache_file) as tmp:
            torch.save({"values": values}, tmp)
    return values
