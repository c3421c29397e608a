"""Heads that read the pooled features and the semantic channel (:mod:`qdemo.emotion.semantic`).

A ridge over ~2000 pooled features with one penalty shrinks five semantic columns as hard as
every other column, so the channel is joined by *stacking*, fitted inside the training rows:

1. the ridge head on the pooled features (:class:`~qdemo.emotion.ridge.RidgeFitter`, alpha by
   leaving folds out), as without the channel;
2. its out-of-fold logits on the training rows (fold j scored by a ridge fitted on the other
   training folds), then per dimension a small ridge (``stack_l2`` on standardised inputs,
   logit unpenalised) of the target's ``atanh`` on ``[logit_d, semantic_d]``: the word-norm
   valence for valence, arousal for arousal, dominance for dominance;
3. both stages are linear before the ``tanh``, so they merge into one head over
   ``[pooled, semantic]`` features: the weights file and the model stay as without stacking.

Measured on the joint folds (Lite0 224, docs/emotion-model.md): the own-dimension stack did as
well as stacking all five semantic columns, at any ``stack_l2`` from 1 to 300.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from qdemo.emotion.ridge import TARGET_CLIP, RidgeFitter

STACK_MIN_ROWS = 30
"""Below this many out-of-fold rows for a dimension the stack keeps the ridge head unchanged."""


def _stack_one(logit: np.ndarray, sem: np.ndarray, y: np.ndarray, l2: float) -> tuple[float, float, float,
                                                                                       dict[str, float]]:
    """``(a, v, c)`` with ``atanh(y) ~ a * logit + v * sem + c`` (ridge on standardised inputs,
    the logit unpenalised), in raw units; identity when too few rows."""
    ok = np.isfinite(logit) & np.isfinite(sem) & np.isfinite(y)
    if ok.sum() < STACK_MIN_ROWS or sem[ok].std() < 1e-9 or logit[ok].std() < 1e-9:
        return 1.0, 0.0, 0.0, {"rows": int(ok.sum())}
    X = np.column_stack([logit[ok], sem[ok]])
    mu, sd = X.mean(0), X.std(0)
    Z = np.column_stack([(X - mu) / sd, np.ones(len(X))])
    P = np.diag([0.0, l2, 0.0])
    t = np.arctanh(np.clip(y[ok], -TARGET_CLIP, TARGET_CLIP))
    w = np.linalg.solve(Z.T @ Z + P, Z.T @ t)
    a, v = w[0] / sd[0], w[1] / sd[1]
    c = w[2] - a * mu[0] - v * mu[1]
    return float(a), float(v), float(c), {"rows": int(ok.sum()), "std_weight_logit": float(w[0]),
                                          "std_weight_semantic": float(w[1])}


class HeadFitter:
    """Ridge heads over pooled features, stacked with the semantic columns when there are any.

    Args:
        feats: (V, N, F) raw features: ``n_pooled`` pooled columns, then the semantic ones.
        targets, fold, blocks, alphas, progress: as :class:`~qdemo.emotion.ridge.RidgeFitter`.
        n_pooled: how many leading columns are pooled backbone features (F = no semantic channel).
        stack_l2: penalty of the semantic weight in the stack (standardised units).
    """

    def __init__(self, feats: np.ndarray, targets: np.ndarray, fold: np.ndarray, *, n_pooled: int,
                 blocks: np.ndarray | None = None, alphas: Sequence[float] = (), stack_l2: float = 1.0,
                 progress: bool = False):
        kw: dict[str, Any] = {"blocks": blocks, "progress": progress}
        if len(alphas):
            kw["alphas"] = alphas
        self.n_pooled = int(n_pooled)
        self.n_semantic = feats.shape[2] - self.n_pooled
        self.ridge = RidgeFitter(np.ascontiguousarray(feats[..., :self.n_pooled]), targets, fold, **kw)
        self.sem = np.asarray(feats[0, :, self.n_pooled:], np.float64)  # (N, S), view 0
        self.X0 = self.ridge.feats0
        self.targets = np.asarray(targets, np.float64)
        self.stack_l2 = float(stack_l2)
        self.stacks: list[dict[str, Any]] = []
        """What each :meth:`fit` stacked: per dimension (a, v, c) and the rows (for the weights metadata)."""

    def keys(self, keep) -> frozenset:
        return self.ridge.keys(keep)

    def _logits(self, keys: frozenset, gmu: np.ndarray, gsd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``keys`` and their out-of-fold ridge logits (fold j by a fit on the other folds)."""
        rows, out = [], []
        for j in sorted({f for f, _ in keys}):
            sub = frozenset(k for k in keys if k[0] != j)
            rj = self.ridge._rows(keys, j)
            if not sub or not len(rj) or not self.ridge._full_dims(self.ridge._sum(sub)):
                continue
            W, B, _ = self.ridge.fit(sub, gmu, gsd)
            rows.append(rj)
            out.append(((self.X0[rj] - gmu) / gsd) @ W + B)
        if not rows:
            return np.zeros(0, int), np.zeros((0, self.targets.shape[1]))
        return np.concatenate(rows), np.concatenate(out)

    def fit(self, keys: frozenset, gmu: np.ndarray, gsd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One head on the rows of ``keys``: (weight (F, D), bias (D,), alpha (D,)) in the model's
        standardisation (``gmu``, ``gsd`` over all F columns)."""
        P = self.n_pooled
        W1, B1, alpha = self.ridge.fit(keys, gmu[:P], gsd[:P])
        if not self.n_semantic:
            return W1, B1, alpha
        D = W1.shape[1]
        W = np.zeros((P + self.n_semantic, D))
        W[:P] = W1
        B = B1.copy()
        rows, logit = self._logits(keys, gmu[:P], gsd[:P])
        stack = {}
        for d in range(D):
            if d >= self.n_semantic:
                continue
            a, v, c, info = _stack_one(logit[:, d], self.sem[rows, d], self.targets[rows, d], self.stack_l2)
            # a * (W1 z + B1) + v * s + c, with s = gmu_s + gsd_s * z_s in the model's standardisation
            W[:P, d] = a * W1[:, d]
            W[P + d, d] = v * gsd[P + d]
            B[d] = a * B1[d] + v * gmu[P + d] + c
            stack[d] = {"a": a, "v": v, "c": c, **info}
        self.stacks.append(stack)
        return W, B, alpha

    def fit_members(self, key_sets: list[frozenset], gmu: np.ndarray, gsd: np.ndarray) -> dict[str, np.ndarray]:
        """One head per key set: {'weight' (K, F, D), 'bias' (K, D), 'alpha' (K, D)}."""
        from tqdm import tqdm

        out = [self.fit(k, gmu, gsd) for k in tqdm(key_sets, desc="heads", disable=not self.ridge.progress)]
        return {"weight": np.stack([o[0] for o in out]), "bias": np.stack([o[1] for o in out]),
                "alpha": np.stack([o[2] for o in out])}


__all__ = ["HeadFitter", "STACK_MIN_ROWS"]
