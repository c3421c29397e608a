"""File I/O shared by every layer: atomic writes, hashing, robust image loading.

Writes go to a temporary file in the destination folder and are renamed into place, so
an interrupted run never leaves a half-written file where a good one was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from qdemo.errors import DataError

_UMASK = os.umask(0)
os.umask(_UMASK)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    On error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            # mkstemp creates 0600 files; give the result the usual permissions (umask).
            os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def hash_files_state(h: "hashlib._Hash", paths) -> None:
    """Feed each file's path, size and modification time into hash ``h`` (keys of on-disk caches:
    a file that is replaced or edited changes the key)."""
    for p in paths:
        st = os.stat(p)
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file (model hashes in manifests and model cards)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def open_rgb(path: str | os.PathLike, background: tuple[int, int, int] = (128, 128, 128)) -> Image.Image:
    """Open any still image as 8-bit RGB, or raise :class:`DataError` naming the file.

    Grayscale, palette, 16-bit, CMYK and images with alpha are converted; transparent
    pixels are composited on a neutral grey ``background`` (so transparency does not
    read as black or white to the emotion model).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not an image")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (0 bytes), not an image")
    try:
        with Image.open(path) as im:
            im.load()
            return to_rgb(im, background)
    except UnidentifiedImageError:
        raise DataError(f"{path}: not an image file (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated / corrupt data
        raise DataError(f"{path}: corrupt or unreadable image ({exc})") from None
    except Image.DecompressionBombError as exc:
        raise DataError(f"{path}: image too large ({exc})") from None


def to_rgb(im: Image.Image, background: tuple[int, int, int] = (128, 128, 128)) -> Image.Image:
    """Convert a PIL image of any mode to RGB (alpha composited on ``background``)."""
    if im.mode == "RGB":
        return im.copy()
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        hi = arr.max() if arr.size and arr.max() > 255 else 255.0
        im = Image.fromarray(np.clip(arr / hi * 255.0, 0, 255).astype(np.uint8), "L")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, background + (255,))
        return Image.alpha_composite(bg, im).convert("RGB")
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV, F


def load_image(path: str | os.PathLike, size: int | tuple[int, int] | None = None) -> torch.Tensor:
    """Load an image as a float tensor ``(3, H, W)`` in [0, 1].

    ``size`` (int = square, or (H, W)) resizes with antialiasing; ``None`` keeps it.
    """
    im = open_rgb(path)
    if size is not None:
        h, w = (size, size) if isinstance(size, int) else size
        im = im.resize((w, h), Image.BICUBIC)
    arr = np.asarray(im, dtype=np.uint8)  # (H, W, 3)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)  # (3, H, W)


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """``(3, H, W)`` float in [0, 1] -> PIL RGB."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected (3, H, W), got {tuple(image.shape)}")
    arr = image.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr, "RGB")


def save_png(image: torch.Tensor, path: str | os.PathLike) -> None:
    """Save ``(3, H, W)`` in [0, 1] as PNG, atomically."""
    pil = tensor_to_pil(image)
    with atomic_path(path) as tmp:
        pil.save(tmp, format="PNG")


def list_images(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (sorted), by suffix."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a directory")
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in it if p.is_file() and is_image_path(p))
