"""The random view D_emo compares original and output under (``train.emo_jitter`` / ``emo_cutout``).

A view is a shift (up to ``jitter`` px, reflect padding) with a horizontal flip, and a grey
square (``cutout`` of the side); the same drawn view is applied to the original and to the
generator's output, so the emotion must survive it in both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

View = tuple[int, int, bool, "tuple[int, int, int, int] | None"]
"""(dy, dx, flip, box): shift offsets into the padded image, flip, and (y, x, h, w) of the grey square or None."""


def draw_view(gen: torch.Generator, h: int, w: int, jitter: int, cutout: float) -> View:
    """A random view of an ``h`` x ``w`` image: a shift and flip when ``jitter`` > 0, a grey
    square of ``cutout`` of the side when ``cutout`` > 0 (draws from ``gen`` in that order)."""
    dy = dx = 0
    flip = False
    if jitter > 0:
        dy, dx = (int(v) for v in torch.randint(0, 2 * jitter + 1, (2,), generator=gen))
        flip = bool(torch.randint(0, 2, (1,), generator=gen))
    box = None
    if cutout > 0:
        ch, cw = max(1, round(cutout * h)), max(1, round(cutout * w))
        cy = int(torch.randint(0, h - ch + 1, (1,), generator=gen))
        cx = int(torch.randint(0, w - cw + 1, (1,), generator=gen))
        box = (cy, cx, ch, cw)
    return dy, dx, flip, box


def apply_view(x: torch.Tensor, view: View, jitter: int) -> torch.Tensor:
    """(B, 3, H, W) -> the same batch seen through ``view`` (drawn with the same ``jitter``)."""
    dy, dx, flip, box = view
    h, w = x.shape[-2:]
    z = x
    if jitter > 0:
        z = F.pad(x, (jitter, jitter, jitter, jitter), mode="reflect")[..., dy:dy + h, dx:dx + w]  # (B, 3, H, W)
        z = torch.flip(z, dims=[3]) if flip else z
    if box is not None:
        cy, cx, ch, cw = box
        mask = torch.ones_like(z[:1, :1])  # (1, 1, H, W)
        mask[..., cy:cy + ch, cx:cx + cw] = 0
        z = z * mask + 0.5 * (1 - mask)
    return z


__all__ = ["View", "apply_view", "draw_view"]
