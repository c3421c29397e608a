"""Honest evaluation of the regressors, baselines, and the model card.

Two entry points:

- :func:`evaluate_training` (run by ``qdemo regressor train``): out-of-fold metrics of the
  searcher and critic (each ensemble member scores only the fold it never saw: OASIS
  grouped by theme, Emotion6 stratified by folder), cross-dataset transfer, the baselines
  (frozen Lite0 final-layer features + ridge, low-level features + ridge; both with
  :func:`qdemo.emotion.ridge.ridge_cv` on the same folds), the emotion-distribution
  metrics and the critic-vs-searcher agreement on held-out photos.
- :func:`evaluate_model` (``qdemo regressor eval``): a trained model on any rated set.

Every result names its split and which dimensions are human-rated and which are proxies.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import torch

from qdemo import DIMS

TARGETS = {
    "oasis": {"valence": 0.70, "arousal": 0.65},
    "emotion6": {"valence": 0.80, "arousal": 0.55},
    "bass": {"valence": 0.80},
    "agreement": {"valence": 0.80},
}
LODO_AROUSAL_TARGET = 0.40
"""Leave-one-dataset-out target: arousal r on each held-out set, both roles."""


def _dim_sources(sources: dict[str, str]) -> dict[str, list[str]]:
    return {"human_rated": [d for d in DIMS if sources.get(d) == "human"],
            "proxy": [d for d in DIMS if str(sources.get(d, "")).startswith("proxy")],
            "missing": [d for d in DIMS if sources.get(d, "missing") == "missing"]}


# ----------------------------------------------------------------------------- any model, any set


@torch.no_grad()
def predict_paths(model, paths, *, batch_size: int = 32, progress: bool = True, with_dist: bool = False,
                  device: torch.device | str | None = None) -> dict[str, np.ndarray]:
    """Score image files: {'mean' (N, 3), 'sd' (N, 3)[, 'dist' (N, 7)]}. Each image is resized to
    the model's resolution first (as :meth:`EmotionModel.prepare` would)."""
    from tqdm import tqdm

    from qdemo.emotion.views import resize_square
    from qdemo.io import load_image

    device = device or next(model.parameters()).device
    mean, sd, dist = [], [], []
    bar = tqdm(total=len(paths), desc=f"scoring ({model.info.name})", disable=not progress, unit="img")
    for i in range(0, len(paths), batch_size):
        x = torch.stack([resize_square(load_image(p), model.resolution) for p in paths[i:i + batch_size]]).to(device)
        pr = model.predict(x)
        mean.append(pr.mean.cpu().numpy())
        sd.append(pr.sd.cpu().numpy())
        if with_dist:
            dist.append(model.emotion_distribution(x).cpu().numpy())
        bar.update(len(x))
    bar.close()
    out = {"mean": np.concatenate(mean) if mean else np.zeros((0, 3)),
           "sd": np.concatenate(sd) if sd else np.zeros((0, 3))}
    if with_dist:
        out["dist"] = np.concatenate(dist) if dist else np.zeros((0, 7))
    return out


def evaluate_model(model, rated, *, batch_size: int = 32, progress: bool = True) -> dict[str, Any]:
    """Metrics of a trained ``model`` on the rated set ``rated`` (a RatedSet).

    Returns {'data', 'n', 'model', 'dims' (human-rated / proxy per set and model), 'metrics'
    (per dim r, ccc, mae, n), 'distribution' (when both have the 7-way distribution)}.
    """
    from qdemo.emotion.metrics import distribution_metrics, regression_metrics

    with_dist = rated.emotion_dist is not None and getattr(model, "dist_weight", None) is not None
    pred = predict_paths(model, rated.paths, batch_size=batch_size, progress=progress, with_dist=with_dist)
    out: dict[str, Any] = {
        "data": rated.name, "root": str(rated.root), "n": len(rated),
        "split": "none: the whole set is scored by a model trained elsewhere (if the model was trained "
                 "on this set, these numbers are training-set numbers, not held-out ones)",
        "model": {"name": model.info.name, "role": model.info.role,
                  "human_rated": list(model.info.human_rated), "proxy": list(model.info.proxy),
                  "sha256": model.info.extra.get("sha256", "")},
        "dims": _dim_sources(rated.sources),
        "sources": dict(rated.sources),
        "metrics": regression_metrics(pred["mean"], rated.targets, rated.mask()),
        "skipped": [list(s) for s in rated.skipped],
    }
    if with_dist:
        out["distribution"] = distribution_metrics(pred["dist"], rated.emotion_dist)
    return out


