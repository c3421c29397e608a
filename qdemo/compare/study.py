"""``qdemo export-study``: a blinded, shuffled stimulus set with a hidden key.

Sources: the archive's elites (intended VAD = cell centre), generator samples conditioned
on the same cell centres (intended = the requested VAD), and optionally real photos
(intended = human rating where a loader knows it, else empty). Every stimulus is
re-encoded as a plain PNG of the same square size (photos centre-cropped), named
``s0001.png``... in a shuffled order, with no metadata, so neither the name, the size
nor the file says where it came from. ``key.csv`` holds the truth (docs/formats.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from qdemo import DIMS
from qdemo.compare.archive_io import read_archive
from qdemo.errors import QdemoError
from qdemo.tables import table_text

KEY_FIELDS = ["stimulus_id", "source", "intended_valence", "intended_arousal", "intended_dominance",
              "predicted_valence", "predicted_arousal", "predicted_dominance", "origin", "objective"]


def _spread(n_total: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` of ``range(n_total)`` (all when n <= 0 or n >= n_total), sorted."""
    if n <= 0 or n >= n_total:
        return np.arange(n_total)
    return np.sort(rng.choice(n_total, size=n, replace=False))


def _photo_ratings(paths: list[Path]) -> dict[str, tuple[float, float, float]]:
    """Human VAD (canonical scale; NaN where unrated) of photos from a known rated set, else {}.

    Uses the emotion area's loaders (``load_oasis``, ``load_emotion6``, ``load_bass``) on the photo folder
    and its parents; a folder that is not such a set simply yields no ratings.
    """
    try:
        from qdemo.emotion import datasets as ds
    except ImportError:  # pragma: no cover
        return {}
    wanted = {str(p.resolve()) for p in paths}
    roots: set[Path] = set()
    for p in paths:
        roots.update([p.parent, p.parent.parent, p.parent.parent.parent])
    out: dict[str, tuple[float, float, float]] = {}
    for name in ("load_oasis", "load_emotion6", "load_bass"):
        loader = getattr(ds, name, None)
        if loader is None:
            continue
        for root in roots:
            try:
                rated = loader(root)
            except Exception:  # not that dataset here: fine
                continue
            for path, t in zip(rated.paths, np.asarray(rated.targets, dtype=float)):
                key = str(Path(path).resolve())
                if key in wanted:
                    out[key] = (float(t[0]), float(t[1]), float(t[2]))
    return out


def _fit(img, size: int):
    """(3, H, W) in [0, 1] -> (3, size, size) (bicubic, antialiased when shrinking)."""
    import torch.nn.functional as F

    if img.shape[-1] == size and img.shape[-2] == size:
        return img
    return F.interpolate(img[None], size=(size, size), mode="bicubic", align_corners=False,
                         antialias=img.shape[-1] > size)[0].clamp(0, 1)


def _generator_items(generator: str, cells: list, n_generator: int, size: int, seed: int, dev) -> list[dict[str, Any]]:
    """Generator samples conditioned on the chosen cells' centres (cycling through them)."""
    from qdemo.generator.sample import generate
    from qdemo.generator.weights_io import load_generator

    gen = load_generator(None if generator == "shipped" else generator, device=dev)
    n_g = len(cells) if n_generator <= 0 else n_generator
    g_cells = [cells[i % len(cells)] for i in range(n_g)]
    imgs = generate(gen, [c.target for c in g_cells], seed=seed)
    src = "shipped" if generator == "shipped" else str(generator)
    return [{"image": _fit(img, size), "source": "generator", "intended": c.target,
             "origin": f"generator:{src}@cell_{c.index}"} for c, img in zip(g_cells, imgs)]


