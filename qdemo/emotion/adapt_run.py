"""Adapting a model: fit a method (:mod:`qdemo.emotion.adapt`), measure it, choose, apply.

    problem = Problem(Z, targets, groups, heads_of(model), cal_of(model), old=None)
    report = compare_methods(problem, ["parent", "domain-calibration", "refit-prior"])
    heads, cal, info = fit_method(problem, report["chosen"])
    adapted = apply_adaptation(model, heads, cal, meta_extra)

Measured for every method: held-out r, MAE and sd ratio on the new ratings by cross-validation
grouped by stimulus (each outer fold's model is fitted, strengths included, on the other folds
only), and, when the parent's training rows are given, the change on the original held-out
sets (out of fold: member k scores the fold k it never saw, as the model card does).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from qdemo import DIMS
from qdemo.emotion.adapt import (METHODS, NEEDS_ROWS, Cal, Heads, Kernels, fit_domain_calibration, fit_heads,
                                 fit_pooled_calibration, limit_calibration, group_folds, group_means, member_raw, one_se_choice,
                                 predict)
from qdemo.errors import ConfigError

MAX_ORIGINAL_DROP = 0.02
"""``auto`` refuses a method that lowers valence or arousal r on an original held-out set by more."""


@dataclass
class OldRows:
    """The parent's own training rows, in its feature space."""

    Z: list[np.ndarray]
    """Per part (N_old, K, F) standardised features of view 0 (the image as it is)."""
    targets: np.ndarray
    """(N_old, 3) canonical targets (NaN = missing)."""
    fold: np.ndarray
    """(N_old,) joint fold: member k never saw fold k."""
    dataset: np.ndarray
    """(N_old,) which set each row comes from."""
    gram: list
    """Per part, per member: (eigenvalues (F,), eigenvectors (F, F)) of the centred Gram matrix of
    that member's training rows (every view), in the model's standardisation."""
    alpha: list
    """Per part (K, 3) the ridge penalty each member's head was fitted with."""


@dataclass
class Problem:
    """The new ratings in the parent's feature space, the parent, and (optionally) its training rows."""

    Z: list[np.ndarray]
    """Per part (N, K, F) standardised features of the new images."""
    targets: np.ndarray
    """(N, 3) mean human rating per image, canonical [-1, 1], NaN = unrated."""
    groups: np.ndarray
    """(N,) CV groups (stimulus id; image stem for BASS)."""
    parent: Heads
    parent_cal: Cal
    old: OldRows | None = None
    folds: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        self._kernels: dict[str, Kernels] = {}
        self._before: dict | None = None

    def before(self) -> dict:
        """The parent's out-of-fold metrics per original set (cached)."""
        if self._before is None:
            self._before = original_sets(self.old, self.parent, self.parent_cal)
        return self._before

    def kernels(self, prior: str) -> Kernels:
        if prior not in self._kernels:
            self._kernels[prior] = (Kernels(self.Z) if prior == "prior" else
                                    Kernels(self.Z, self.old.gram, self.old.alpha))
        return self._kernels[prior]


def heads_of(model) -> tuple[Heads, Cal]:
    """The heads and calibration of a VADRegressor or FusedRegressor (numpy copies)."""
    parts = list(getattr(model, "parts", [model]))
    heads = Heads([p.head_weight.detach().cpu().double().numpy().copy() for p in parts],
                  [p.head_bias.detach().cpu().double().numpy().copy() for p in parts])
    c = model.calibration
    return heads, Cal(c.scale.cpu().double().numpy().copy(), c.shift.cpu().double().numpy().copy(), dict(c.fitted))


def old_oof_raw(old: OldRows, heads: Heads) -> np.ndarray:
    """(N_old, 3) out-of-fold raw predictions: row of fold k = mean over parts of member k."""
    out = np.zeros((len(old.fold), len(DIMS)))
    for k in np.unique(old.fold):
        rows = np.flatnonzero(old.fold == k)
        one = Heads([W[int(k):int(k) + 1] for W in heads.W], [b[int(k):int(k) + 1] for b in heads.b])
        out[rows] = member_raw([Z[:, int(k):int(k) + 1] for Z in old.Z], one, rows).mean(axis=1)
    return out


