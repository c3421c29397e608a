"""The one ridge solver: closed-form ridge from sufficient statistics, alpha by grouped CV.

:class:`RidgeFitter` fits heads on any union of (fold, block) parts of the data from
per-part sufficient statistics (sums and cross products), chooses the penalty per target
by leaving each of those folds out in turn, and handles targets with missing rows. The
training of the searcher and critic uses it directly (``link="tanh"``: the targets are
``atanh`` of the ratings because the model's output is ``tanh`` of its head); the baselines
use it through :func:`ridge_fit_predict` and :func:`ridge_cv` (``link="identity"``, the
folds of the inner cross-validation built from ``groups``).

Every fit standardises the features on its training rows and leaves the intercept
unpenalised: for standardised, centred features Z and centred targets y it solves
``(Z'Z + alpha I) beta = Z'y`` through the eigendecomposition of ``Z'Z``, which serves all
alphas at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 6, 19))
"""Penalties :func:`ridge_fit_predict` and :func:`ridge_cv` choose from by default."""
TARGET_CLIP = 0.95
"""``link="tanh"`` fits ``atanh`` of the targets clipped to +-this (keeps atanh finite)."""
LINKS = ("tanh", "identity")


# ----------------------------------------------------------------------------- statistics


@dataclass
class _Stats:
    """Sufficient statistics of a block of rows for ridge regression (float64)."""

    n: np.ndarray  # (D,) rows with the target present
    sx: np.ndarray  # (D, F) sum of features over those rows
    xx: np.ndarray  # (F, F) feature cross products over all rows
    miss: dict  # d -> (F, F) cross products over the rows where target d is missing
    sy: np.ndarray  # (D,)
    yy: np.ndarray  # (D,)
    xy: np.ndarray  # (D, F)

    def __add__(self, other: "_Stats") -> "_Stats":
        miss = dict(self.miss)
        for d, m in other.miss.items():
            miss[d] = miss[d] + m if d in miss else m
        return _Stats(self.n + other.n, self.sx + other.sx, self.xx + other.xx, miss, self.sy + other.sy,
                      self.yy + other.yy, self.xy + other.xy)

    def gram(self, d: int) -> np.ndarray:
        return self.xx - self.miss[d] if d in self.miss else self.xx


def _block_stats(X: np.ndarray, Y: np.ndarray) -> _Stats:
    """X (R, F) features, Y (R, D) targets with NaN = missing -> :class:`_Stats`."""
    R, Fd = X.shape
    D = Y.shape[1]
    n, sx, sy, yy, xy = np.zeros(D), np.zeros((D, Fd)), np.zeros(D), np.zeros(D), np.zeros((D, Fd))
    miss = {}
    for d in range(D):
        ok = np.isfinite(Y[:, d])
        n[d] = ok.sum()
        sx[d] = X[ok].sum(0)
        if (~ok).any():
            miss[d] = X[~ok].T @ X[~ok]
        y = Y[ok, d]
        sy[d], yy[d] = y.sum(), (y * y).sum()
        xy[d] = X[ok].T @ y
    return _Stats(n, sx, X.T @ X, miss, sy, yy, xy)


def _eig_problem(st: _Stats, d: int) -> dict[str, np.ndarray]:
    """Standardised Gram matrix of the rows where target ``d`` is present, eigendecomposed."""
    n = st.n[d]
    mu = st.sx[d] / n
    cov = st.gram(d) / n - np.outer(mu, mu)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    sd = np.where(sd > 1e-8, sd, 1.0)
    G = cov * n / np.outer(sd, sd)  # Z'Z of the standardised, centred features
    lam, Q = np.linalg.eigh(G)
    return {"n": n, "mu": mu, "sd": sd, "lam": np.clip(lam, 0, None), "Q": Q}


def _solve_ridge(st: _Stats, alpha: float, d: int, eig: dict | None = None
                 ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Ridge for target ``d`` from statistics, features standardised on these rows.

    Returns (beta (F,) on standardised features, intercept, mean (F,), sd (F,))."""
    e = eig if eig is not None else _eig_problem(st, d)
    n, mu, sd, lam, Q = e["n"], e["mu"], e["sd"], e["lam"], e["Q"]
    ym = st.sy[d] / n
    zy = (st.xy[d] - mu * st.sy[d]) / sd  # Z'y with centred, standardised Z
    beta = Q @ ((Q.T @ zy) / (lam + alpha))
    return beta, float(ym), mu, sd


