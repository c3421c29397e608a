"""What adapting a model reads: the new images in its feature space, and its own training rows.

Features always come through the model's own feature path (``part.raw_features`` then
``part.standardise``, per part of a fused model), so a model with more feature columns adapts
without a change here. The parent's training rows (``--train-config``) are read with
:func:`qdemo.emotion.features.extract_features` under the training config's views, crop, seed
and cache, so they come from the feature cache that training wrote.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from qdemo.emotion.adapt_run import OldRows
from qdemo.errors import CheckpointError, ConfigError, DataError


def model_parts(model) -> list:
    """The VADRegressor parts of ``model`` (a FusedRegressor's parts, else the model itself);
    CheckpointError for a model whose heads cannot be adapted."""
    from qdemo.emotion.model import VADRegressor

    parts = list(getattr(model, "parts", [model]))
    if not all(isinstance(p, VADRegressor) for p in parts):
        raise CheckpointError(f"{getattr(model.info, 'name', type(model).__name__)}: only qdemo regressors "
                              f"(a .safetensors from `qdemo regressor train`, or searcher / critic) can be adapted")
    return parts


@torch.no_grad()
def standardised(part, raw: np.ndarray) -> np.ndarray:
    """Raw features (N, F) of a frozen part or (N, K, F) -> (N, K, F) in the part's standardisation."""
    x = torch.as_tensor(np.asarray(raw, np.float32))
    if x.ndim == 2:
        x = x[:, None].expand(-1, part.n_members, -1)
    return part.standardise(x.to(part.feat_mean.device)).cpu().numpy()


@torch.no_grad()
def image_features(model, paths: Sequence[Path], *, batch_size: int = 32, device: str | torch.device = "cpu",
                   progress: bool = True) -> list[np.ndarray]:
    """Per part (N, K, F) standardised features of the images (view 0: the image resized as in training)."""
    from tqdm import tqdm

    from qdemo.emotion.views import resize_square
    from qdemo.io import load_image

    parts = model_parts(model)
    model.to(device).eval()
    out: list[list[np.ndarray]] = [[] for _ in parts]
    bar = tqdm(total=len(paths), desc="features of the rated images", disable=not progress, unit="img")
    for s in range(0, len(paths), batch_size):
        imgs = [load_image(p) for p in paths[s:s + batch_size]]
        for i, part in enumerate(parts):
            x = torch.stack([resize_square(im, part.resolution) for im in imgs]).to(device)
            out[i].append(part.standardise(part.raw_features(x)).float().cpu().numpy())
        bar.update(len(imgs))
    bar.close()
    return [np.concatenate(o) for o in out]


def rows_sha256(lines: Sequence[str]) -> str:
    """Fingerprint of a rating set: SHA-256 of its sorted, tab-separated lines."""
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()


def rated_set_info(rated) -> dict[str, Any]:
    """What an adapted model's metadata says about a RatedSet it was adapted on."""
    lines = [f"{Path(p).name}\t" + "\t".join(f"{v:.4f}" for v in t) for p, t in zip(rated.paths, rated.targets)]
    return {"source": str(rated.root), "format": rated.name, "sha256": rows_sha256(lines),
            "n_stimuli": len(rated), "n_raters": None}


# ----------------------------------------------------------------------------- the parent's training rows


def _trained_on(model, i: int) -> dict | None:
    extra = model.meta.extra
    if "parts" in extra and isinstance(extra["parts"], list) and i < len(extra["parts"]):
        return extra["parts"][i].get("trained_on")
    return extra.get("trained_on")


def _alpha(model, part, i: int) -> np.ndarray:
    extra = model.meta.extra
    src = extra["parts"][i] if "parts" in extra and isinstance(extra["parts"], list) else extra
    a = np.asarray(src.get("ridge_alpha_per_member", np.full((part.n_members, 3), np.nan)), np.float64)
    if a.shape != (part.n_members, 3):
        raise CheckpointError(f"{model.meta.name}: ridge penalties of part {i} have shape {a.shape}")
    first = a[:, :1]  # a dimension without its own penalty (dominance proxy) used the first one's
    return np.where(np.isfinite(a), a, np.where(np.isfinite(first), first, 1e3))


def fold_grams(Zv: np.ndarray, fold: np.ndarray) -> dict[int, tuple[int, np.ndarray, np.ndarray]]:
    """Per fold: (rows, feature sum (F,), cross products (F, F)) over every view (Zv (V, N, F))."""
    out = {}
    for f in np.unique(fold):
        X = Zv[:, fold == f].reshape(-1, Zv.shape[-1]).astype(np.float64)
        out[int(f)] = (len(X), X.sum(0), X.T @ X)
    return out


def member_gram(stats: dict, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigendecomposition of the centred Gram matrix of every fold but k."""
    n = sum(v[0] for f, v in stats.items() if f != k)
    s = sum(v[1] for f, v in stats.items() if f != k)
    G = sum(v[2] for f, v in stats.items() if f != k) - np.outer(s, s) / n
    ev, Q = np.linalg.eigh(G)
    return np.clip(ev, 0, None), Q


def training_rows(model, cfg, role: str, *, device: str | torch.device = "cpu", progress: bool = True) -> OldRows:
    """The parent's training rows under ``cfg`` (a RegressorConfig): features from the cache,
    joint folds, per-member Gram matrices and penalties. ConfigError when the parent was not
    trained on this config's data or is fine-tuned (its members' features differ)."""
    from qdemo.emotion.features import extract_features, with_semantic
    from qdemo.emotion.train.data import load_training_data

    if role not in ("searcher", "critic"):
        raise ConfigError(f"--role {role!r}: searcher or critic")
    rc = getattr(cfg, role)
    parts = model_parts(model)
    data = load_training_data(cfg)
    counts = {n: int((data.dataset == n).sum()) for n in dict.fromkeys(data.dataset.tolist())}
    Z, gram, alpha = [], [], []
    for i, part in enumerate(parts):
        if part.fine_tuned:
            raise ConfigError(f"{model.meta.name}: part {i} is fine-tuned; the training-row methods need a frozen "
                              f"backbone (use --method domain-calibration or refit-prior)")
        if _trained_on(model, i) != counts or part.n_members != cfg.folds:
            raise ConfigError(f"{model.meta.name}: was not trained on the data of --train-config (it says "
                              f"{_trained_on(model, i)}, {part.n_members} members; the config gives {counts}, "
                              f"{cfg.folds} folds)")
        raw = with_semantic(part, extract_features(part, data.rated.paths, views=rc.views, crop_scale=rc.crop_scale,
                                                   seed=cfg.seed, batch_size=rc.batch_size, cache_dir=cfg.cache_dir,
                                                   device=device, progress=progress))  # (V, N, F): the model's columns
        Zv = np.stack([standardised(part, raw[v])[:, 0] for v in range(raw.shape[0])])  # (V, N, F), frozen
        stats = fold_grams(Zv, data.fold)
        gram.append([member_gram(stats, k) for k in range(part.n_members)])
        Z.append(np.repeat(Zv[0][:, None], part.n_members, axis=1))
        alpha.append(_alpha(model, part, i))
    return OldRows(Z=Z, targets=np.asarray(data.rated.targets, np.float64), fold=data.fold,
                   dataset=np.asarray(data.dataset), gram=gram, alpha=alpha)


def check_output(path: str | os.PathLike, force: bool) -> Path:
    """The output weights path; DataError when it exists and ``force`` is not given."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ConfigError(f"--out {path}: weights files end in .safetensors")
    for p in (path, path.with_suffix(".json"), path.with_suffix(".report.json")):
        if p.exists() and not force:
            raise DataError(f"{p}: already exists (use --force to replace it)")
    return path


__all__ = ["check_output", "fold_grams", "image_features", "member_gram", "model_parts", "rated_set_info", "rows_sha256", "standardised",
           "training_rows"]
