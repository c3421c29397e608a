"""The :class:`RatedSet`: images with valence / arousal / dominance targets on [-1, 1].

A rated set holds absolute image paths and ``(N, 3)`` targets on the canonical scale (NaN
where a dimension is not rated), where each dimension came from (``sources``: ``"human"``,
``"proxy:<how>"`` or ``"missing"``), the groups that must never straddle a train/test split
(OASIS themes, BASS image stems) and the strata to balance folds over (Emotion6 folders).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qdemo import DIMS, EMOTIONS  # EMOTIONS: the 7 categories of the Emotion6 distribution, in its column order

SOURCE_HUMAN = "human"
SOURCE_MISSING = "missing"


@dataclass
class RatedSet:
    """Images with valence / arousal / dominance targets on the canonical [-1, 1] scale."""

    name: str
    """Short name of the set ('oasis', 'emotion6', 'bass', or the CSV's stem)."""
    root: Path
    """Folder the set was loaded from (image paths are absolute, this is for reports)."""
    paths: list[Path]
    """(N,) absolute image paths."""
    targets: np.ndarray
    """(N, 3) float32 valence, arousal, dominance on [-1, 1]; NaN where not rated."""
    sources: dict[str, str]
    """Per dimension: 'human', 'proxy:<how>' or 'missing'."""
    groups: np.ndarray
    """(N,) str: images of one group never straddle train and test (OASIS theme, BASS stem)."""
    strata: np.ndarray
    """(N,) str: folds are balanced over these (Emotion6 folder, OASIS category)."""
    emotion_dist: np.ndarray | None = None
    """(N, 7) Emotion6 distribution over :data:`EMOTIONS` (rows sum to 1), or None."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(file, reason) for every row or image that was skipped on request."""
    info: dict[str, Any] = field(default_factory=dict)
    """Extra facts for reports: native scale, CSV file, proxy coverage, ..."""
    second_targets: np.ndarray | None = None
    """(N, 3) float32 a second, independent rating of the same images on [-1, 1] (BASS: the
    Chinese sample; ``info['second_sample']`` names it), NaN where absent; None when the set
    has only one. Never trained on: its agreement with ``targets`` is a ceiling for any model."""
    keywords: np.ndarray | None = None
    """(N,) str: words describing each image (BASS ``keywords``, comma-separated), read by
    the word-norm proxy; None when the set has none."""

    def __post_init__(self) -> None:
        n = len(self.paths)
        self.paths = [Path(p) for p in self.paths]
        for what, arr, shape in (("targets", self.targets, (n, len(DIMS))), ("groups", self.groups, (n,)),
                                 ("strata", self.strata, (n,)),
                                 ("emotion_dist", self.emotion_dist, (n, len(EMOTIONS))),
                                 ("second_targets", self.second_targets, (n, len(DIMS))),
                                 ("keywords", self.keywords, (n,))):
            if arr is not None and np.shape(arr) != shape:
                raise ValueError(f"RatedSet {self.name!r}: {what} has shape {np.shape(arr)}, expected {shape}")
        self.targets = np.asarray(self.targets, dtype=np.float32).reshape(n, len(DIMS))
        self.groups = np.asarray(self.groups, dtype=str).reshape(n)
        self.strata = np.asarray(self.strata, dtype=str).reshape(n)
        if self.emotion_dist is not None:
            self.emotion_dist = np.asarray(self.emotion_dist, dtype=np.float32).reshape(n, len(EMOTIONS))
        if self.second_targets is not None:
            self.second_targets = np.asarray(self.second_targets, dtype=np.float32).reshape(n, len(DIMS))
        if self.keywords is not None:
            self.keywords = np.asarray(self.keywords, dtype=str).reshape(n)
        for d in DIMS:
            self.sources.setdefault(d, SOURCE_MISSING)

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, idx: Sequence[int] | np.ndarray) -> "RatedSet":
        """A new set with the rows ``idx`` (integer indices or a boolean mask)."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask of shape {idx.shape} for a set of {len(self)}")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).reshape(-1)

        def rows(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx].copy()

        return replace(
            self,
            paths=[self.paths[i] for i in idx],
            targets=self.targets[idx].copy(),
            sources=dict(self.sources),
            groups=self.groups[idx].copy(),
            strata=self.strata[idx].copy(),
            emotion_dist=rows(self.emotion_dist),
            skipped=list(self.skipped),
            info=dict(self.info),
            second_targets=rows(self.second_targets),
            keywords=rows(self.keywords),
        )

    def mask(self) -> np.ndarray:
        """(N, 3) bool: True where the target is present (not NaN)."""
        return ~np.isnan(self.targets)

    def human_rated(self) -> tuple[str, ...]:
        """Dimensions rated by people for this set."""
        return tuple(d for d in DIMS if self.sources.get(d) == SOURCE_HUMAN)

    def proxy_dims(self) -> tuple[str, ...]:
        """Dimensions filled by a documented proxy."""
        return tuple(d for d in DIMS if self.sources.get(d, "").startswith("proxy"))

    def second_agreement(self) -> dict[str, dict[str, float]]:
        """Pearson r between the two rater samples per human-rated dimension:
        ``{dim: {"r", "n"}}`` over the images both rated (BASS: US vs Chinese sample).
        Empty when the set has no second rating."""
        if self.second_targets is None:
            return {}
        out = {}
        for j, d in enumerate(DIMS):
            if self.sources.get(d) != SOURCE_HUMAN:
                continue
            a, b = self.targets[:, j].astype(np.float64), self.second_targets[:, j].astype(np.float64)
            ok = np.isfinite(a) & np.isfinite(b)
            n = int(ok.sum())
            r = float(np.corrcoef(a[ok], b[ok])[0, 1]) if n >= 3 and a[ok].std() > 0 and b[ok].std() > 0 \
                else float("nan")
            out[d] = {"r": r, "n": n}
        return out

    def summary(self) -> str:
        """A few lines for logs and reports: size, what each dimension is, skips."""
        m = self.mask()
        lines = [f"{self.name}: {len(self)} images from {self.root}"]
        for j, d in enumerate(DIMS):
            col = self.targets[m[:, j], j]
            if col.size:
                stats = f"mean {col.mean():+.2f}, sd {col.std():.2f}, range [{col.min():+.2f}, {col.max():+.2f}]"
            else:
                stats = "no values"
            lines.append(f"  {d:<9} {self.sources.get(d, SOURCE_MISSING):<28} n={int(m[:, j].sum()):<5} {stats}")
        lines.append(f"  {len(np.unique(self.groups))} groups, {len(np.unique(self.strata))} strata"
                     + (", 7-way emotion distribution" if self.emotion_dist is not None else ""))
        agree = self.second_agreement()
        if agree:
            lines.append(f"  second rating ({self.info.get('second_sample', 'second sample')}) vs targets: "
                         + ", ".join(f"{d} r={a['r']:.2f} (n={a['n']})" for d, a in agree.items()))
        if self.skipped:
            lines += _skipped_lines(self.skipped)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"RatedSet(name={self.name!r}, n={len(self)}, sources={self.sources}, "
                f"skipped={len(self.skipped)})")


def _skipped_lines(skipped: list[tuple[str, str]]) -> list[str]:
    reasons: dict[str, int] = {}
    for _, why in skipped:
        reasons[why] = reasons.get(why, 0) + 1
    lines = [f"  skipped {len(skipped)}: " + "; ".join(f"{n} {why}" for why, n in sorted(reasons.items()))]
    for f, why in skipped[:5]:
        lines.append(f"    {f}: {why}")
    if len(skipped) > 5:
        lines.append(f"    ... and {len(skipped) - 5} more")
    return lines


def _stack_optional(sets: Sequence[RatedSet], attr: str, fill: Any, width: int | None) -> np.ndarray | None:
    """Concatenate an optional per-row field; sets without it contribute ``fill`` rows."""
    if all(getattr(s, attr) is None for s in sets):
        return None
    parts = []
    for s in sets:
        a = getattr(s, attr)
        if a is None:
            shape = (len(s),) if width is None else (len(s), width)
            a = np.full(shape, fill, dtype=np.float32 if width is not None else object)
        parts.append(np.asarray(a) if width is not None else np.asarray(a, dtype=str))
    return np.concatenate(parts)


def concat_sets(sets: Sequence[RatedSet], name: str | None = None) -> RatedSet:
    """Stack several sets (e.g. OASIS + Emotion6 for training on both).

    Groups and strata are prefixed with each set's name so they cannot collide; a
    dimension's source is kept when all sets agree, else listed per set.
    """
    if not sets:
        raise ValueError("concat_sets needs at least one set")
    sources = {}
    for d in DIMS:
        kinds = {s.sources.get(d, SOURCE_MISSING) for s in sets}
        sources[d] = kinds.pop() if len(kinds) == 1 else "mixed:" + ",".join(
            f"{s.name}={s.sources.get(d, SOURCE_MISSING)}" for s in sets)
    return RatedSet(
        name=name or "+".join(s.name for s in sets),
        root=Path(sets[0].root),
        paths=[p for s in sets for p in s.paths],
        targets=np.concatenate([s.targets for s in sets]),
        sources=sources,
        groups=np.concatenate([np.char.add(f"{s.name}:", s.groups.astype(str)) for s in sets]),
        strata=np.concatenate([np.char.add(f"{s.name}:", s.strata.astype(str)) for s in sets]),
        emotion_dist=_stack_optional(sets, "emotion_dist", np.nan, len(EMOTIONS)),
        skipped=[x for s in sets for x in s.skipped],
        info={"parts": {s.name: len(s) for s in sets}},
        second_targets=_stack_optional(sets, "second_targets", np.nan, len(DIMS)),
        keywords=_stack_optional(sets, "keywords", "", None),
    )


__all__ = ["EMOTIONS", "RatedSet", "SOURCE_HUMAN", "SOURCE_MISSING", "concat_sets"]
