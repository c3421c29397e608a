"""What a run shows a person: the valence x arousal plane filled, confirmed, with varied content.

Figures computed at the end of every ``qdemo evolve`` run on a VA or VAD grid (manifest
``metrics``) and by ``qdemo evolve-bench``:

- ``va_cells_filled``: valence x arousal cells holding an elite in any dominance band;
- ``va_cells_confirmed``: of those, the cells where some elite is placed by the critic within
  one VA cell of its own (Chebyshev distance <= 1 on the VA plane, dominance ignored);
- ``near_uniform_elites``: elites whose grey-level standard deviation is below 0.05 (on [0, 1],
  BT.601 luma at 64 px): flat colour fields, which are not images with content;
- ``elite_diversity`` / ``reference_diversity``: the mean pairwise distance of unit-length
  features of the images with each image's mean colour removed (so neighbouring cells filled
  by one picture with its brightness or tint shifted count as near-duplicates), for the
  elites and for the reference photos, by the same model.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from qdemo.measure_space import MeasureSpace
from qdemo.qd.content import NEAR_UNIFORM_SD, is_near_uniform


def va_cells(coords: np.ndarray) -> set[tuple[int, int]]:
    """(N, m >= 2) cell coordinates -> the distinct (valence, arousal) cells."""
    return set(map(tuple, np.asarray(coords)[:, :2].astype(int).tolist()))


def va_confirmed(coords: np.ndarray, critic_coords: np.ndarray) -> set[tuple[int, int]]:
    """VA cells (of ``coords``, (N, m)) where some elite's critic VA cell (``critic_coords``, (N, >=2):
    where the measure space places the critic's reading) lies within one cell on the VA plane."""
    c, k = np.asarray(coords)[:, :2], np.asarray(critic_coords)[:, :2]
    return set(map(tuple, c[MeasureSpace.within_one(c, k)].astype(int).tolist()))


def near_uniform_count(images: torch.Tensor) -> int:
    """How many of (N, 3, H, W) images are near-uniform fields (grey sd < 0.05)."""
    return int(is_near_uniform(images).sum()) if len(images) else 0


@torch.no_grad()
def diversity(images: torch.Tensor, model, *, chunk: int = 64, max_images: int = 400, seed: int = 0) -> Optional[float]:
    """Mean pairwise Euclidean distance of unit-length ``model.features`` of (N, 3, H, W) images,
    each with its mean colour replaced by mid grey (None for fewer than 2 images). At most
    ``max_images`` (a seeded subset) are used."""
    if len(images) < 2:
        return None
    if len(images) > max_images:
        keep = np.random.default_rng(seed).choice(len(images), max_images, replace=False)
        images = images[torch.as_tensor(np.sort(keep))]
    dev = next(iter(model.parameters())).device
    feats = []
    for i in range(0, len(images), chunk):
        x = images[i:i + chunk].to(dev).float()
        x = (x - x.mean(dim=(2, 3), keepdim=True) + 0.5).clamp(0, 1)  # (b, 3, H, W) mean colour removed
        f = model.features(x).double()
        feats.append(torch.nn.functional.normalize(f, dim=1).cpu())
    f = torch.cat(feats)  # (N, F)
    d = torch.cdist(f, f)
    n = len(f)
    return float(d.sum() / (n * (n - 1)))


__all__ = ["NEAR_UNIFORM_SD", "diversity", "near_uniform_count", "va_cells", "va_confirmed"]
