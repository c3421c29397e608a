"""Keeping a conditional generator from ignoring its noise: paired latents and a mode-seeking term.

With a strong emotion loss a conditional generator learns one picture per condition and
ignores ``z`` (mode collapse: the shipped pixel generator's four samples of a cell were the
same picture with small changes). The remedy of Mao et al. (2019, MSGAN) and Yang et al.
(2019, DSGAN): draw latents in pairs that share their condition and reward the generator
for images that differ in proportion to how their latents differ,

    L_div = - mean_pairs min( d(G(z1, c), G(z2, c)) / d_z(z1, z2), tau )

(maximised, capped at ``tau`` so that it cannot outgrow the other terms; ``d_z`` is the
mean absolute difference of the latents). ``d`` is measured where it matters:

* ``features``: the mean absolute difference of the searcher's (standardised) features of
  the two images, computed in the same forward pass as the emotion loss: different
  pictures, not different pixel noise;
* ``image``: the mean absolute pixel difference.

The two images of a pair are shown to the searcher under the same random augmentation
(:func:`augment_pairs`), so their difference is the generator's, not the augmenter's.
"""

from __future__ import annotations

import torch

PAIR_SAFE_OPS = {"translation", "cutout", "zoom"}
"""DiffAugment ops that treat channels alike, so a pair stacked on the channel axis gets one draw."""


def paired_conditions(c: torch.Tensor) -> torch.Tensor:
    """(n, 3) -> (2n, 3): every condition twice in a row (pairs (2i, 2i+1) share theirs)."""
    return c.repeat_interleave(2, dim=0)


def augment_pairs(augment, x: torch.Tensor) -> torch.Tensor:
    """Apply ``augment`` (a DiffAugment or None) to (2n, 3, H, W) so that images 2i and 2i+1
    get the same random draw (they are stacked on the channel axis); ops that mix channels
    (colour) fall back to independent draws."""
    if augment is None:
        return x
    if not set(augment.ops) <= PAIR_SAFE_OPS or x.shape[0] % 2:
        return augment(x)
    n, ch, h, w = x.shape
    return augment(x.reshape(n // 2, 2 * ch, h, w)).reshape(n, ch, h, w)


def pair_distance(x: torch.Tensor) -> torch.Tensor:
    """(2n, ...) -> (n,) mean absolute difference between rows 2i and 2i+1."""
    flat = x.reshape(x.shape[0] // 2, 2, -1)
    return (flat[:, 0] - flat[:, 1]).abs().mean(dim=1)


def mode_seeking_loss(outputs: torch.Tensor, z: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, ratio)``: ``-mean(min(d_out / d_z, tau))`` over the pairs of ``outputs`` (2n, ...)
    drawn from latents ``z`` (2n, z_dim), and the uncapped ratios (n,) for logging."""
    d_out = pair_distance(outputs)  # (n,)
    d_z = pair_distance(z).clamp_min(1e-6)
    ratio = d_out / d_z
    return -ratio.clamp(max=tau).mean(), ratio.detach()


__all__ = ["PAIR_SAFE_OPS", "augment_pairs", "mode_seeking_loss", "pair_distance", "paired_conditions"]
