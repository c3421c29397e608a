"""Adapting an emotion model to new human ratings (``qdemo regressor adapt``): the fits.

The adapted model keeps the parent's backbone and feature standardisation (its own feature
path: ``raw_features`` -> ``standardise``); what changes is the linear heads and/or the
calibration (:mod:`qdemo.emotion.calibration`). Methods (:data:`METHODS`, heads x calibration):

- heads ``keep``: the parent's heads;
- heads ``prior``: every member's head refitted on the new rows by ridge toward the parent's
  head (:func:`qdemo.emotion.ridge.ridge_toward_prior` with an isotropic kernel: each weight is
  shrunk alike toward the parent's), the bias free; needs nothing but the new ratings;
- heads ``rows``: the parent's own ridge fit with the new rows added to its training rows at
  weight ``w`` per row (the same solver, with the kernel of the parent's training Gram matrix:
  exactly what refitting on old + new rows does, without re-reading the old rows per fit);
- calibration ``domain``: variance matching fitted on the new rows only, shrunk toward the
  parent's map with weight ``n / (n + n0)``; ``pooled``: one map fitted on the training sets'
  out-of-fold predictions and the new rows together.

**Shrinkage for small sets.** The ridge weight ``lam`` of the heads is chosen per dimension by
cross-validation on the new ratings grouped by stimulus (repeated :data:`CV_REPEATS` times),
from a grid that includes "no change", with the one-standard-error rule: the strength closest
to the parent whose held-out error is within one standard error of the best (the paired
difference, over stimuli or stems). With a few noisy ratings the parent therefore stays (nearly) as it is. The domain
calibration is blended with the parent's map at weight n / (n + :data:`CAL_N0`).

Everything here is numpy on features already extracted (:mod:`qdemo.emotion.adapt_data`);
:mod:`qdemo.emotion.adapt_run` applies a method to a model and measures it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from qdemo import DIMS
from qdemo.emotion.calibration import fit_variance_matching
from qdemo.emotion.ridge import TARGET_CLIP, ridge_toward_prior

METHODS: dict[str, tuple[str, str | None]] = {
    "parent": ("keep", None),
    "domain-calibration": ("keep", "domain"),
    "refit-prior": ("prior", "domain"),
    "refit-domain": ("rows", "domain"),
    "recalibrate": ("keep", "pooled"),
    "refit": ("rows", "pooled"),
}
"""Name -> (heads, calibration), in the order the one-standard-error rule prefers: the parent, then
the methods that calibrate for the new domain (the point of adapting to it; with the training rows
given, stretched only as far as the original sets allow), then the pooled ones."""
AUTO = tuple(m for m, (h, c) in METHODS.items() if c != "pooled")
"""What ``--method auto`` chooses from: the parent and the methods calibrated for the new domain. The
pooled ones (one map for every domain) are measured and can be asked for, but held-out squared
error on the new domain cannot choose between the two purposes: it always prefers the map that
stretches less (the least-squares slope is r * sd(y) / sd(x), below variance matching)."""
NEEDS_ROWS = tuple(m for m, (h, c) in METHODS.items() if h == "rows" or c == "pooled")
"""Methods that need the parent's training rows (``--train-config``)."""
PRIOR_LAMS = (0.0, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
"""Ridge weights of the isotropic prior (kernel Z Z' / F: lam 1 = a new row weighs like the prior)."""
ROW_WEIGHTS = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
"""Weights of a new row relative to one of the parent's training rows (heads ``rows``)."""
CAL_N0 = 20.0
"""The parent's calibration counts as this many rated images in the domain calibration (an
empirical-Bayes-style blend: weight n / (n + 20) for the new map: 0.56 at 25 ratings, 0.94 at 300).
Not chosen by CV: the map is variance matching (sd ratio 1), which squared error would always
shrink back."""
CV_REPEATS = 3
"""Repeats (fold seeds) of the grouped CV that chooses a strength."""
MIN_ROWS = 10
"""A dimension with fewer rated rows is left as the parent has it."""


@dataclass
class Heads:
    """The linear heads of every part of a model: ``W[p]`` (K, F, 3), ``b[p]`` (K, 3)."""

    W: list[np.ndarray]
    b: list[np.ndarray]

    def copy(self) -> "Heads":
        return Heads([w.copy() for w in self.W], [b.copy() for b in self.b])

    def members(self) -> list[tuple[int, int]]:
        return [(p, k) for p in range(len(self.W)) for k in range(self.W[p].shape[0])]


@dataclass
class Cal:
    """A calibration map: ``scale`` (3,), ``shift`` (3,), and how it was fitted."""

    scale: np.ndarray
    shift: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """Member predictions (..., 3) -> calibrated, clamped to [-1, 1]."""
        return np.clip(self.shift + self.scale * raw, -1.0, 1.0)


def link(y: np.ndarray) -> np.ndarray:
    """Ratings -> the heads' scale (atanh, clipped as in training); NaN stays NaN."""
    return np.arctanh(np.clip(y, -TARGET_CLIP, TARGET_CLIP))


def member_logits(Z: Sequence[np.ndarray], heads: Heads, rows: np.ndarray | None = None) -> np.ndarray:
    """(N, M, 3) head outputs ``z W + b`` of every part's members (M = sum K), before tanh."""
    out = []
    for p, Zp in enumerate(Z):
        X = Zp if rows is None else Zp[rows]  # (N, K, F)
        out.append(np.einsum("nkf,kfd->nkd", X, heads.W[p]) + heads.b[p])
    return np.concatenate(out, axis=1)


def member_raw(Z: Sequence[np.ndarray], heads: Heads, rows: np.ndarray | None = None) -> np.ndarray:
    """(N, M, 3) raw member outputs ``tanh(z W + b)`` (before calibration)."""
    return np.tanh(member_logits(Z, heads, rows))


def predict(Z: Sequence[np.ndarray], heads: Heads, cal: Cal, rows: np.ndarray | None = None) -> np.ndarray:
    """(N, 3) calibrated ensemble prediction, as the model computes it."""
    return cal.apply(member_raw(Z, heads, rows)).mean(axis=1)


# ----------------------------------------------------------------------------- choosing a strength


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1]) if len(x) > 2 and x.std() > 1e-12 and y.std() > 1e-12 else float("nan")


