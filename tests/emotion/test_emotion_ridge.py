"""The one ridge solver: RidgeFitter (sufficient statistics, grouped CV) and its thin users
ridge_fit_predict / ridge_cv give the same numbers as a direct SVD ridge with the same inner CV."""

from __future__ import annotations

import numpy as np
import pytest

from qdemo.emotion.ridge import RidgeFitter, ridge_cv, ridge_fit_predict
from qdemo.emotion.splits import fold_ids, grouped_kfold, kfold


def _svd_ridge(Xtr, Ytr, Xte, alphas):
    """(A, n_test, C) ridge predictions for every alpha: X standardised on the training rows,
    unpenalised intercept, one SVD (the direct solution the fitter must reproduce)."""
    mu, sd = Xtr.mean(0), Xtr.std(0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    U, s, Vt = np.linalg.svd((Xtr - mu) / sd, full_matrices=False)
    ym = Ytr.mean(0)
    shrink = s[None] / (s[None] ** 2 + np.asarray(alphas, float)[:, None])  # (A, r)
    return np.einsum("tr,ar,rc->atc", ((Xte - mu) / sd) @ Vt.T, shrink, U.T @ (Ytr - ym)) + ym


def _reference_fit_predict(X, Y, Xte, alphas, groups, inner_k, seed):
    """Per presence pattern: alpha by inner k-fold CV (grouped when possible), then refit on all."""
    preds = np.full((len(Xte), Y.shape[1]), np.nan)
    chosen = np.full(Y.shape[1], np.nan)
    present = np.isfinite(Y)
    for j in range(Y.shape[1]):
        ok = present[:, j]
        if ok.sum() <= inner_k:
            continue
        Xj, yj = X[ok], Y[ok][:, [j]]
        g = None if groups is None else groups[ok]
        folds = grouped_kfold(g, inner_k, seed) if g is not None and len(np.unique(g)) >= inner_k \
            else kfold(len(yj), inner_k, seed)
        sse = np.zeros(len(alphas))
        for tr, te in folds:
            sse += ((_svd_ridge(Xj[tr], yj[tr], Xj[te], alphas)[:, :, 0] - yj[te, 0]) ** 2).sum(1)
        best = alphas[int(np.argmin(sse))]
        preds[:, j] = _svd_ridge(Xj, yj, Xte, [best])[0, :, 0]
        chosen[j] = best
    return preds, chosen


@pytest.mark.parametrize("seed", range(6))
def test_ridge_fit_predict_is_the_direct_solution(seed: int):
    rng = np.random.default_rng(seed)
    n, f = int(rng.integers(40, 120)), int(rng.integers(3, 30))
    X = rng.normal(size=(n, f)) * rng.uniform(0.2, 5, f) + rng.normal(size=f) * 3
    Y = X @ rng.normal(size=(f, 3)) * 0.05 + rng.normal(size=(n, 3))
    Y[rng.random(n) < 0.2, 1] = np.nan  # a partly rated dimension (its own rows, its own inner folds)
    groups = rng.integers(0, n // 3, n).astype(str) if seed % 2 else None
    Xte = rng.normal(size=(7, f)) * 2
    alphas = np.logspace(-2, 4, 9)
    pred, chosen = ridge_fit_predict(X, Y, Xte, alphas, groups=groups, seed=seed)
    ref, ref_chosen = _reference_fit_predict(X, Y, Xte, alphas, groups, 5, seed)
    np.testing.assert_array_equal(chosen, ref_chosen)
    np.testing.assert_allclose(pred, ref, rtol=1e-8, atol=1e-10)


def test_ridge_cv_is_out_of_fold_direct_ridge():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(90, 6))
    y = X @ rng.normal(size=6) + rng.normal(size=90)
    folds = kfold(90, 3, seed=1)
    pred, alphas = ridge_cv(X, y, folds, alphas=[0.1, 10.0, 1e3], seed=2, return_alphas=True)
    for f, (tr, te) in enumerate(folds):
        ref, al = _reference_fit_predict(X[tr], y[tr, None], X[te], np.array([0.1, 10.0, 1e3]), None, 5, 2 + f)
        assert alphas[f] == al[0]
        np.testing.assert_allclose(pred[te], ref[:, 0], rtol=1e-8)


def test_fitter_heads_match_the_closed_form_for_both_links():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 4)) + 2.0
    Y = np.tanh(X @ rng.normal(size=(4, 2)) * 0.3)
    fold = np.arange(60) % 3
    for link, target in (("identity", Y), ("tanh", np.arctanh(np.clip(Y, -0.95, 0.95)))):
        fitter = RidgeFitter(X[None], Y, fold, alphas=[3.0], link=link, min_rows=1)
        W, B, alpha = fitter.fit(fitter.keys(lambda f, b: True), np.zeros(4), np.ones(4))
        assert alpha.tolist() == [3.0, 3.0]
        ref = _svd_ridge(X, target, X, [3.0])[0]  # (60, 2) on the link scale
        np.testing.assert_allclose(X @ W + B, ref, rtol=1e-9, atol=1e-12)


def test_too_few_rows_to_vote_fall_back_to_the_median_penalty():
    """With 3 folds of 4 rows and min_rows 10, no held-out fold leaves enough rows: the penalty
    is the median of the grid (not the smallest), and fitting still works."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(12, 3)), rng.normal(size=(12, 1)) * 0.2
    fitter = RidgeFitter(X[None], Y, fold_ids(kfold(12, 3, 0), 12), alphas=[0.1, 1.0, 100.0])
    keys = fitter.keys(lambda f, b: True)
    assert fitter.choose_alpha(keys).tolist() == [1.0]
    W, B, _ = fitter.fit(keys, X.mean(0), X.std(0))
    assert np.isfinite(W).all() and np.isfinite(B).all()
