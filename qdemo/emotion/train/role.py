"""Training one role (searcher or critic): features, K ridge members, fine-tuning, heads.

Member k is fitted on every joint fold but k, so its predictions on fold k are honest
held-out predictions (:attr:`RoleResult.oof`). Ridge targets are ``atanh`` of the canonical
ratings (clipped to +-0.95) because the model's output is ``tanh`` of the head
(:class:`qdemo.emotion.ridge.RidgeFitter`).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from qdemo import DIMS
from qdemo.emotion.features import extract_activations, extract_features, member_features, with_semantic
from qdemo.emotion.model import ModelSpec, RegressorMeta, VADRegressor
from qdemo.emotion.ridge import predict_heads
from qdemo.emotion.train.config import RoleConfig
from qdemo.emotion.train.data import TrainingData
from qdemo.emotion.train.finetune import finetune_member
from qdemo.emotion.train.heads import fit_dist_head, predict_dist
from qdemo.emotion.train.stacking import HeadFitter
from qdemo.errors import ConfigError, DataError


@dataclass
class RoleResult:
    """What training one role produced (weights file + out-of-fold predictions for evaluation)."""

    role: str
    model: VADRegressor
    oof: np.ndarray
    """(N, 3) member k's prediction for the rows of fold k (honest held-out predictions)."""
    oof_dist: np.ndarray | None
    """(N, 7) out-of-fold emotion distributions (NaN rows outside Emotion6)."""
    cross: dict[str, np.ndarray]
    """'<train set>-><test set>': (N_test, 3) predictions of a model trained on one set only."""
    alphas: list
    features: np.ndarray
    """(V, N, F) raw features (view 0 is the unaugmented image; a fused role: its first part's)."""
    seconds: float
    parts: list = field(default_factory=list)
    """A fused role: the RoleResult of each part (empty otherwise)."""
    oof_calibrated: np.ndarray | None = None
    """(N, 3) ``oof`` through a calibration fitted on the other folds only (None: not calibrated)."""
    lodo: dict[str, np.ndarray] = field(default_factory=dict)
    """'<test set>': (N_test, 3) predictions of a model trained the same way on every other set (leave one
    dataset out; only with three or more sets)."""


@dataclass
class _Features:
    """The features the heads are fitted on, and how to get member k's features after fine-tuning."""

    feats: np.ndarray
    """(V, N, F) raw features at the pretrained weights."""
    gmu: np.ndarray
    """(F,) mean of the raw features over all rows and views (the model's standardisation)."""
    gsd: np.ndarray
    """(F,) their standard deviation (1 where constant)."""
    act: torch.Tensor | None = None
    """(V, N, C, h, w) shared activations (fine-tuned roles only)."""
    pooled: torch.Tensor | None = None
    """(V, N, P) pooled taps of the shared units (fine-tuned roles only)."""
    pristine: torch.nn.Module | None = None
    """A copy of member 0's units at the pretrained weights (fine-tuned roles only)."""


def _build_model(role: str, rc: RoleConfig, data: TrainingData, k: int, device: torch.device) -> VADRegressor:
    """An untrained :class:`VADRegressor` of ``k`` members whose metadata says what each dimension is."""
    meta = RegressorMeta(name=rc.name, role=role,
                         human_rated=tuple(d for d in DIMS if all(s.get(d) == "human" for s in data.sources.values())),
                         proxy=tuple(d for d in DIMS if any(s.get(d, "").startswith("proxy")
                                                              for s in data.sources.values())))
    spec = rc.model
    if spec.members != k:
        spec = ModelSpec(**{**spec.__dict__, "members": k})
    try:
        return VADRegressor(spec, meta).to(device)
    except ValueError as exc:
        raise ConfigError(f"{role}.model: {exc}") from None


def _features(model: VADRegressor, rc: RoleConfig, data: TrainingData, *, seed: int, cache_dir: str | None,
              device: torch.device, progress: bool) -> _Features:
    """Raw features of every image and view (for a fine-tuned role from its shared activations)."""
    paths = data.rated.paths
    if model.semantic is not None:
        _set_class_norms(model, data)
    kw = dict(views=rc.views, crop_scale=rc.crop_scale, seed=seed, batch_size=rc.batch_size, cache_dir=cache_dir,
              device=device, progress=progress)
    act = pooled = pristine = None
    if model.fine_tuned:
        act, pooled = extract_activations(model, paths, **kw)
        every = np.arange(len(paths))
        feats = np.stack([member_features(model, 0, act, pooled, every, v, device=device).cpu().numpy()
                          for v in range(act.shape[0])]).astype(np.float32)  # (V, N, F) at the pretrained weights
        pristine = copy.deepcopy(model.branches[0]).cpu()
    else:
        feats = with_semantic(model, extract_features(model, paths, **kw))
    flat = feats.reshape(-1, feats.shape[2]).astype(np.float64)
    gmu = flat.mean(0)
    gsd = flat.std(0)
    gsd = np.where(gsd > 1e-8, gsd, 1.0)
    return _Features(feats, gmu, gsd, act, pooled, pristine)