def affine_sq(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N,) squared held-out error of ``pred`` up to an affine map (what the calibration refits
    anyway): squared residuals of the least-squares line of ``y`` on ``pred``."""
    A = np.column_stack([pred, np.ones_like(pred)])
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    return (A @ coef - y) ** 2


def group_means(err: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(..., n_groups) mean of ``err`` (..., N) within each group (stimulus / image stem): the
    independent units of the one-standard-error rule."""
    uniq, inv = np.unique(groups, return_inverse=True)
    sums = np.zeros(err.shape[:-1] + (len(uniq),))
    np.add.at(sums, (..., inv), err)
    return sums / np.bincount(inv, minlength=len(uniq))


def one_se_choice(per_unit: Sequence[np.ndarray]) -> int:
    """Index of the first candidate (candidates ordered from the most conservative) whose held-out
    error is within one standard error of the best one's: the mean over units (groups of rows)
    of the paired difference (candidate - best) is at most its standard error."""
    errs = np.asarray(per_unit, np.float64)  # (candidates, units)
    nu = errs.shape[1]
    best = int(np.argmin(errs.mean(axis=1)))
    for i in range(len(errs)):
        diff = errs[i] - errs[best]
        if diff.mean() <= (diff.std(ddof=1) / np.sqrt(nu) if nu > 1 else 0.0):
            return i
    return best


