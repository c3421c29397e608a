"""A role of several architectures (late fusion) and its calibration.

:func:`train_full_role` trains the role's ``model`` and every spec in ``fuse`` with the same
recipe (:func:`~qdemo.emotion.train.role.train_role`), joins them into a
:class:`~qdemo.emotion.fused.FusedRegressor` (their out-of-fold predictions averaged, as the
fused model averages its members), then fits the calibration on those out-of-fold
predictions (:mod:`qdemo.emotion.calibration`). The honest figures of the calibrated model
come from a second level: fold k is calibrated by a map fitted on the other folds only.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from qdemo.emotion.calibration import fit_variance_matching, nested_calibrated
from qdemo.emotion.fused import FusedRegressor
from qdemo.emotion.train.config import RoleConfig
from qdemo.emotion.train.data import TrainingData
from qdemo.emotion.train.role import RoleResult, train_role


def _mean(arrays: list) -> np.ndarray | None:
    arrays = [a for a in arrays if a is not None]
    return np.mean(np.stack(arrays), axis=0) if arrays else None


def _fuse(role: str, rc: RoleConfig, parts: list[RoleResult]) -> RoleResult:
    """One RoleResult whose model is the FusedRegressor of ``parts``."""
    meta = dataclasses.replace(parts[0].model.meta, name=rc.name, extra={
        "parts": [p.model.meta.extra for p in parts]})
    model = FusedRegressor([p.model for p in parts], meta)
    cross = {k: _mean([p.cross.get(k) for p in parts]) for k in parts[0].cross}
    lodo = {k: _mean([p.lodo.get(k) for p in parts]) for k in parts[0].lodo}
    return RoleResult(role=role, model=model.eval(), oof=_mean([p.oof for p in parts]),
                      oof_dist=_mean([p.oof_dist for p in parts]), cross=cross,
                      alphas=[p.alphas for p in parts], features=parts[0].features,
                      seconds=sum(p.seconds for p in parts), parts=parts, lodo=lodo)


def calibrate(res: RoleResult, data: TrainingData) -> None:
    """Fit ``res.model``'s calibration on its out-of-fold predictions (every set); fill
    ``res.oof_calibrated`` with the nested (fold-wise) calibrated predictions."""
    targets = data.rated.targets
    scale, shift, info = fit_variance_matching(res.oof, targets)
    info["sets"] = {n: int((data.dataset == n).sum()) for n in dict.fromkeys(data.dataset.tolist())}
    res.model.calibration.set(scale, shift, info)
    res.oof_calibrated = nested_calibrated(res.oof, targets, data.fold)


def train_full_role(role: str, rc: RoleConfig, data: TrainingData, *, k: int, seed: int, cache_dir: str | None,
                    device: torch.device, progress: bool = True) -> RoleResult:
    """The role's model (fused when ``rc.fuse`` lists more architectures), calibrated when asked."""
    specs = [rc.model, *rc.fuse]
    parts = [train_role(role, dataclasses.replace(rc, model=spec, fuse=[]), data, k=k, seed=seed,
                        cache_dir=cache_dir, device=device, progress=progress) for spec in specs]
    res = parts[0] if len(parts) == 1 else _fuse(role, rc, parts)
    if len(parts) == 1:
        res.model.meta.name = rc.name
    if rc.calibrate:
        calibrate(res, data)
    return res


__all__ = ["calibrate", "train_full_role"]