def fit_method(pb: Problem, method: str, rows: np.ndarray | None = None) -> tuple[Heads, Cal, dict[str, Any]]:
    """Fit ``method`` on the new ``rows`` (default all): (heads, calibration, what was chosen)."""
    if method not in METHODS:
        raise ConfigError(f"--method {method!r}: expected one of {', '.join(METHODS)} or auto")
    if method in NEEDS_ROWS and pb.old is None:
        raise ConfigError(f"--method {method} needs the parent's training rows (--train-config)")
    heads_mode, cal_mode = METHODS[method]
    rows = np.arange(len(pb.targets)) if rows is None else np.asarray(rows)
    info: dict[str, Any] = {"method": method, "heads": heads_mode, "calibration": cal_mode or "parent"}
    if heads_mode == "keep":
        heads, held = pb.parent, member_raw(pb.Z, pb.parent, rows).mean(axis=1)
    else:
        heads, held, info["heads_fit"] = fit_heads(pb.Z, pb.targets, pb.groups, pb.parent, rows=rows,
                                                   kernels=pb.kernels(heads_mode), folds=pb.folds, seed=pb.seed,
                                                   guard=_heads_guard(pb))
    if cal_mode is None:
        cal = pb.parent_cal
    elif cal_mode == "pooled":
        cal = fit_pooled_calibration(old_oof_raw(pb.old, heads), pb.old.targets, held, pb.targets[rows])
    else:
        cal = fit_domain_calibration(held, pb.targets[rows], pb.parent_cal)
        if pb.old is not None:  # stretched only as far as the original sets allow
            pooled = fit_pooled_calibration(old_oof_raw(pb.old, heads), pb.old.targets, held, pb.targets[rows])
            before = pb.before()
            cal = limit_calibration(cal, pooled, lambda c: _drop(before, original_sets(pb.old, heads, c))
                                    <= MAX_ORIGINAL_DROP)
    info["calibration_fit"] = {k: v for k, v in cal.info.items() if k != "rows"}
    return heads, cal, info


def _raw_r(old: OldRows, heads: Heads) -> dict[str, np.ndarray]:
    """Per original set: (3,) Pearson r of the raw out-of-fold predictions (before calibration)."""
    raw = old_oof_raw(old, heads)
    out = {}
    for n in dict.fromkeys(old.dataset):
        m = old.dataset == n
        out[n] = np.array([_r(raw[m, d], old.targets[m, d]) for d in range(len(DIMS))])
    return out


def _r(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    return float(np.corrcoef(x[ok], y[ok])[0, 1]) if ok.sum() > 2 and x[ok].std() > 0 and y[ok].std() > 0 else np.nan


def _heads_guard(pb: Problem):
    """With the training rows: heads refitted on valence or arousal may lower no original set's raw
    r of that dimension by more than :data:`MAX_ORIGINAL_DROP` (None without them)."""
    if pb.old is None:
        return None
    before = _raw_r(pb.old, pb.parent)

    def ok(d: int, heads: Heads) -> bool:
        if DIMS[d] not in ("valence", "arousal"):
            return True
        after = _raw_r(pb.old, heads)
        return all(not (before[n][d] - after[n][d] > MAX_ORIGINAL_DROP) for n in before)
    return ok


def metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, dict[str, float]]:
    """Per dimension r, MAE, sd ratio, n (:func:`qdemo.emotion.metrics.regression_metrics`)."""
    from qdemo.emotion.metrics import regression_metrics

    m = regression_metrics(pred, target)
    return {d: {k: m[d][k] for k in ("r", "mae", "sd_ratio", "n")} for d in DIMS}