def _to_model_space(beta: np.ndarray, b0: float, mu: np.ndarray, sd: np.ndarray, gmu: np.ndarray,
                    gsd: np.ndarray) -> tuple[np.ndarray, float]:
    """Re-express a head fitted on features standardised with (mu, sd) for the model's (gmu, gsd)."""
    w = beta / sd * gsd
    b = b0 + float(np.sum(beta * (gmu - mu) / sd))
    return w, b


# ----------------------------------------------------------------------------- the fitter


class RidgeFitter:
    """Ridge heads from per-(fold, block) sufficient statistics, with grouped inner CV for alpha.

    Args:
        feats: (V, N, F) raw features; every view is a training row, view 0 (the image as
            it is) is what validation rows are scored on.
        targets: (N, D) targets, NaN = missing (masked per dimension).
        fold: (N,) fold of each row. Folds are grouped (OASIS themes never in two folds), so
            choosing alpha by leaving whole folds out is honest where leave-one-out (GCV) is not:
            near-duplicate rows (mirror views, images of one theme) make LOO pick too small a penalty.
        blocks: (N,) a second partition (the data set) so that fits on one set only reuse the
            statistics (cross-dataset).
        alphas: penalties to choose from.
        link: ``"tanh"`` (targets are canonical ratings; fit ``atanh`` of them clipped to
            +-:data:`TARGET_CLIP`, predict ``tanh``) or ``"identity"`` (plain linear ridge).
        min_rows: a dimension with fewer target rows is not fitted (weight 0, alpha NaN).

    A fit on a set of (fold, block) keys chooses alpha for each fully present dimension by
    leaving each of its folds out in turn (sum of squared errors of ``link(prediction)`` on
    view 0); a dimension with missing rows (dominance, a proxy) takes the alpha chosen for the
    first fully present one.
    """

    def __init__(self, feats: np.ndarray, targets: np.ndarray, fold: np.ndarray, *, blocks: np.ndarray | None = None,
                 alphas: Sequence[float] = DEFAULT_ALPHAS, link: str = "tanh", min_rows: int = 10,
                 progress: bool = False):
        if link not in LINKS:
            raise ValueError(f"link must be one of {LINKS}, got {link!r}")
        V, N, Fd = feats.shape
        self.feats0 = feats[0]
        self.targets = np.asarray(targets, np.float64)
        self.link = link
        self.min_rows = int(min_rows)
        if link == "tanh":
            self.Yt = np.arctanh(np.clip(self.targets, -TARGET_CLIP, TARGET_CLIP))  # NaN stays NaN
        else:
            self.Yt = self.targets
        self.fold = np.asarray(fold)
        self.blocks = np.zeros(N, dtype=int) if blocks is None else np.asarray(blocks)
        self.alphas = np.asarray(alphas, dtype=np.float64)
        self.D = self.targets.shape[1]
        self.stats: dict[tuple, _Stats] = {}
        self._eig: dict[frozenset, dict] = {}
        self.progress = progress
        for f in np.unique(self.fold):
            for bl in np.unique(self.blocks):
                rows = np.flatnonzero((self.fold == f) & (self.blocks == bl))
                if len(rows):
                    X = feats[:, rows].reshape(-1, Fd).astype(np.float64)
                    self.stats[(f, bl)] = _block_stats(X, np.tile(self.Yt[rows], (V, 1)))

    def _out(self, z: np.ndarray) -> np.ndarray:
        """The link's inverse: head output -> prediction on the targets' scale."""
        return np.tanh(z) if self.link == "tanh" else z

    def keys(self, keep: Callable[[Any, Any], bool]) -> frozenset:
        """The (fold, block) keys for which ``keep(fold, block)`` is true."""
        return frozenset(k for k in self.stats if keep(*k))

    def _sum(self, keys: frozenset) -> _Stats:
        sel = [self.stats[k] for k in sorted(keys, key=str)]
        out = sel[0]
        for s_ in sel[1:]:
            out = out + s_
        return out

    def _full_dims(self, st: _Stats) -> list[int]:
        return [d for d in range(self.D) if d not in st.miss and st.n[d] >= self.min_rows]

    def _eig_full(self, keys: frozenset, st: _Stats) -> dict:
        """Eigendecomposition for the dims with every row present (shared), cached by key set."""
        if keys not in self._eig:
            d0 = self._full_dims(st)[0]
            self._eig[keys] = _eig_problem(st, d0)
        return self._eig[keys]

    def _rows(self, keys: frozenset, fold: Any) -> np.ndarray:
        bl = {b for f, b in keys if f == fold}
        return np.flatnonzero((self.fold == fold) & np.isin(self.blocks, list(bl)))

    def choose_alpha(self, keys: frozenset) -> np.ndarray:
        """(D,) alpha per dimension by leaving each fold of ``keys`` out in turn."""
        folds = sorted({f for f, _ in keys})
        st_all = self._sum(keys)
        full = self._full_dims(st_all)
        sse = np.zeros((len(self.alphas), self.D))
        if len(folds) < 2 or not full:
            return np.full(self.D, float(np.median(self.alphas)))
        used = 0
        for j in folds:
            tr = frozenset(k for k in keys if k[0] != j)
            rows = self._rows(keys, j)
            if not tr or not len(rows):
                continue
            st = self._sum(tr)
            if not self._full_dims(st):
                continue  # too few rows left to fit without fold j: it cannot vote
            used += 1
            e = self._eig_full(tr, st)
            P = ((self.feats0[rows] - e["mu"]) / e["sd"]) @ e["Q"]  # (n_val, F)
            for d in full:
                ym = st.sy[d] / st.n[d]
                qy = e["Q"].T @ ((st.xy[d] - e["mu"] * st.sy[d]) / e["sd"])
                pred = self._out(P @ (qy[:, None] / (e["lam"][:, None] + self.alphas[None])) + ym)  # (n_val, A)
                y = self.targets[rows, d]
                ok = np.isfinite(y)
                sse[:, d] += ((pred[ok] - y[ok, None]) ** 2).sum(0)
        if not used:
            return np.full(self.D, float(np.median(self.alphas)))
        best = self.alphas[np.argmin(sse, axis=0)]
        out = np.array([best[d] if d in full else best[full[0]] for d in range(self.D)])
        return out

    def fit(self, keys: frozenset, gmu: np.ndarray, gsd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One head on the rows of ``keys``: (weight (F, D), bias (D,), alpha (D,)) in the model's
        standardisation (``gmu``, ``gsd``; zeros and ones give raw-feature weights). A dimension
        with fewer than ``min_rows`` rows stays 0 (predicts the link's neutral value)."""
        alpha = self.choose_alpha(keys)
        st = self._sum(keys)
        Fd = len(gmu)
        W, B = np.zeros((Fd, self.D)), np.zeros(self.D)
        full = self._full_dims(st)
        for d in range(self.D):
            if st.n[d] < self.min_rows:
                alpha[d] = np.nan
                continue
            e = self._eig_full(keys, st) if d in full else _eig_problem(st, d)
            beta, b0, mu, sd = _solve_ridge(st, float(alpha[d]), d, e)
            W[:, d], B[d] = _to_model_space(beta, b0, mu, sd, gmu, gsd)
        return W, B, alpha

    def fit_members(self, key_sets: list[frozenset], gmu: np.ndarray, gsd: np.ndarray) -> dict[str, np.ndarray]:
        """One head per key set: {'weight' (K, F, D), 'bias' (K, D), 'alpha' (K, D)}."""
        from tqdm import tqdm

        out = [self.fit(k, gmu, gsd) for k in tqdm(key_sets, desc="ridge heads", disable=not self.progress)]
        return {"weight": np.stack([o[0] for o in out]), "bias": np.stack([o[1] for o in out]),
                "alpha": np.stack([o[2] for o in out])}


def predict_heads(feats: np.ndarray, heads: dict, gmu: np.ndarray, gsd: np.ndarray) -> np.ndarray:
    """(N, F) raw features -> (N, K, D) predictions on [-1, 1] (as the model computes them)."""
    Z = (feats - gmu) / gsd
    return np.tanh(np.einsum("nf,kfd->nkd", Z, heads["weight"]) + heads["bias"][None])


# ----------------------------------------------------------------------------- plain ridge (baselines)


def _inner_fold_ids(n: int, groups: np.ndarray | None, k: int, seed: int) -> np.ndarray:
    """(n,) inner-CV fold of each row: grouped k-fold when there are enough groups, else k-fold."""
    from qdemo.emotion.splits import fold_ids, grouped_kfold, kfold

    if groups is not None and len(np.unique(groups)) >= k:
        return fold_ids(grouped_kfold(groups, k=k, seed=seed), n)
    return fold_ids(kfold(n, k=min(k, n), seed=seed), n)


def ridge_fit_predict(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray,
                      alphas: Sequence[float] | None = None, *, groups: np.ndarray | None = None,
                      inner_k: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fit ridge on the training rows (alpha chosen per target column by inner k-fold CV,
    grouped by ``groups`` when given) and predict the test rows, with :class:`RidgeFitter`.

    ``y_train`` (n,) or (n, D) may hold NaN (that target is unused for that row); columns
    with the same rows present share one fit. Returns (predictions (n_test, D), chosen
    alphas (D,)); a column with fewer than ``inner_k`` + 1 targets predicts NaN.
    """
    alphas = DEFAULT_ALPHAS if alphas is None else tuple(float(a) for a in alphas)
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64)
    squeeze = y.ndim == 1
    Y = y[:, None] if squeeze else y
    if len(X_train) != len(Y):
        raise ValueError(f"X_train has {len(X_train)} rows but y_train {len(Y)}")
    if not np.isfinite(X_train).all() or not np.isfinite(X_test).all():
        raise ValueError("features contain NaN or inf")
    g = None if groups is None else np.asarray(groups, dtype=str)
    preds = np.full((len(X_test), Y.shape[1]), np.nan)
    chosen = np.full(Y.shape[1], np.nan)
    present = np.isfinite(Y)  # (n, D)
    patterns: dict[bytes, list[int]] = {}
    for j in range(Y.shape[1]):
        patterns.setdefault(present[:, j].tobytes(), []).append(j)
    F = X_train.shape[1]
    for cols in patterns.values():
        ok = present[:, cols[0]]
        if ok.sum() <= inner_k:
            continue
        fold = _inner_fold_ids(int(ok.sum()), None if g is None else g[ok], inner_k, seed)
        fitter = RidgeFitter(X_train[ok][None], Y[ok][:, cols], fold, alphas=alphas, link="identity", min_rows=1)
        W, B, al = fitter.fit(fitter.keys(lambda f, b: True), np.zeros(F), np.ones(F))  # raw-feature (F, C)
        preds[:, cols] = X_test @ W + B
        chosen[cols] = al
    return (preds[:, 0], chosen) if squeeze else (preds, chosen)


def ridge_cv(features: np.ndarray, targets: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]],
             alphas: Sequence[float] | None = None, *, groups: np.ndarray | None = None,
             inner_k: int = 5, seed: int = 0, return_alphas: bool = False):
    """Out-of-fold ridge predictions: for each ``(train, test)`` in ``folds`` fit on train
    (features standardised on train, alpha by inner CV on train only, grouped by
    ``groups`` when given so that themes do not straddle the inner split either) and
    predict test.

    Args:
        features: (N, F) feature matrix (low-level features, frozen backbone features).
        targets: (N, D) targets, NaN where missing (masked per column).
        folds: outer splits, e.g. :func:`qdemo.emotion.splits.grouped_kfold`.
        alphas: ridge penalties to choose from (default :data:`DEFAULT_ALPHAS`).

    Returns:
        (N, D) out-of-fold predictions (NaN for rows in no test fold); with
        ``return_alphas`` also the (k, D) alphas chosen per fold.
    """
    X = np.asarray(features, dtype=np.float64)
    Y = np.asarray(targets, dtype=np.float64)
    squeeze = Y.ndim == 1
    if squeeze:
        Y = Y[:, None]
    if X.ndim != 2 or len(X) != len(Y):
        raise ValueError(f"features {X.shape} and targets {Y.shape} must have the same number of rows")
    g = None if groups is None else np.asarray(groups, dtype=str)
    out = np.full(Y.shape, np.nan)
    chosen = np.full((len(folds), Y.shape[1]), np.nan)
    for f, (tr, te) in enumerate(folds):
        tr, te = np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)
        pred, al = ridge_fit_predict(X[tr], Y[tr], X[te], alphas, groups=None if g is None else g[tr],
                                     inner_k=inner_k, seed=seed + f)
        out[te] = pred
        chosen[f] = al
    if squeeze:
        out, chosen = out[:, 0], chosen[:, 0]
    return (out, chosen) if return_alphas else out


# ----------------------------------------------------------------------------- ridge toward a prior head


def ridge_toward_prior(K: np.ndarray, resid: np.ndarray, lams: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Ridge toward a prior head, solved in the rows' (dual) space for every penalty in ``lams``.

    For rows with features Z (n, F), targets y and a prior head (w0, b0), the head
    ``w = w0 + d`` with a free bias shift c minimises ``|r - Z d - c|^2 + d' (lam M)^-1 d``,
    where ``r = y - Z w0 - b0`` (``resid`` (n, T): T targets sharing the kernel) and
    ``K = Z M Z'`` (n, n) is the prior's kernel: M = I / F shrinks every weight alike;
    M = (G + alpha I)^-1, G the Gram matrix of the prior's own training rows, makes the fit the
    prior's ridge with these rows added at weight ``lam`` (the Gaussian-prior reading of ridge).
    ``lam = 0`` keeps the prior's weights (only the bias moves). One eigendecomposition of K
    serves every lam. Returns ``(a (L, n, T), c (L, T))``: ``d = lam M Z' a``; a row with
    kernel values ``k`` (against these rows) moves by ``lam k a + c``."""
    s, U = np.linalg.eigh(np.asarray(K, np.float64))
    s = np.clip(s, 0, None)
    R = np.asarray(resid, np.float64)
    UtR, Ut1 = U.T @ R, U.T @ np.ones(len(R))  # (n, T), (n,)
    A, C = [], []
    for lam in lams:
        inv = 1.0 / (max(float(lam), 0.0) * s + 1.0)  # (lam K + I)^-1 in the eigenbasis
        ar, a1 = U @ (inv[:, None] * UtR), U @ (inv * Ut1)
        c = ar.sum(0) / a1.sum()  # the free bias: (1' A^-1 r) / (1' A^-1 1)
        A.append(ar - a1[:, None] * c)
        C.append(c)
    return np.stack(A), np.stack(C)


__all__ = ["DEFAULT_ALPHAS", "LINKS", "RidgeFitter", "TARGET_CLIP", "predict_heads", "ridge_cv", "ridge_fit_predict",
           "ridge_toward_prior"]