# ----------------------------------------------------------------------------- training-time evaluation


def _baseline_lite0(results, data, cfg, progress: bool) -> np.ndarray:
    """Frozen Lite0 final-layer (1280) features at 224 px for every image (view 0).

    Taken from a trained role when one is Lite0 at 224 px, else extracted with the same
    multi-level taps and views as such a role would use (so the feature cache is shared)."""
    from qdemo.emotion.model import ModelSpec, VADRegressor
    from qdemo.emotion.features import extract_features

    for res in results.values():
        m = res.model
        if not hasattr(m, "backbone"):  # a fused model: no single backbone
            continue
        last = len(m.backbone) - 1
        if m.spec.backbone == "efficientnet-lite0" and m.resolution == 224 and last in m.taps:
            width = m.backbone.channels[last]
            return res.features[0][:, -width:]  # the head tap is the last block of the features
    model = VADRegressor(ModelSpec(backbone="efficientnet-lite0", resolution=224, members=1, dist_head=False))
    feats = extract_features(model, data.rated.paths, views=2, cache_dir=cfg.cache_dir, seed=cfg.seed,
                             progress=progress)
    return feats[0][:, -model.backbone.channels[-1]:]


def _protocol(cfg, names: list[str]) -> str:
    text = (
        f"{cfg.folds} joint folds: each data set is split on its own (OASIS grouped by theme, Emotion6 "
        f"stratified by folder) and fold k of the joint split is the union of fold k of each set. Ensemble "
        f"member k is fitted on every fold except k (standardisation and ridge penalty chosen inside that "
        f"training part; for a fine-tuned role, member k's copy of the later backbone units and its head are "
        f"then fine-tuned on the same folds, starting from that ridge head) and scores only fold k, so every "
        f"reported prediction is held out. Cross-dataset: one member trained the same way on all of one set, "
        f"scored on the others; leave one dataset out: one member trained the same way on all other sets, "
        f"scored on the held-out one. Metrics are those of single fold members; "
        f"the shipped model averages all K members (each saw all but one fold), whose combined held-out "
        f"accuracy cannot be measured on these data without another level of folds.")
    if "bass" in names:
        text += (" BASS is grouped by image stem (dog.png and dog5.png in one fold); its targets are the US "
                 "sample, and the agreement of the Chinese sample with it is reported as a ceiling.")
    return text


def _data_report(data, names: list[str]) -> dict[str, Any]:
    """Per set: size, split, what each dimension is (and the second rating's agreement, BASS)."""
    out = {}
    for n in names:
        out[n] = {"n": int((data.dataset == n).sum()), "split": data.split[n], "sources": data.sources[n],
                  "dims": _dim_sources(data.sources[n])}
        if getattr(data.rated, "second_targets", None) is not None:
            sub = data.rated.subset(np.flatnonzero(data.dataset == n))
            if np.isfinite(sub.second_targets).any():
                out[n]["second_sample_agreement"] = sub.second_agreement()
    return out


