"""Apply a trained normaliser to images, folders, archive elites and generator samples.

Inputs may be image files, folders of images (searched recursively; generator samples are
such a folder), or an archive run folder (``archives/<run>/`` with ``manifest.json`` and
``elites/*.png``: its elites are normalised). Outputs mirror the inputs under ``--out``:
``<out>/<input name>/<relative path>.png``, listed in ``<out>/apply.csv`` with the
files that were skipped (and why) in ``<out>/apply.json``.

A generator trained with ``train.condition=group`` normalises a *set*: each image's group is
the folder it sits in (relative to the input; e.g. ``emotion6/anger/``), the between-group
equalisation of the whole set is computed first and given to the generator with each image.
It needs at least two groups, and holds the whole set in memory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from qdemo.errors import DataError
from qdemo.io import atomic_write_json, atomic_write_text, is_image_path, list_images, save_png

from qdemo.normalise.data import load_batch, to_tensor
from qdemo.tables import table_text


def is_archive_run(path: Path) -> bool:
    """An archive run folder written by ``qdemo evolve``."""
    return path.is_dir() and (path / "manifest.json").exists() and (path / "elites").is_dir()


def gather_inputs(paths: Sequence[str | Path]) -> list[tuple[Path, Path]]:
    """Each input file with the output path (relative) it maps to."""
    if not paths:
        raise DataError("no input paths given")
    pairs: list[tuple[Path, Path]] = []
    used: set[str] = set()
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise DataError(f"{p}: not found")
        label = p.stem if p.is_file() else (p.resolve().name or "input")
        base, k = label, 1
        while label in used:
            k += 1
            label = f"{base}-{k}"
        used.add(label)
        if p.is_file():
            if not is_image_path(p):
                raise DataError(f"{p}: not an image file name (expected .png, .jpg, ...)")
            pairs.append((p, Path(p.stem + ".png")))
            continue
        if is_archive_run(p):
            files = sorted(f for f in (p / "elites").glob("*.png") if f.is_file())
            if not files:
                raise DataError(f"{p}: archive run has no elites/*.png yet")
            pairs += [(f, Path(label) / "elites" / f.name) for f in files]
            continue
        files = list_images(p)
        if not files:
            raise DataError(f"{p}: no image files in this folder")
        pairs += [(f, Path(label) / f.relative_to(p).with_suffix(".png")) for f in files]
    return pairs


def group_of(rel: Path) -> str:
    """Group of an input for a group-conditioned generator: its folder under the input."""
    return rel.parent.as_posix()


def _load(pairs: list[tuple[Path, Path]], size: int, fit: str, on_error: str, skipped: list[dict]
          ) -> tuple[list[np.ndarray], list[tuple[Path, Path]]]:
    """(arrays, pairs that loaded); unreadable files raise or are appended to ``skipped``."""
    arrays, ok, bad = load_batch([src for src, _ in pairs], size, fit, on_error)
    skipped += [{"file": f, "reason": r} for f, r in bad]
    return arrays, [pairs[i] for i in ok]


def _proposals(pairs: list[tuple[Path, Path]], size: int, fit: str, on_error: str, skipped: list[dict],
               iterations: int, seed: int) -> tuple[list[tuple[Path, Path]], np.ndarray, np.ndarray]:
    """Load the whole set, group it by folder and equalise it between groups:
    (kept pairs, originals (N, S, S, 3) uint8, proposals (N, S, S, 3) uint8)."""
    from qdemo.normalise.groupwise import equalise_set

    arrays, ok = _load(pairs, size, fit, on_error, skipped)
    groups = [group_of(rel) for _, rel in ok]
    try:
        eq = equalise_set(arrays, groups, iterations, seed)
    except ValueError as exc:
        raise DataError(f"this generator is group-conditioned (train.condition=group) and normalises a set "
                        f"with groups, one sub-folder each (e.g. emotion6/anger/, emotion6/joy/): {exc}") from None
    return ok, np.stack(arrays), np.stack(eq)


def apply_paths(g: torch.nn.Module, paths: Sequence[str | Path], out: str | Path, *, size: int | None = None,
                fit: str = "crop", batch_size: int = 16, on_error: str = "raise",
                progress: bool = True, group_iterations: int = 6, seed: int = 0) -> dict[str, Any]:
    """Normalise every input with generator ``g``; returns a summary (counts, images/s).
    ``group_iterations`` and ``seed``: the between-group equalisation a group-conditioned
    generator starts from (shine.group_iterations, shine.seed)."""
    from tqdm.auto import tqdm

    out = Path(out)
    size = size or g.spec.resolution
    if size % g.multiple:
        raise DataError(f"--size {size}: must be a multiple of {g.multiple} for this generator")
    pairs = gather_inputs(paths)
    dev = next(g.parameters()).device
    rows, skipped = [], []
    t0 = time.perf_counter()
    n_done = 0
    conditioned = bool(getattr(g, "conditioned", False))
    if conditioned:
        pairs, all_x, all_p = _proposals(pairs, size, fit, on_error, skipped, group_iterations, seed)
    bar = tqdm(total=len(pairs), desc="normalise", unit="img", disable=not progress)
    try:
        for i in range(0, len(pairs), batch_size):
            chunk = pairs[i:i + batch_size]
            if conditioned:
                arrays, ok = list(all_x[i:i + batch_size]), chunk
            else:
                arrays, ok = _load(chunk, size, fit, on_error, skipped)
            if arrays:
                x = to_tensor(arrays).to(dev)  # (B, 3, S, S)
                with torch.no_grad():
                    y = (g(x, to_tensor(all_p[i:i + batch_size]).to(dev)) if conditioned else g(x)).cpu()
                for (src, rel), img in zip(ok, y):
                    save_png(img, out / rel)
                    rows.append((str(src), rel.as_posix()))
                n_done += len(arrays)
            bar.update(len(chunk))
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    atomic_write_text(out / "apply.csv", table_text(["source", "output"], rows))
    summary = {"n_images": n_done, "n_skipped": len(skipped), "skipped": skipped, "size": size, "fit": fit,
               "condition": "group" if conditioned else "none",
               "seconds": round(seconds, 3), "images_per_s": n_done / seconds if seconds > 0 else None}
    atomic_write_json(out / "apply.json", summary)
    return summary
