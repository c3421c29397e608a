"""The (original, SHINE) image pairs of a SHINE folder, and the split training and report share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from qdemo.errors import DataError

from qdemo.normalise.config import NormaliseConfig
from qdemo.normalise.data import load_fixed, split_train_test, split_validation
from qdemo.normalise.shine_files import ShineOutput


@dataclass
class Pairs:
    """Original and SHINE images of one split, as uint8 tensors (N, 3, R, R)."""

    x: torch.Tensor
    y: torch.Tensor
    sources: list[str]
    groups: list[str]


def load_pairs(shine: ShineOutput, idx: Sequence[int]) -> Pairs:
    """Originals (at the SHINE run's size/fit) and their SHINE versions for ``idx``."""
    d = shine.summary["config"]["data"]
    xs, ys = [], []
    for i in idx:
        xs.append(load_fixed(shine.sources[i], d["size"], d["fit"]))
        ys.append(load_fixed(shine.outputs[i], None))
        if xs[-1].shape != ys[-1].shape:
            raise DataError(f"{shine.outputs[i]}: size {ys[-1].shape[:2]} differs from its original's "
                            f"{xs[-1].shape[:2]} at the SHINE run's settings")

    def t(a: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).contiguous() if a else torch.zeros(0, 3, 1, 1, dtype=torch.uint8)

    return Pairs(x=t(xs), y=t(ys), sources=[str(shine.sources[i]) for i in idx],
                 groups=[shine.groups[i] for i in idx])


def splits_of(shine: ShineOutput, cfg: NormaliseConfig) -> dict[str, list[int]]:
    """The seeded split (stratified by group) that training and report share:
    ``{"train", "val", "test"}`` indices; ``val`` (``train.val_fraction`` of the non-test
    images) is never trained on and is where variants are compared, ``test`` is for the report."""
    from qdemo.normalise.data import ImageSet

    s = ImageSet(root=shine.root, paths=shine.sources, groups=shine.groups)
    train, test = split_train_test(s, cfg.train.test_fraction, cfg.data.seed)
    train, val = split_validation(s, train, cfg.train.val_fraction, cfg.data.seed)
    return {"train": train, "val": val, "test": test}


def split_of(shine: ShineOutput, cfg: NormaliseConfig) -> tuple[list[int], list[int]]:
    """(train, test) indices of :func:`splits_of` (train excludes the validation share)."""
    sp = splits_of(shine, cfg)
    return sp["train"], sp["test"]


__all__ = ["Pairs", "load_pairs", "split_of", "splits_of"]