def _set_class_norms(model: VADRegressor, data: TrainingData) -> None:
    """Rate the classifier's class names with the word norms (stored in the model)."""
    from qdemo.emotion.semantic import class_name_norms, imagenet_classes

    if data.word_norms is None:
        raise DataError("semantic channel: needs the word norms to rate the ImageNet class names "
                        "(data.word_norms: a folder with Ratings_Warriner_et_al.csv and NRC-VAD-Lexicon.txt)")
    names = imagenet_classes()
    norms, _ = class_name_norms(data.word_norms, names)
    model.semantic.set_norms(norms, names, {"lexicon_root": data.word_norms.root.name if data.word_norms.root
                                            else None})


def _set_heads(model: VADRegressor, heads: dict, fx: _Features, k: int) -> None:
    """Copy the ridge heads (K, F, 3) and the standardisation into the model."""
    with torch.no_grad():
        model.feat_mean.copy_(torch.from_numpy(np.tile(fx.gmu, (k, 1))).float())
        model.feat_std.copy_(torch.from_numpy(np.tile(fx.gsd, (k, 1))).float())
        model.head_weight.copy_(torch.from_numpy(heads["weight"]).float())
        model.head_bias.copy_(torch.from_numpy(heads["bias"]).float())


def _member_feats(model: VADRegressor, fx: _Features, device) -> Callable[..., np.ndarray]:
    """``f(k, rows, view=0)`` -> (len(rows), F) float64 raw features of member k (after fine-tuning)."""
    if fx.act is None:
        return lambda kk, rows, v=0: fx.feats[v][rows].astype(np.float64)
    return lambda kk, rows, v=0: member_features(model, kk, fx.act, fx.pooled, rows, v,
                                                 device=device).cpu().double().numpy()


def _oof(model: VADRegressor, fx: _Features, feats_of: Callable, fold: np.ndarray, k: int) -> np.ndarray:
    """(N, 3) member k's predictions on fold k (view 0 only: the image as it is)."""
    oof = np.full((len(fold), len(DIMS)), np.nan)
    for kk in range(k):
        rows = np.flatnonzero(fold == kk)
        if len(rows):
            Z = (feats_of(kk, rows) - fx.gmu) / fx.gsd
            w = model.head_weight[kk].detach().cpu().double().numpy()
            b = model.head_bias[kk].detach().cpu().double().numpy()
            oof[rows] = np.tanh(Z @ w + b)
    return oof


def _cross_member(model: VADRegressor, fx: _Features, h: dict, data: TrainingData, tr_rows: np.ndarray,
                  te_rows: np.ndarray, rc: RoleConfig, *, desc: str, seed: int, device, progress: bool) -> np.ndarray:
    """(len(te_rows), 3) predictions of one member fitted on ``tr_rows`` only (fine-tuned like the role)."""
    if fx.act is None:
        return predict_heads(fx.feats[0][te_rows].astype(np.float64), h, fx.gmu, fx.gsd)[:, 0]
    one = copy.deepcopy(model)
    one.branches[0].load_state_dict(fx.pristine.state_dict())
    with torch.no_grad():
        one.head_weight[0].copy_(torch.from_numpy(h["weight"][0]).float())
        one.head_bias[0].copy_(torch.from_numpy(h["bias"][0]).float())
    finetune_member(one, 0, fx.act, fx.pooled, data.rated.targets, tr_rows, rc, seed=seed,
                    device=device, progress=progress, desc=desc)
    Z = (member_features(one, 0, fx.act, fx.pooled, te_rows, 0, device=device).cpu().double().numpy()
         - fx.gmu) / fx.gsd
    return np.tanh(Z @ one.head_weight[0].detach().cpu().double().numpy()
                   + one.head_bias[0].detach().cpu().double().numpy())


def _cross_dataset(model: VADRegressor, fx: _Features, fitter: HeadFitter, data: TrainingData, rc: RoleConfig,
                   role: str, *, seed: int, device, progress: bool) -> tuple[dict[str, np.ndarray],
                                                                             dict[str, np.ndarray]]:
    """Cross-dataset transfer, one member trained the same way on all folds of the training sets:
    ``('<train>-><test>': trained on one set, scored on each other; '<test>': trained on every other
    set, leave one dataset out, with three sets or more)``."""
    ds = data.dataset
    names = list(dict.fromkeys(ds.tolist()))
    cross: dict[str, np.ndarray] = {}
    lodo: dict[str, np.ndarray] = {}
    if len(names) < 2:
        return cross, lodo
    kw = dict(seed=seed, device=device, progress=progress)
    for tr in names:
        h = fitter.fit_members([fitter.keys(lambda f, b, tr=tr: b == tr)], fx.gmu, fx.gsd)
        te_rows = np.flatnonzero(ds != tr)
        pred = _cross_member(model, fx, h, data, np.flatnonzero(ds == tr), te_rows, rc,
                             desc=f"{role}: fine-tune on {tr} only", **kw)
        for te in names:
            if te != tr:
                cross[f"{tr}->{te}"] = pred[ds[te_rows] == te]
    if len(names) >= 3:
        for te in names:
            h = fitter.fit_members([fitter.keys(lambda f, b, te=te: b != te)], fx.gmu, fx.gsd)
            lodo[te] = _cross_member(model, fx, h, data, np.flatnonzero(ds != te), np.flatnonzero(ds == te), rc,
                                     desc=f"{role}: fine-tune without {te}", **kw)
    return cross, lodo


