"""The low-level features + ridge baseline, and the training-mean ('prior') reference."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from qdemo.emotion.lowlevel.features import lowlevel_feature_matrix
from qdemo.emotion.ridge import ridge_cv


def prior_predictions(targets: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Out-of-fold 'prior' baseline: every test item gets its training part's mean (NaN-aware).
    Its MAE is the reference a model must beat (its r is undefined: constant per fold)."""
    Y = np.asarray(targets, dtype=np.float64)
    out = np.full(Y.shape, np.nan)
    for tr, te in folds:
        with np.errstate(invalid="ignore"):
            col = Y[np.asarray(tr)]
            has = np.isfinite(col).any(axis=0)
            mean = np.where(has, np.nansum(np.where(np.isfinite(col), col, 0), axis=0)
                            / np.maximum(np.isfinite(col).sum(axis=0), 1), np.nan)
        out[np.asarray(te)] = mean
    return out


def _prior_metrics(targets: np.ndarray, folds, mask: np.ndarray) -> dict:
    from qdemo.emotion.metrics import regression_metrics

    m = regression_metrics(prior_predictions(targets, folds), targets, mask)
    for d in m.values():
        d["r"] = float("nan")  # pooled per-fold constants: r is an artefact (slightly negative), not a skill
    return m


def distribution_from_ridge(features: np.ndarray, dist: np.ndarray, folds, *, groups=None,
                            seed: int = 0) -> np.ndarray:
    """Out-of-fold emotion distributions (N, K) by ridge on each probability, clipped at 0
    and renormalised (a simple reference for the distribution head)."""
    p = ridge_cv(features, dist, folds, groups=groups, seed=seed)
    p = np.clip(p, 0.0, None) + 1e-6
    return p / p.sum(axis=1, keepdims=True)


def lowlevel_baseline(rated_set, *, k: int = 5, seed: int = 0, max_side: int = 256,
                      features: np.ndarray | None = None, progress: bool = True) -> dict[str, Any]:
    """The low-level features + ridge baseline on one rated set, honestly split.

    Folds come from :func:`qdemo.emotion.splits.default_folds` (OASIS: grouped by theme;
    Emotion6: stratified by folder); alpha is chosen inside each training part by an inner
    CV grouped the same way. Returns ``{"split", "metrics", "prior_metrics", "sources",
    "alphas", "n_features", "pred"}`` (``pred``: out-of-fold (N, 3)); for a set with an
    emotion distribution also ``"dist_metrics"`` (ridge on the 7 probabilities) and
    ``"dist_prior_metrics"`` (the training mean distribution).
    """
    from qdemo.emotion.metrics import distribution_metrics, regression_metrics
    from qdemo.emotion.splits import default_folds

    X = lowlevel_feature_matrix(rated_set.paths, max_side=max_side, progress=progress) \
        if features is None else np.asarray(features)
    folds, how = default_folds(rated_set, k=k, seed=seed)
    groups = rated_set.groups if len(np.unique(rated_set.groups)) < len(rated_set) else None
    pred, alphas = ridge_cv(X, rated_set.targets, folds, groups=groups, seed=seed, return_alphas=True)
    mask = rated_set.mask()
    out = {
        "split": how,
        "metrics": regression_metrics(pred, rated_set.targets, mask),
        "prior_metrics": _prior_metrics(rated_set.targets, folds, mask),
        "sources": dict(rated_set.sources),
        "alphas": alphas.tolist(),
        "n_features": int(X.shape[1]),
        "pred": pred,
    }
    if rated_set.emotion_dist is not None:
        q = rated_set.emotion_dist
        out["dist_metrics"] = distribution_metrics(distribution_from_ridge(X, q, folds, groups=groups, seed=seed), q)
        out["dist_prior_metrics"] = distribution_metrics(prior_predictions(q, folds), q)
    return out


def median_metrics(runs: Sequence[dict]) -> dict:
    """Per dimension and metric, the median over runs (NaN when no run has a value)."""
    def med(vals: list[float]) -> float:
        v = np.asarray(vals, dtype=np.float64)
        v = v[np.isfinite(v)]
        return float(np.median(v)) if v.size else float("nan")

    return {d: {k: (med([r[d][k] for r in runs]) if k != "n" else runs[0][d]["n"]) for k in runs[0][d]}
            for d in runs[0]}


__all__ = ["distribution_from_ridge", "lowlevel_baseline", "median_metrics", "prior_predictions"]