def held_out(pb: Problem, method: str) -> np.ndarray:
    """(N, 3) predictions of the new rows, each by ``method`` fitted without its outer fold
    (grouped by stimulus; a different seed from the inner folds)."""
    if method == "parent":
        return predict(pb.Z, pb.parent, pb.parent_cal)
    outer = group_folds(pb.groups, pb.folds, pb.seed + 1)
    pred = np.full(pb.targets.shape, np.nan)
    for f in np.unique(outer):
        heads, cal, _ = fit_method(pb, method, np.flatnonzero(outer != f))
        te = np.flatnonzero(outer == f)
        pred[te] = predict(pb.Z, heads, cal, te)
    return pred


def original_sets(old: OldRows, heads: Heads, cal: Cal) -> dict[str, dict[str, dict[str, float]]]:
    """Out-of-fold metrics per original set of the model (heads, cal)."""
    pred = cal.apply(old_oof_raw(old, heads))
    return {n: metrics(pred[old.dataset == n], old.targets[old.dataset == n]) for n in dict.fromkeys(old.dataset)}


def _drop(before: dict, after: dict) -> float:
    """Largest fall of valence / arousal r over the original sets."""
    falls = [before[n][d]["r"] - after[n][d]["r"] for n in before for d in ("valence", "arousal")
             if np.isfinite(before[n][d]["r"]) and np.isfinite(after[n][d]["r"])]
    return float(max(falls)) if falls else 0.0


def compare_methods(pb: Problem, methods: Sequence[str], candidates: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure every method in ``methods`` and choose one (see the module docstring): the lowest
    held-out squared error (valence and arousal) on the new ratings, preferring the simpler
    method within one standard error (paired over stimuli), among ``candidates`` (default all of
    ``methods``) that lower no original set's V/A r by more than :data:`MAX_ORIGINAL_DROP`."""
    va = [DIMS.index("valence"), DIMS.index("arousal")]
    before_old = pb.before() if pb.old is not None else None
    rows, errs, ok, fits = {}, [], [], {}
    fin = np.isfinite(pb.targets[:, va]).any(axis=1)
    for m in methods:
        pred = held_out(pb, m)
        sq = np.nanmean((pred[:, va] - pb.targets[:, va]) ** 2, axis=1)
        errs.append(group_means(sq[fin], pb.groups[fin]))
        entry: dict[str, Any] = {"new": metrics(pred, pb.targets), "new_mse_va": float(sq[fin].mean())}
        if pb.old is not None:
            heads, cal, _ = fits[m] = fit_method(pb, m)
            entry["original"] = original_sets(pb.old, heads, cal)
            entry["original_drop"] = _drop(before_old, entry["original"])
        ok.append(entry.get("original_drop", 0.0) <= MAX_ORIGINAL_DROP and (candidates is None or m in candidates))
        rows[m] = entry
    allowed = [i for i in range(len(methods)) if ok[i]] or [0]
    chosen = methods[allowed[one_se_choice([errs[i] for i in allowed])]]
    return {"methods": rows, "chosen": chosen, "fits": fits, "rule": "lowest held-out V/A squared error on the new ratings "
            f"(grouped {pb.folds}-fold CV), the simpler method within one standard error, original-set "
            f"V/A r falling by <= {MAX_ORIGINAL_DROP}"}


def apply_adaptation(model, heads: Heads, cal: Cal, extra: dict[str, Any]):
    """A copy of ``model`` with ``heads`` and ``cal`` in place and ``extra`` in its metadata."""
    import torch

    out = copy.deepcopy(model).cpu()
    parts = list(getattr(out, "parts", [out]))
    with torch.no_grad():
        for p, part in enumerate(parts):
            part.head_weight.copy_(torch.from_numpy(heads.W[p]).to(part.head_weight.dtype))
            part.head_bias.copy_(torch.from_numpy(heads.b[p]).to(part.head_bias.dtype))
    out.calibration.set(cal.scale, cal.shift, cal.info)
    for key in ("weights_file", "sha256"):  # the parent file's, not this model's
        out.meta.extra.pop(key, None)
    out.meta.extra["adapted"] = extra
    return out.eval()


__all__ = ["MAX_ORIGINAL_DROP", "OldRows", "Problem", "apply_adaptation", "compare_methods", "fit_method",
           "heads_of", "held_out", "metrics", "old_oof_raw", "original_sets"]