def _photo_items(photos: str | os.PathLike, n: int, size: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """``n`` real photos (spread by ``rng``), centre-cropped to ``size``, with their human rating if known."""
    import torch

    from qdemo.generator.data import collect_photos, square_resize
    from qdemo.io import open_rgb

    files = collect_photos([photos])
    pick = [files[i] for i in _spread(len(files), n, rng)]
    ratings = _photo_ratings(pick)
    items = []
    for p in pick:
        im = square_resize(open_rgb(p), size)
        t = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255
        items.append({"image": t, "source": "photo", "intended": ratings.get(str(p.resolve())), "origin": str(p)})
    return items


def _write_study(items: list[dict[str, Any]], pred: np.ndarray, order: np.ndarray, out: Path) -> None:
    """``stimuli/sNNNN.png`` in the shuffled ``order``, ``stimuli.csv`` and the hidden ``key.csv``."""
    from qdemo.io import atomic_write_text, save_png

    width = max(4, len(str(len(items))))
    stim_rows, key_rows = [], []
    for pos, i in enumerate(order, start=1):
        sid = f"s{pos:0{width}d}"
        it = items[i]
        save_png(it["image"], out / "stimuli" / f"{sid}.png")
        stim_rows.append({"stimulus_id": sid, "file": f"stimuli/{sid}.png"})
        obj = it.get("objective")
        row = {"stimulus_id": sid, "source": it["source"], "origin": it["origin"],
               "objective": "" if obj is None or not np.isfinite(obj) else f"{obj:.3f}"}
        intended = it["intended"]
        for j, d in enumerate(DIMS):
            v = None if intended is None else intended[j]
            row[f"intended_{d}"] = "" if v is None or not np.isfinite(v) else f"{v:.4f}"
            row[f"predicted_{d}"] = f"{pred[i, j]:.4f}"
        key_rows.append(row)
    atomic_write_text(out / "stimuli.csv", table_text(["stimulus_id", "file"], stim_rows))
    atomic_write_text(out / "key.csv", table_text(KEY_FIELDS, key_rows))


def export_study(
    archive: str | os.PathLike, out: str | os.PathLike, *, generator: str | None = "shipped",
    photos: str | os.PathLike | None = None, n_elites: int = 0, n_generator: int = 0, n_photos: int = 0,
    size: int = 256, critic: str = "shipped", seed: int = 0, device: str = "auto", equalise: str | None = None,
) -> int:
    """Write the stimulus set to ``out``; return the number of stimuli. ``equalise``: a SHINE mode
    (:mod:`qdemo.normalise.equalise`) applied to all stimuli together before they are scored and
    written, so the raters see (and the norms describe) the equalised images; ``study.json``
    records it."""
    import torch

    from qdemo.device import resolve_device
    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.io import load_image

    if size < 16:
        raise QdemoError(f"--size {size}: use at least 16 pixels")
    out = Path(out)
    if (out / "key.csv").exists() or (out / "stimuli").exists():
        raise QdemoError(f"{out}: already holds a stimulus set; choose an empty --out")
    run = read_archive(archive)
    rng = np.random.default_rng(seed)
    dev = resolve_device(device)
    crit = load_emotion_model(critic, role="critic", device=dev)
    chosen = [run.cells[i] for i in _spread(len(run.cells), n_elites, rng)]
    items: list[dict[str, Any]] = [  # image (3, size, size), source, intended, origin
        {"image": _fit(load_image(cell.image), size), "source": "elite", "intended": cell.target,
         "origin": str(Path(cell.image).resolve()), "objective": cell.objective} for cell in chosen]
    if generator:
        items += _generator_items(generator, chosen, n_generator, size, seed, dev)
    if photos:
        items += _photo_items(photos, len(chosen) if n_photos <= 0 else n_photos, size, rng)
    if not items:
        raise QdemoError("export-study: nothing to export")
    shine = _equalise(items, equalise, out, seed) if equalise else None
    with torch.no_grad():
        batch = torch.stack([it["image"] for it in items])  # (N, 3, size, size)
        pred = torch.cat([crit(batch[i:i + 32].to(dev)).cpu() for i in range(0, len(batch), 32)]).numpy()
    _write_study(items, pred, rng.permutation(len(items)), out)
    from qdemo.io import atomic_write_json

    atomic_write_json(out / "study.json", {"archive": str(Path(archive).resolve()), "n_stimuli": len(items),
                                           "size": size, "seed": seed, "critic": critic, "equalised": shine})
    return len(items)


def _equalise(items: list[dict[str, Any]], mode: str, out: Path, seed: int) -> dict[str, Any]:
    """SHINE-equalise every item's image as one set, in place; the SHINE summary."""
    import shutil
    import tempfile

    from qdemo.io import load_image, save_png
    from qdemo.normalise.equalise import equalise_files

    work = Path(tempfile.mkdtemp(prefix="qdemo-study-shine-"))
    try:
        files = [work / f"in{i:05d}.png" for i in range(len(items))]
        for it, f in zip(items, files):
            save_png(it["image"], f)
        outputs, summary = equalise_files(files, work / "shine", mode, seed=seed)
        for it, f in zip(items, outputs):
            it["image"] = load_image(f)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {k: summary[k] for k in ("mode", "steps", "color", "n_images", "targets")}


__all__ = ["export_study", "KEY_FIELDS"]
