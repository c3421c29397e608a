"""Calibration: a per-dimension map from a model's raw outputs to the human rating scale.

Ridge heads on frozen features shrink towards the mean: on held-out photos the raw
predictions have a third to a half of the human ratings' standard deviation, so a grid cell
labelled "valence -0.8" is a place the model never goes. Calibration stretches each dimension
back by *variance matching* (a monotone affine map)::

    calibrated_d = clamp(shift_d + scale_d * raw_d, -1, 1)
    scale_d = sd(human_d) / sd(raw_d),   shift_d = mean(human_d) - scale_d * mean(raw_d)

fitted on **out-of-fold** predictions only (each member scores the fold it never saw), over
every rated set the model was trained on. Variance matching, not a regression of ratings on
predictions: the latter is the conditional mean and shrinks just as much; the point is that
predictions spread over the scale as human ratings do (sd ratio ~1, concordance = r).

The map is an affine function, so it is differentiable (the explorer's gradient emitters take
gradients through it); it is applied to every member's prediction, so the ensemble spread is
on the calibrated scale too. It lives in the model's state dict (``calibration.scale``,
``calibration.shift``) and its description in the weights file's metadata.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn as nn

from qdemo import DIMS


class Calibration(nn.Module):
    """Per-dimension affine map, clamped to [-1, 1]; the identity until fitted."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(len(DIMS)))  # (3,)
        self.register_buffer("shift", torch.zeros(len(DIMS)))  # (3,)
        self.fitted: dict[str, Any] = {}
        """How the map was fitted (method, sets, rows per dimension); empty = identity."""

    @property
    def is_identity(self) -> bool:
        return bool(torch.all(self.scale == 1) and torch.all(self.shift == 0))

    def forward(self, members: torch.Tensor) -> torch.Tensor:
        """(B, K, 3) raw member predictions -> (B, K, 3) on the human scale, in [-1, 1]."""
        if self.is_identity:
            return members
        return (self.shift + self.scale * members).clamp(-1.0, 1.0)

    def set(self, scale: np.ndarray, shift: np.ndarray, fitted: dict[str, Any]) -> "Calibration":
        with torch.no_grad():
            self.scale.copy_(torch.as_tensor(np.asarray(scale, dtype=np.float32)))
            self.shift.copy_(torch.as_tensor(np.asarray(shift, dtype=np.float32)))
        self.fitted = dict(fitted)
        return self

    def to_dict(self) -> dict[str, Any]:
        """What the weights file's metadata and the run manifests say about the map."""
        return {"method": self.fitted.get("method", "identity"),
                "scale": [round(float(x), 6) for x in self.scale], "shift": [round(float(x), 6) for x in self.shift],
                **{k: v for k, v in self.fitted.items() if k != "method"}}

    def apply_numpy(self, pred: np.ndarray) -> np.ndarray:
        """(N, 3) raw predictions -> calibrated (numpy, for evaluation)."""
        return np.clip(self.shift.cpu().numpy() + self.scale.cpu().numpy() * pred, -1.0, 1.0)


def fit_variance_matching(pred: np.ndarray, target: np.ndarray, *, min_rows: int = 10,
                          max_scale: float = 6.0) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(scale (3,), shift (3,), info)`` matching each dimension's mean and sd of ``pred`` (N, 3)
    to ``target`` (N, 3) over rows where both are finite. A dimension with fewer than
    ``min_rows`` pairs (or no spread) keeps the identity; ``max_scale`` bounds the stretch
    (a near-constant prediction must not be blown up into noise)."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    scale, shift = np.ones(len(DIMS)), np.zeros(len(DIMS))
    rows = {}
    for d in range(len(DIMS)):
        ok = np.isfinite(pred[:, d]) & np.isfinite(target[:, d])
        rows[DIMS[d]] = int(ok.sum())
        if ok.sum() < min_rows or pred[ok, d].std() < 1e-9:
            continue
        s = min(max_scale, target[ok, d].std() / pred[ok, d].std())
        scale[d] = s
        shift[d] = target[ok, d].mean() - s * pred[ok, d].mean()
    return scale, shift, {"method": "variance matching on out-of-fold predictions", "rows": rows}


def nested_calibrated(pred: np.ndarray, target: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """(N, 3) out-of-fold predictions calibrated out of fold too: the rows of fold k pass through
    a map fitted on the other folds' rows only (for honest sd-ratio / CCC figures)."""
    out = np.full_like(np.asarray(pred, np.float64), np.nan)
    for k in np.unique(fold):
        tr, te = fold != k, fold == k
        scale, shift, _ = fit_variance_matching(pred[tr], target[tr])
        out[te] = np.clip(shift + scale * pred[te], -1.0, 1.0)
    return out


__all__ = ["Calibration", "fit_variance_matching", "nested_calibrated"]
