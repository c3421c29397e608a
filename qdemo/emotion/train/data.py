"""The rated images one training run uses, with the joint folds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qdemo.emotion.train.config import RegressorConfig
from qdemo.errors import DataError


@dataclass
class TrainingData:
    """The rated images a run trains on, with the joint folds."""

    rated: Any
    """The concatenated RatedSet (targets (N, 3) canonical, NaN = missing)."""
    dataset: np.ndarray
    """(N,) which set each row comes from ('oasis', 'emotion6', 'bass', csv name)."""
    fold: np.ndarray
    """(N,) joint fold of each row (0..K-1)."""
    split: dict[str, str]
    """Per set: how it was split."""
    sources: dict[str, dict[str, str]]
    """Per set: each dimension's source ('human', 'proxy:...', 'missing')."""
    word_norms: Any = None
    """The loaded :class:`~qdemo.emotion.wordnorms.WordNorms` (None without ``data.word_norms``): the
    dominance proxy and the semantic channel's class-name norms."""


def _load_sets(cfg: RegressorConfig) -> list:
    """The configured rated sets, in the order oasis, emotion6, bass, csv."""
    from qdemo.emotion.datasets import load_bass, load_csv, load_emotion6, load_oasis

    d = cfg.data
    sets = []
    if d.oasis:
        sets.append(load_oasis(d.oasis))
    if d.emotion6:
        sets.append(load_emotion6(d.emotion6))
    if d.bass:
        sets.append(load_bass(d.bass))
    if d.csv:
        if not d.csv_scale:
            raise DataError(f"{d.csv}: data.csv_scale (the native rating scale, e.g. '1,9') is required")
        sets.append(load_csv(d.csv, scale=d.csv_scale))
    if not sets:
        raise DataError("no training data configured (data.oasis, data.emotion6, data.bass and data.csv are all null)")
    return sets


def load_training_data(cfg: RegressorConfig) -> TrainingData:
    """Load the configured sets, add the dominance proxy, make the joint folds.

    Each set is split on its own (:func:`qdemo.emotion.splits.default_folds`: OASIS grouped by
    theme, BASS by image stem, Emotion6 stratified by folder); fold k of the joint split is the
    union of fold k of every set."""
    from qdemo.emotion.datasets import concat_sets
    from qdemo.emotion.proxies import WordNorms, add_proxies
    from qdemo.emotion.splits import default_folds, fold_ids

    sets = _load_sets(cfg)
    norms = None
    if cfg.data.word_norms:
        norms = WordNorms.load(cfg.data.word_norms)
        sets = [add_proxies(s, norms) for s in sets]
    folds, names, split, sources = [], [], {}, {}
    for s in sets:
        fl, how = default_folds(s, k=cfg.folds, seed=cfg.seed)
        folds.append(fold_ids(fl, len(s)))
        names.append(np.full(len(s), s.name))
        split[s.name] = how
        sources[s.name] = dict(s.sources)
    rated = concat_sets(sets) if len(sets) > 1 else sets[0]
    return TrainingData(rated=rated, dataset=np.concatenate(names), fold=np.concatenate(folds),
                        split=split, sources=sources, word_norms=norms)


__all__ = ["TrainingData", "load_training_data"]