def _role_report(res, data, names: list[str]) -> dict[str, Any]:
    """Held-out metrics of one role per set, its distribution metrics and cross-dataset transfer."""
    from qdemo.emotion.metrics import distribution_metrics, regression_metrics

    rated = data.rated
    parts = [p.model for p in res.parts] or [res.model]
    r: dict[str, Any] = {"name": res.model.info.name,
                         "backbone": " + ".join(p.spec.backbone for p in parts),
                         "resolution": " + ".join(str(p.resolution) for p in parts),
                         "tta_flip": [bool(p.spec.tta_flip) for p in parts],
                         "members": sum(p.spec.members for p in parts),
                         "fine_tuned_from_unit": parts[0].train_from if parts[0].fine_tuned else None,
                         "views": int(res.features.shape[0]),
                         "n_features": " + ".join(str(p.n_features) for p in parts),
                         "calibration": res.model.calibration.to_dict(),
                         "train_seconds": round(res.seconds, 1), "cv": {}, "cross_dataset": {}}
    if res.oof_calibrated is not None:
        r["cv_calibrated"] = {}
    for n in names:
        rows = data.dataset == n
        r["cv"][n] = regression_metrics(res.oof[rows], rated.targets[rows], rated.mask()[rows])
        if res.oof_calibrated is not None:
            r["cv_calibrated"][n] = regression_metrics(res.oof_calibrated[rows], rated.targets[rows],
                                                       rated.mask()[rows])
        if res.oof_dist is not None and rated.emotion_dist is not None:
            ok = rows & np.isfinite(res.oof_dist).all(1) & np.isfinite(rated.emotion_dist).all(1)
            if ok.any():
                r.setdefault("distribution_cv", {})[n] = distribution_metrics(res.oof_dist[ok],
                                                                             rated.emotion_dist[ok])
    for key, pred in res.cross.items():
        rows = data.dataset == key.split("->")[1]
        r["cross_dataset"][key] = regression_metrics(pred, rated.targets[rows], rated.mask()[rows])
    if res.lodo:
        r["leave_one_dataset_out"] = _lodo_report(res.lodo, res.oof, data)
    return r


def _lodo_report(lodo: dict[str, np.ndarray], oof: np.ndarray, data) -> dict[str, Any]:
    """Metrics of the leave-one-dataset-out predictions, raw and calibrated: the map is fitted by
    variance matching on the out-of-fold predictions of the training sets' rows only."""
    from qdemo.emotion.calibration import fit_variance_matching
    from qdemo.emotion.metrics import regression_metrics

    rated = data.rated
    out = {}
    for te, pred in lodo.items():
        rows = data.dataset == te
        scale, shift, _ = fit_variance_matching(oof[~rows], rated.targets[~rows])
        cal = np.clip(shift + scale * pred, -1.0, 1.0)
        out[te] = {"raw": regression_metrics(pred, rated.targets[rows], rated.mask()[rows]),
                   "calibrated": regression_metrics(cal, rated.targets[rows], rated.mask()[rows])}
    return out


def _baselines(cfg, data, results: dict, names: list[str], progress: bool) -> dict[str, Any]:
    """Frozen Lite0 + ridge and low-level + ridge on each set's own folds."""
    from qdemo.emotion.lowlevel import cached_lowlevel_features
    from qdemo.emotion.metrics import regression_metrics
    from qdemo.emotion.ridge import ridge_cv
    from qdemo.emotion.splits import default_folds

    rated = data.rated
    lite = _baseline_lite0(results, data, cfg, progress)
    low = cached_lowlevel_features(rated.paths, cfg.cache_dir, progress=progress)
    out = {}
    for n in names:
        rows = np.flatnonzero(data.dataset == n)
        sub = rated.subset(rows)
        folds, how = default_folds(sub, k=cfg.folds, seed=cfg.seed)
        groups = sub.groups if len(np.unique(sub.groups)) < len(sub) else None
        b = {"split": how}
        for label, X in (("lite0_frozen_224_ridge", lite[rows]), ("lowlevel_ridge", low[rows])):
            pred = ridge_cv(X, sub.targets, folds, groups=groups, seed=cfg.seed)
            b[label] = regression_metrics(pred, sub.targets, sub.mask())
        if len(names) >= 3:
            b["lite0_frozen_224_ridge_lodo"] = _baseline_lodo(lite, data, n, cfg.seed)
        out[n] = b
    return out


