"""Honest cross-validation splits: grouped (OASIS themes never straddle) and stratified.

Every function returns a list of ``(train_idx, test_idx)`` pairs of sorted int64
indices; the test parts partition ``range(N)``. Each call owns its seeded generator.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Fold = tuple[np.ndarray, np.ndarray]


def _as_labels(x: Sequence | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    return arr.astype(str)


def _folds_from_assignment(fold_of: np.ndarray, k: int) -> list[Fold]:
    n = len(fold_of)
    out = []
    for f in range(k):
        test = np.flatnonzero(fold_of == f).astype(np.int64)
        train = np.setdiff1d(np.arange(n, dtype=np.int64), test, assume_unique=True)
        out.append((train, test))
    return out


def grouped_kfold(groups: Sequence | np.ndarray, k: int = 5, seed: int = 0) -> list[Fold]:
    """k folds in which no group has members on both sides (OASIS: themes).

    Groups are shuffled with ``seed`` and then placed, largest first, into the fold with
    the fewest images so far, so fold sizes stay balanced (within one group's size).
    """
    g = _as_labels(groups, "groups")
    uniq, inv, counts = np.unique(g, return_inverse=True, return_counts=True)
    if k < 2:
        raise ValueError(f"k must be >= 2, got {k}")
    if len(uniq) < k:
        raise ValueError(f"cannot make {k} grouped folds from {len(uniq)} groups")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    order = order[np.argsort(-counts[order], kind="stable")]  # largest first, random among ties
    load = np.zeros(k, dtype=np.int64)
    fold_of_group = np.empty(len(uniq), dtype=np.int64)
    for gi in order:
        f = int(np.argmin(load + rng.random(k) * 1e-3))  # random tie-break
        fold_of_group[gi] = f
        load[f] += counts[gi]
    return _folds_from_assignment(fold_of_group[inv], k)


def stratified_kfold(strata: Sequence | np.ndarray, k: int = 5, seed: int = 0) -> list[Fold]:
    """k folds with each stratum (Emotion6 folder) spread evenly over the folds."""
    s = _as_labels(strata, "strata")
    if k < 2:
        raise ValueError(f"k must be >= 2, got {k}")
    if len(s) < k:
        raise ValueError(f"cannot make {k} folds from {len(s)} items")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(s), dtype=np.int64)
    offset = 0
    for label in np.unique(s):
        idx = rng.permutation(np.flatnonzero(s == label))
        fold_of[idx] = (np.arange(len(idx)) + offset) % k
        offset = (offset + len(idx)) % k  # next stratum continues where this one stopped
    return _folds_from_assignment(fold_of, k)


def kfold(n: int, k: int = 5, seed: int = 0) -> list[Fold]:
    """Plain shuffled k folds over ``n`` items."""
    return stratified_kfold(np.zeros(n, dtype=int), k=k, seed=seed)


def assert_no_group_leak(groups: Sequence | np.ndarray, train: np.ndarray, test: np.ndarray) -> None:
    """Raise AssertionError if train and test share an index or any group."""
    g = _as_labels(groups, "groups")
    train, test = np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)
    both = np.intersect1d(train, test)
    if both.size:
        raise AssertionError(f"{both.size} indices are in both train and test (e.g. {both[:5].tolist()})")
    leak = np.intersect1d(g[train], g[test])
    if leak.size:
        raise AssertionError(f"{leak.size} groups straddle train and test: {leak[:5].tolist()}")


def fold_ids(folds: Sequence[Fold], n: int) -> np.ndarray:
    """(N,) the test fold of each item (-1 if in no test part)."""
    out = np.full(n, -1, dtype=np.int64)
    for f, (_, test) in enumerate(folds):
        out[np.asarray(test, dtype=np.int64)] = f
    return out


def default_folds(rated_set, k: int = 5, seed: int = 0) -> tuple[list[Fold], str]:
    """The honest split for a :class:`~qdemo.emotion.datasets.RatedSet` and its description.

    Grouped k-fold when some images share a group (OASIS: by theme), else k-fold
    stratified by ``strata`` (Emotion6: by folder). The description goes into every report.
    """
    groups = np.asarray(rated_set.groups, dtype=str)
    by = rated_set.info.get("group_by", "group")
    if len(np.unique(groups)) < len(groups):
        folds = grouped_kfold(groups, k=k, seed=seed)
        return folds, f"{k}-fold grouped by {by} (no group in both train and test), seed {seed}"
    strata_by = rated_set.info.get("strata_by", "stratum")
    folds = stratified_kfold(rated_set.strata, k=k, seed=seed)
    return folds, f"{k}-fold stratified by {strata_by}, seed {seed}"


__all__ = ["Fold", "assert_no_group_leak", "default_folds", "fold_ids", "grouped_kfold", "kfold",
           "stratified_kfold"]
