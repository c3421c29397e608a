"""Backbone features of image files for every augmented view, cached on disk.

Training and the evaluation's frozen-feature baseline both start here:

* :func:`extract_features`: a frozen model's pooled multi-level features, ``(V, N, F)``;
* :func:`extract_activations`: what enters the first fine-tuned unit (and the pooled taps
  of the shared units), from which :func:`member_features` computes member k's features.

View 0 is the image as it is, 1 mirrored, 2+ seeded random crops (:func:`qdemo.emotion.views.view_of`).
The caches live under ``cache_dir`` keyed by backbone weights, resolution, taps, views and
the image files' sizes and modification times.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import torch

from qdemo.emotion.model import VADRegressor
from qdemo.emotion.views import view_of

log = logging.getLogger(__name__)


def _feature_key(model: VADRegressor, paths: list[Path], views: int, crop_scale: float, seed: int) -> str:
    from qdemo.io import hash_files_state

    h = hashlib.sha256()
    sp = model.spec
    what = {"backbone": sp.backbone, "weights": sp.backbone_weights, "resolution": sp.resolution,
            "tiny_seed": sp.seed if sp.backbone == "tiny" else None, "train_from": sp.train_from,
            "base": model.backbone.base.sha256, "taps": model.taps, "views": views, "crop": crop_scale,
            "seed": seed, "v": 2}  # only what changes the features
    if sp.tta_flip:  # (absent otherwise: caches written before the option stay valid)
        what["tta_flip"] = True
    h.update(json.dumps(what, sort_keys=True).encode())
    hash_files_state(h, paths)
    return h.hexdigest()[:20]


def _cache_file(model: VADRegressor, paths: list[Path], views: int, crop_scale: float, seed: int,
                cache_dir: str | os.PathLike | None, kind: str, suffix: str) -> Path | None:
    """Where the ``kind`` ('feat' or 'act') cache of these images and views lives (None: no cache)."""
    if cache_dir is None:
        return None
    return Path(os.path.expanduser(cache_dir)) / (f"{kind}-{model.spec.backbone}-{model.resolution}-"
                                                  f"{_feature_key(model, paths, views, crop_scale, seed)}{suffix}")


def _view_batches(model: VADRegressor, paths: list[Path], *, views: int, crop_scale: float, seed: int,
                  batch_size: int, desc: str, progress: bool):
    """Yield (start, view, images (B, 3, r, r)) over every batch of ``paths`` and every view, loading
    each image once per batch; the crops of views 2+ come from one seeded generator."""
    from tqdm import tqdm

    from qdemo.io import load_image

    gen = torch.Generator().manual_seed(seed)
    bar = tqdm(total=len(paths), desc=f"{desc} {model.spec.backbone}@{model.resolution} x{views}",
               disable=not progress, unit="img")
    for start in range(0, len(paths), batch_size):
        imgs = [load_image(p) for p in paths[start:start + batch_size]]  # list of (3, H, W)
        for v in range(views):
            yield start, v, torch.stack([view_of(im, v, model.resolution, crop_scale=crop_scale, gen=gen)
                                         for im in imgs])
        bar.update(len(imgs))
    bar.close()


@torch.no_grad()
def extract_activations(model: VADRegressor, paths: list[Path], *, views: int = 1, crop_scale: float = 0.7,
                        seed: int = 0, batch_size: int = 32, cache_dir: str | os.PathLike | None = None,
                        device: torch.device | str = "cpu", progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Output of the shared frozen units for every image and view (what fine-tuning starts from).

    Returns (act (V, N, C, h, w), pooled (V, N, P)) as float16 on the CPU, where ``act`` enters
    unit ``model.train_from`` and ``pooled`` holds the pooled taps of the shared units (P may be 0).
    Cached on disk (safetensors) like :func:`extract_features`."""
    from safetensors.torch import load_file, save_file

    from qdemo.io import atomic_path

    cache = _cache_file(model, paths, views, crop_scale, seed, cache_dir, "act", ".safetensors")
    if cache is not None and cache.exists():
        try:
            t = load_file(str(cache))
            if tuple(t["act"].shape[:2]) == (views, len(paths)):
                return t["act"], t["pooled"]
        except Exception:  # noqa: BLE001 - a bad cache is recomputed
            log.warning("ignoring unreadable activation cache %s", cache)
    model.eval().to(device)
    acts: list[list[torch.Tensor]] = [[] for _ in range(views)]
    pools: list[list[torch.Tensor]] = [[] for _ in range(views)]
    for _, v, x in _view_batches(model, paths, views=views, crop_scale=crop_scale, seed=seed,
                                 batch_size=batch_size, desc="activations", progress=progress):
        a, pooled = model.early(x.to(device))
        acts[v].append(a.half().cpu())
        pools[v].append(torch.cat(pooled, 1).half().cpu() if pooled else torch.zeros(len(x), 0).half())
    act = torch.stack([torch.cat(a) for a in acts])
    pooled = torch.stack([torch.cat(p) for p in pools])
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            save_file({"act": act.contiguous(), "pooled": pooled.contiguous()}, str(tmp))
    return act, pooled


def member_features(model: VADRegressor, k: int, act: torch.Tensor, pooled: torch.Tensor, rows: np.ndarray,
                    view: int = 0, *, device: torch.device | str = "cpu", batch: int = 256,
                    grad: bool = False) -> torch.Tensor:
    """Member k's raw features (len(rows), F) from cached shared activations (one view)."""
    out = []
    with torch.set_grad_enabled(grad):
        for s in range(0, len(rows), batch):
            r = torch.as_tensor(rows[s:s + batch])
            x = act[view, r].to(device).float()
            p = [pooled[view, r].to(device).float()] if pooled.shape[-1] else []
            out.append(model.branch_features(x, p, k))
    return torch.cat(out) if out else torch.zeros(0, model.n_features, device=device)


@torch.no_grad()
def with_semantic(model: VADRegressor, feats: np.ndarray) -> np.ndarray:
    """(..., F_pooled) cached pooled features -> (..., F) with ``model``'s semantic columns appended
    (unchanged for a model without the semantic channel)."""
    if model.semantic is None:
        return feats
    t = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)).to(model.semantic.fc_weight.device)
    return model.with_semantic(t).cpu().numpy()


@torch.no_grad()
def extract_features(model: VADRegressor, paths: list[Path], *, views: int = 1, crop_scale: float = 0.7,
                     seed: int = 0, batch_size: int = 32, cache_dir: str | os.PathLike | None = None,
                     device: torch.device | str = "cpu", progress: bool = True) -> np.ndarray:
    """Raw pooled features of every image and view: (V, N, F_pooled) float32 (cached on disk; a
    model's semantic columns are computed from them: :func:`with_semantic`)."""
    from qdemo.io import atomic_path

    cache = _cache_file(model, paths, views, crop_scale, seed, cache_dir, "feat", ".npy")
    if cache is not None and cache.exists():
        try:
            arr = np.load(cache)
            if arr.shape[:2] == (views, len(paths)):
                return arr.astype(np.float32)
        except (OSError, ValueError):
            log.warning("ignoring unreadable feature cache %s", cache)
    model.eval().to(device)
    out = np.zeros((views, len(paths), model.n_pooled), dtype=np.float32)
    for start, v, x in _view_batches(model, paths, views=views, crop_scale=crop_scale, seed=seed,
                                     batch_size=batch_size, desc="features", progress=progress):
        out[v, start:start + len(x)] = model.raw_features(x.to(device), semantic=False)[:, 0].float().cpu().numpy()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, out.astype(np.float16))
    return out


__all__ = ["extract_activations", "extract_features", "member_features"]
