"""Rating scales and the canonical emotion space.

Every rating in qdemo lives on the canonical scale [-1, 1] with 0 neutral:
``(x - mid) / half_range`` of the native scale it was collected on, e.g. OASIS 1–7
maps by ``(x - 4) / 3``, Emotion6 / SAM 1–9 by ``(x - 5) / 4`` and NRC 0–1 by ``2x - 1``.
Reports may show the 1–9 SAM equivalent (:func:`to_sam9`) beside it.
"""

from __future__ import annotations

from typing import Union

import numpy as np

Scale = tuple[float, float]
"""A native rating scale as (lowest, highest) possible rating."""

OASIS: Scale = (1.0, 7.0)
"""OASIS (Kurdi et al. 2017): 7-point scale, 4 neutral."""
EMOTION6: Scale = (1.0, 9.0)
"""Emotion6 (Peng et al. 2015): valence/arousal on 1–9."""
SAM: Scale = (1.0, 9.0)
"""Self-Assessment Manikin 1–9 (IAPS, NAPS-style sets)."""
BASS: Scale = (1.0, 9.0)
"""BASS (Kawai, Lukács & Ansorge 2021): 9-point valence and arousal scales, 5 neutral."""
NRC: Scale = (0.0, 1.0)
"""NRC-VAD lexicon (Mohammad 2018): 0–1."""
WARRINER: Scale = (1.0, 9.0)
"""Warriner, Kuperman & Brysbaert (2013) word norms: 1–9."""
CANONICAL: Scale = (-1.0, 1.0)
"""qdemo's internal scale."""

NAMED_SCALES: dict[str, Scale] = {
    "oasis": OASIS,
    "emotion6": EMOTION6,
    "bass": BASS,
    "sam": SAM,
    "sam9": SAM,
    "nrc": NRC,
    "warriner": WARRINER,
    "canonical": CANONICAL,
}
"""Scales a user may name instead of giving (lo, hi), e.g. ``--scale sam``."""

ArrayLike = Union[float, np.ndarray, "list[float]"]


def _check(lo: float, hi: float) -> tuple[float, float]:
    lo, hi = float(lo), float(hi)
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        raise ValueError(f"invalid rating scale ({lo}, {hi}): need finite lo < hi")
    return lo, hi


def parse_scale(scale: "Scale | str | list[float]") -> Scale:
    """A scale from a name (``"oasis"``, ``"sam"``, ...), ``"1,9"`` / ``"1-9"`` or a pair."""
    if isinstance(scale, str):
        key = scale.strip().lower()
        if key in NAMED_SCALES:
            return NAMED_SCALES[key]
        for sep in (",", ":", ".."):
            if sep in key:
                parts = key.split(sep)
                break
        else:
            # "1-9" but not "-1-1": split on a '-' that is not a sign
            idx = key.find("-", 1)
            parts = [key[:idx], key[idx + 1:]] if idx > 0 else [key]
        if len(parts) != 2:
            raise ValueError(
                f"cannot read rating scale {scale!r}: give 'lo,hi' (e.g. '1,9') or one of "
                f"{', '.join(sorted(NAMED_SCALES))}"
            )
        try:
            return _check(float(parts[0]), float(parts[1]))
        except ValueError:
            raise ValueError(
                f"cannot read rating scale {scale!r}: give 'lo,hi' (e.g. '1,9') or one of "
                f"{', '.join(sorted(NAMED_SCALES))}"
            ) from None
    try:
        lo, hi = scale  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(f"rating scale must be (lo, hi), got {scale!r}") from None
    return _check(lo, hi)


def to_canonical(x: ArrayLike, lo: float, hi: float) -> np.ndarray:
    """Native rating(s) on [lo, hi] -> canonical [-1, 1]: ``(x - mid) / half_range``."""
    lo, hi = _check(lo, hi)
    mid, half = (lo + hi) / 2.0, (hi - lo) / 2.0
    return (np.asarray(x, dtype=np.float64) - mid) / half


def from_canonical(x: ArrayLike, lo: float, hi: float) -> np.ndarray:
    """Canonical [-1, 1] -> native scale [lo, hi] (inverse of :func:`to_canonical`)."""
    lo, hi = _check(lo, hi)
    mid, half = (lo + hi) / 2.0, (hi - lo) / 2.0
    return np.asarray(x, dtype=np.float64) * half + mid


def to_sam9(x: ArrayLike) -> np.ndarray:
    """Canonical [-1, 1] -> the 1–9 SAM equivalent (5 neutral), for reports."""
    return from_canonical(x, *SAM)


__all__ = [
    "BASS", "CANONICAL", "EMOTION6", "NAMED_SCALES", "NRC", "OASIS", "SAM", "Scale", "WARRINER",
    "from_canonical", "parse_scale", "to_canonical", "to_sam9",
]