def group_folds(groups: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(N,) fold of each row, grouped (a stimulus / image stem never in two folds)."""
    from qdemo.emotion.splits import fold_ids, grouped_kfold

    k = min(k, len(np.unique(groups)))
    return fold_ids(grouped_kfold(groups, k=k, seed=seed), len(groups))


# ----------------------------------------------------------------------------- heads


class Kernels:
    """The prior's kernel ``K = Z M Z'`` of the new rows per (part, member, dimension), and the
    weight change ``lam M Z' a`` it implies. ``gram``: None for the isotropic prior (M = I / F),
    else per part a list per member of ``(lam_eig (F,), Q (F, F))`` of the parent's training
    Gram matrix and ``alpha[p]`` (K, 3) its ridge penalties (M = (G + alpha I)^-1). Members whose
    kernels are equal (a frozen backbone under the isotropic prior) share one."""

    def __init__(self, Z: Sequence[np.ndarray], gram: list | None = None, alpha: list | None = None):
        self.Z, self.gram, self.alpha = Z, gram, alpha
        self._cache: dict[tuple[int, int, int], np.ndarray] = {}
        self._same = [gram is None and all(np.array_equal(Zp[:, k], Zp[:, 0]) for k in range(Zp.shape[1]))
                      for Zp in Z]

    def key(self, p: int, k: int, d: int) -> tuple[int, int, int]:
        """Members with one key have one kernel."""
        return (p, 0 if self._same[p] else k, 0 if self.gram is None else d)

    def kernel(self, p: int, k: int, d: int) -> np.ndarray:
        key = self.key(p, k, d)
        if key not in self._cache:
            p, k, d = key
            if self.gram is None:
                S = self.Z[p][:, k] / np.sqrt(self.Z[p].shape[2])
            else:
                ev, Q = self.gram[p][k]
                S = (self.Z[p][:, k] @ Q) / np.sqrt(ev + self.alpha[p][k, d])
            self._cache[key] = S @ S.T  # (N, N)
        return self._cache[key]

    def delta(self, p: int, k: int, d: int, rows: np.ndarray, a: np.ndarray, lam: float) -> np.ndarray:
        """(F,) weight change ``lam M Z_rows' a``."""
        Zr = self.Z[p][rows, k]
        if self.gram is None:
            return lam * (Zr.T @ a) / Zr.shape[1]
        ev, Q = self.gram[p][k]
        return lam * (Q @ ((Q.T @ (Zr.T @ a)) / (ev + self.alpha[p][k, d])))


def _by_kernel(kern: Kernels, heads: Heads, d: int) -> dict[tuple, list[int]]:
    """Member columns (in :meth:`Heads.members` order) grouped by shared kernel."""
    out: dict[tuple, list[int]] = {}
    for j, (p, k) in enumerate(heads.members()):
        out.setdefault(kern.key(p, k, d), []).append(j)
    return out


def _heads_cv(kern: Kernels, heads: Heads, t: np.ndarray, base: np.ndarray, rows: np.ndarray, fold: np.ndarray,
              d: int, grid: Sequence[float]) -> np.ndarray:
    """(len(grid), len(rows)) held-out ensemble predictions (mean over members of tanh) of dimension d."""
    pred = np.zeros((len(grid), len(rows)))
    members = heads.members()
    for f in np.unique(fold):
        tr, te = rows[fold != f], rows[fold == f]
        for (p, k, _), js in _by_kernel(kern, heads, d).items():
            K = kern.kernel(p, k, d)
            A, C = ridge_toward_prior(K[np.ix_(tr, tr)], t[tr, None] - base[tr][:, js], grid)  # (L, n, J), (L, J)
            Kte = K[np.ix_(te, tr)]
            for g, lam in enumerate(grid):
                pred[g, fold == f] += np.tanh(base[te][:, js] + lam * Kte @ A[g] + C[g]).sum(axis=1)
    return pred / len(members)


def _fit_dim(kern: Kernels, parent: Heads, out: Heads, t: np.ndarray, base: np.ndarray, r: np.ndarray, d: int,
             lam: float) -> Heads:
    """``out`` with dimension ``d`` of every member refitted on rows ``r`` at strength ``lam``."""
    out = out.copy()
    members = parent.members()
    for (p0, k0, _), js in _by_kernel(kern, parent, d).items():
        A, C = ridge_toward_prior(kern.kernel(p0, k0, d)[np.ix_(r, r)], t[r, None] - base[r][:, js, d], [lam])
        for col, j in enumerate(js):
            p, k = members[j]
            out.W[p][k, :, d] = parent.W[p][k, :, d] + kern.delta(p, k, d, r, A[0][:, col], lam)
            out.b[p][k, d] = parent.b[p][k, d] + C[0][col]
    return out


def fit_heads(Z: Sequence[np.ndarray], targets: np.ndarray, groups: np.ndarray, parent: Heads, *,
              rows: np.ndarray | None = None, kernels: Kernels | None = None, gram: list | None = None,
              alpha: list | None = None, grid: Sequence[float] | None = None, folds: int = 5, seed: int = 0,
              guard: Callable[[int, Heads], bool] | None = None
              ) -> tuple[Heads, np.ndarray, dict[str, Any]]:  # long: CV per dimension, then the fit
    """Refit every member's head on the new rows toward ``parent`` (see the module docstring).

    ``Z`` per part (N, K, F) standardised features (any columns: the fit never assumes which),
    ``targets`` (N, 3) canonical with NaN = unrated, ``groups`` (N,) the CV groups, ``rows`` the
    rows to fit on (default all; ``kernels`` built over all N rows can be shared between calls).
    ``gram`` / ``alpha`` given: the parent's training rows are the prior (heads ``rows``, grid
    :data:`ROW_WEIGHTS`); else the isotropic prior (grid :data:`PRIOR_LAMS`). The strength per
    dimension is chosen by grouped CV with the one-standard-error rule. Returns the heads, the
    (len(rows), 3) held-out raw ensemble predictions at the chosen strengths (for the
    calibration) and what was chosen. ``guard(d, heads)``: whether heads refitted on dimension d
    are acceptable elsewhere (the original sets); a refused strength gives way to the next smaller."""
    kern = kernels or Kernels(Z, gram, alpha)
    grid = tuple(grid or (PRIOR_LAMS if kern.gram is None else ROW_WEIGHTS))
    rows = np.arange(len(targets)) if rows is None else np.asarray(rows)
    new = parent.copy()
    base = member_logits(Z, parent)  # (N, M, 3)
    held = np.tanh(base[rows]).mean(axis=1)  # the parent's predictions never saw these rows
    info: dict[str, Any] = {"prior": "isotropic" if kern.gram is None else "training rows", "grid": list(grid),
                            "lam": {}}
    for d in range(targets.shape[1]):
        r = rows[np.isfinite(targets[rows, d])]
        if len(r) < MIN_ROWS or len(np.unique(groups[r])) < 3:
            continue
        t = link(targets[:, d])
        sq, cvs = np.zeros((len(grid), len(r))), []
        for rep in range(CV_REPEATS):  # repeated grouped CV: a steadier choice with few ratings
            fold = group_folds(groups[r], folds, seed + 17 * rep)
            cvs.append(_heads_cv(kern, parent, t, base[:, :, d], r, fold, d, grid))  # (L, len(r))
            sq += np.stack([affine_sq(c, targets[r, d]) for c in cvs[-1]]) / CV_REPEATS
        i = one_se_choice(group_means(sq, groups[r]))
        trial = _fit_dim(kern, parent, new, t, base, r, d, float(grid[i])) if grid[i] else new
        while grid[i] and guard is not None and not guard(d, trial):
            i -= 1  # the original sets refuse it: the next smaller strength
            trial = _fit_dim(kern, parent, new, t, base, r, d, float(grid[i])) if grid[i] else new
        info["lam"][str(d)] = float(grid[i])
        if grid[i]:  # else the parent's head, bias included (held stays the parent's predictions)
            held[np.isin(rows, r), d] = cvs[0][i]
            new = trial
    return new, held, info


# ----------------------------------------------------------------------------- calibration


def _blend(parent: Cal, pred: np.ndarray, y: np.ndarray, n0: float) -> Cal:
    """Variance matching on (pred, y), blended with ``parent`` at weight n / (n + n0) per dimension."""
    scale, shift, _ = fit_variance_matching(pred, y, min_rows=3)
    n = (np.isfinite(pred).all(1)[:, None] & np.isfinite(y)).sum(0).astype(np.float64)  # (3,)
    w = n / np.maximum(n + n0, 1e-12) if np.isfinite(n0) else np.zeros(3)
    w = np.where(n >= 3, w, 0.0)
    return Cal(w * scale + (1 - w) * parent.scale, w * shift + (1 - w) * parent.shift)


def fit_domain_calibration(raw_mean: np.ndarray, targets: np.ndarray, parent: Cal, *, n0: float = CAL_N0) -> Cal:
    """The new domain's map: variance matching of ``raw_mean`` (N, 3), the ensemble's raw held-out
    predictions, to ``targets``, blended with ``parent`` at weight n / (n + n0) per dimension
    (the parent's map counts as ``n0`` rated images)."""
    c = _blend(parent, raw_mean, targets, n0)
    n = (np.isfinite(raw_mean).all(1)[:, None] & np.isfinite(targets)).sum(0)
    keep = n < MIN_ROWS
    scale, shift = np.where(keep, parent.scale, c.scale), np.where(keep, parent.shift, c.shift)
    return Cal(scale, shift, {"method": "variance matching on the new ratings (held-out predictions), blended "
                                        f"with the parent's map at weight n / (n + {n0:g})",
                              "rows": {DIMS[d]: int(n[d]) for d in range(len(DIMS))}})


def fit_pooled_calibration(raw_old: np.ndarray, y_old: np.ndarray, raw_new: np.ndarray, y_new: np.ndarray) -> Cal:
    """One map for every domain: variance matching on the training sets' out-of-fold predictions
    and the new rows' held-out predictions together, the new domain weighing as much as the
    training sets together (else a few hundred new rows would hardly move it)."""
    P, Y = np.concatenate([raw_old, raw_new]), np.concatenate([y_old, y_new])
    w = np.concatenate([np.full(len(raw_old), 1.0 / max(len(raw_old), 1)), np.full(len(raw_new), 1.0 / max(len(raw_new), 1))])
    scale, shift = np.ones(len(DIMS)), np.zeros(len(DIMS))
    for d in range(len(DIMS)):
        ok = np.isfinite(P[:, d]) & np.isfinite(Y[:, d])
        if ok.sum() < MIN_ROWS:
            continue
        mp, my = np.average(P[ok, d], weights=w[ok]), np.average(Y[ok, d], weights=w[ok])
        sp = np.sqrt(np.average((P[ok, d] - mp) ** 2, weights=w[ok]))
        sy = np.sqrt(np.average((Y[ok, d] - my) ** 2, weights=w[ok]))
        if sp > 1e-9:
            scale[d] = min(6.0, sy / sp)
            shift[d] = my - scale[d] * mp
    return Cal(scale, shift, {"method": "variance matching on the training sets' out-of-fold and the new rows' "
                                        "held-out predictions, each domain weighing one half"})


def limit_calibration(cal: Cal, toward: Cal, ok: Callable[[Cal], bool],
                      steps: Sequence[float] = (1.0, 0.75, 0.5, 0.25, 0.0)) -> Cal:
    """The first map ``toward + s (cal - toward)`` (s in ``steps``) that ``ok`` accepts: a domain's
    calibration stretched only as far as the original sets allow (an affine map clamped to [-1, 1]
    saturates the other domains' extreme predictions)."""
    for s in steps:
        c = Cal(toward.scale + s * (cal.scale - toward.scale), toward.shift + s * (cal.shift - toward.shift),
                {**cal.info, "toward_pooled": 1.0 - s})
        if s == steps[-1] or ok(c):
            return c
    return toward


__all__ = ["AUTO", "CAL_N0", "CV_REPEATS", "Cal", "Heads", "Kernels", "METHODS", "MIN_ROWS", "NEEDS_ROWS", "PRIOR_LAMS", "ROW_WEIGHTS",
           "affine_sq", "fit_domain_calibration", "limit_calibration", "group_means", "fit_heads", "fit_pooled_calibration", "group_folds", "link",
           "member_logits", "member_raw", "one_se_choice", "predict"]