def _dist_heads(model: VADRegressor, fx: _Features, feats_of: Callable, data: TrainingData, rc: RoleConfig,
                k: int) -> tuple[np.ndarray | None, bool]:
    """Member k's distribution head on the rows of folds != k that have an emotion distribution;
    returns the (N, 7) out-of-fold distributions (or None) and whether any head was trained."""
    dist = data.rated.emotion_dist
    if not model.spec.dist_head or dist is None or np.isfinite(dist).all(1).sum() < 20:
        return None, False
    has = np.isfinite(dist).all(1)
    fold = data.fold
    V = fx.feats.shape[0]
    oof_dist = np.full((len(fold), dist.shape[1]), np.nan)
    trained = False
    for kk in range(k):
        tr = np.flatnonzero(has & (fold != kk))
        te = np.flatnonzero(has & (fold == kk))
        if not len(tr):
            continue
        Ztr = np.concatenate([(feats_of(kk, tr, v) - fx.gmu) / fx.gsd for v in range(V)])
        W, b = fit_dist_head(Ztr, np.tile(dist[tr], (V, 1)), l2=rc.dist_l2)
        if len(te):
            oof_dist[te] = predict_dist((feats_of(kk, te) - fx.gmu) / fx.gsd, W, b)
        with torch.no_grad():
            model.dist_weight[kk].copy_(torch.from_numpy(W).float())
            model.dist_bias[kk].copy_(torch.from_numpy(b).float())
        trained = True
    return oof_dist, trained


def train_role(role: str, rc: RoleConfig, data: TrainingData, *, k: int, seed: int, cache_dir: str | None,
               device: torch.device, progress: bool = True) -> RoleResult:
    """Features (or shared activations), the K members (ridge heads, then fine-tuning when
    ``model.train_from`` is set), the distribution heads and the cross-dataset fits."""
    t0 = time.time()
    model = _build_model(role, rc, data, k, device)
    tune = model.fine_tuned
    fx = _features(model, rc, data, seed=seed, cache_dir=cache_dir, device=device, progress=progress)
    fold, rated = data.fold, data.rated
    fitter = HeadFitter(fx.feats, rated.targets, fold, n_pooled=model.n_pooled, blocks=data.dataset,
                        alphas=rc.alphas, progress=progress)
    heads = fitter.fit_members([fitter.keys(lambda f, b, kk=kk: f != kk) for kk in range(k)], fx.gmu, fx.gsd)
    _set_heads(model, heads, fx, k)
    losses = {}
    if tune:
        for kk in range(k):
            losses[f"member{kk}"] = finetune_member(model, kk, fx.act, fx.pooled, rated.targets,
                                                    np.flatnonzero(fold != kk), rc, seed=seed, device=device,
                                                    progress=progress, desc=f"{role}: fine-tune member {kk + 1}/{k}")
    feats_of = _member_feats(model, fx, device)
    oof = _oof(model, fx, feats_of, fold, k)
    stacks = list(fitter.stacks)  # the members' stacks (the cross-dataset fits below add their own)
    cross, lodo = _cross_dataset(model, fx, fitter, data, rc, role, seed=seed, device=device, progress=progress)
    oof_dist, dist_trained = _dist_heads(model, fx, feats_of, data, rc, k)
    model.meta.extra.update({
        "trained_on": {n: int((data.dataset == n).sum()) for n in dict.fromkeys(data.dataset.tolist())},
        "views": rc.views,
        "ridge_alpha_per_member": heads["alpha"].tolist(),
        "dist_head_trained": dist_trained,
        "fine_tuned_from_unit": model.train_from if tune else None,
    })
    if model.semantic is not None:
        model.meta.extra["semantic_stack"] = _stack_summary(stacks)
    if tune:
        model.meta.extra["finetune"] = {"epochs": rc.finetune_epochs, "lr": rc.finetune_lr,
                                        "batch": rc.finetune_batch, "weight_decay": rc.finetune_weight_decay,
                                        "epoch_loss": losses}
    model.requires_grad_(False)
    return RoleResult(role=role, model=model.eval(), oof=oof, oof_dist=oof_dist, cross=cross,
                      alphas=heads["alpha"].tolist(), features=fx.feats, seconds=time.time() - t0, lodo=lodo)


def _stack_summary(stacks: list[dict]) -> dict:
    """Per dimension, the members' standardised stack weights (how much each reads the semantic column)."""
    out = {}
    for d, name in enumerate(DIMS):
        rows = [s[d] for s in stacks if d in s and "std_weight_semantic" in s[d]]
        if rows:
            out[name] = {"std_weight_logit": [round(r["std_weight_logit"], 4) for r in rows],
                         "std_weight_semantic": [round(r["std_weight_semantic"], 4) for r in rows]}
    return out


__all__ = ["RoleResult", "train_role"]
