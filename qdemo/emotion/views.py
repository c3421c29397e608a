"""Image preparation shared by prediction, evaluation and training.

:func:`resize_square` is how a whole image file becomes a model input (squashed to the
model's square resolution, as :meth:`EmotionModel.prepare` does to any input);
:func:`view_of` makes the augmented training views (mirror, seeded random crops).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_square(img: torch.Tensor, size: int) -> torch.Tensor:
    """(3, H, W) -> (3, size, size), bilinear with antialias (as EmotionModel.prepare), clamped to [0, 1]."""
    return F.interpolate(img[None], size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)[0].clamp(0, 1)


def view_of(img: torch.Tensor, view: int, size: int, *, crop_scale: float, gen: torch.Generator) -> torch.Tensor:
    """Augmented view ``view`` of ``img`` (3, H, W): 0 as is, 1 mirrored, 2+ random crop (+mirror)."""
    if view >= 2:
        _, h, w = img.shape
        s = float(torch.empty(1).uniform_(crop_scale, 1.0, generator=gen))
        ch, cw = max(1, round(h * s)), max(1, round(w * s))
        y0 = int(torch.randint(0, h - ch + 1, (1,), generator=gen))
        x0 = int(torch.randint(0, w - cw + 1, (1,), generator=gen))
        img = img[:, y0:y0 + ch, x0:x0 + cw]
        if torch.rand(1, generator=gen) < 0.5:
            img = img.flip(-1)
    out = resize_square(img, size)  # (3, size, size)
    return out.flip(-1) if view == 1 else out


__all__ = ["resize_square", "view_of"]