def _baseline_lodo(X: np.ndarray, data, te: str, seed: int) -> dict[str, Any]:
    """The frozen-feature baseline fitted on every set but ``te`` (alpha by grouped inner CV), scored on ``te``."""
    from qdemo.emotion.metrics import regression_metrics
    from qdemo.emotion.ridge import ridge_fit_predict

    rated = data.rated
    tr, rows = data.dataset != te, data.dataset == te
    pred, _ = ridge_fit_predict(X[tr], rated.targets[tr], X[rows], groups=np.asarray(rated.groups)[tr], seed=seed)
    return regression_metrics(pred, rated.targets[rows], rated.mask()[rows])


def human_region(targets: np.ndarray, low: float = 1.0, high: float = 99.0, step: float = 0.05) -> list[list[float]]:
    """[low, high] per dimension of the human ratings' percentiles, rounded outwards to ``step``:
    the region of the canonical scale that ratings of real images occupy (the explorer's grid)."""
    out = []
    for d in range(targets.shape[1]):
        v = targets[np.isfinite(targets[:, d]), d]
        if len(v) < 2:  # a dimension no set rates: the whole scale
            out.append([-1.0, 1.0])
            continue
        lo, hi = np.percentile(v, low), np.percentile(v, high)
        out.append([round(float(np.floor(lo / step) * step), 2), round(float(np.ceil(hi / step) * step), 2)])
    return out


def va_cells(va: np.ndarray, ranges: list[list[float]], cells: int = 10) -> set[tuple[int, int]]:
    """The cells of a ``cells`` x ``cells`` valence x arousal grid over ``ranges`` that points (N, 2) fall in
    (placed by the explorer's :class:`~qdemo.measure_space.MeasureSpace`: points outside the ranges
    land in the edge cells, as the explorer clips its measures)."""
    from qdemo.measure_space import MeasureSpace

    ok = np.isfinite(va).all(1)
    space = MeasureSpace.grid(ranges[:2], (cells, cells))
    return set(map(tuple, space.grid_coords(space.clip(va[ok, :2])).tolist()))


def _coverage(data, results: dict, names: list[str]) -> dict[str, Any]:
    """VA cells covered by each set's human ratings and by the held-out predictions (raw and
    calibrated) over the human region: calibration should bring the two together."""
    t = data.rated.targets
    region = human_region(t)
    out: dict[str, Any] = {"ranges": region, "cells": [10, 10],
                           "how": "1st-99th percentile of the human ratings of all sets, rounded out to 0.05 "
                                  "(dominance: of its word-norm proxy)"}
    for n in names:
        rows = data.dataset == n
        row = {"human": len(va_cells(t[rows, :2], region)) / 100}
        for role, res in results.items():
            row[f"{role}_raw"] = len(va_cells(res.oof[rows, :2], region)) / 100
            if res.oof_calibrated is not None:
                row[f"{role}_calibrated"] = len(va_cells(res.oof_calibrated[rows, :2], region)) / 100
        out[n] = row
    return out


def evaluate_training(cfg, data, results: dict, written: dict, *, progress: bool = True) -> dict[str, Any]:
    """The honest evaluation of one training run (see module docstring)."""
    from qdemo.config import to_dict
    from qdemo.emotion.metrics import pearson_r

    names = list(dict.fromkeys(data.dataset.tolist()))
    report: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": to_dict(cfg),
        "data": _data_report(data, names),
        "protocol": _protocol(cfg, names),
        "weights": written,
        "roles": {role: _role_report(res, data, names) for role, res in results.items()},
        "baselines": {},
        "agreement": {},
        "targets": TARGETS,
        "va_coverage": _coverage(data, results, names),
    }
    # agreement between critic and searcher on held-out predictions
    if "searcher" in results and "critic" in results:
        s, c = results["searcher"].oof, results["critic"].oof
        agree = {}
        for n in ["all"] + names:
            rows = np.ones(len(s), bool) if n == "all" else data.dataset == n
            agree[n] = {d: pearson_r(s[rows, j], c[rows, j]) for j, d in enumerate(DIMS)}
        report["agreement"] = agree
    if cfg.baselines:
        report["baselines"] = _baselines(cfg, data, results, names, progress)
    return report


__all__ = ["LODO_AROUSAL_TARGET", "TARGETS", "evaluate_model", "evaluate_training", "human_region", "predict_paths", "va_cells"]
