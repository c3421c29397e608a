"""Views: deterministic transforms of an image that the searcher also scores (lucent's transforms).

An image whose emotion survives mirroring, zooming and blurring is less likely to be a
fooling image (transformation robustness, as in feature visualisation). With views
``[identity, flip, blur]`` every image is scored three times; the measures and the
ensemble spread are then taken over all views x members::

    views = Views(["identity", "flip"])
    batch = views(images)                                  # (V*B, 3, H, W), view-major
    members = views.regroup(searcher.predict(batch).members, len(images))   # (B, V*K, 3)

The views are fixed (no randomness), so a score is a function of the image alone.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from qdemo.errors import ConfigError


def _zoom(images: torch.Tensor, frac: float = 0.8) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 3, H, W): the central ``frac`` crop resized back."""
    h, w = images.shape[-2:]
    ch, cw = max(1, round(h * frac)), max(1, round(w * frac))
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = images[..., top:top + ch, left:left + cw]
    return F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)


def _blur(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 3, H, W): half resolution and back (removes pixel-level patterns)."""
    h, w = images.shape[-2:]
    small = F.avg_pool2d(images, 2, ceil_mode=True)
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


VIEWS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda x: x,
    "flip": lambda x: torch.flip(x, dims=(-1,)),  # mirror left-right
    "zoom": _zoom,  # central 80 % crop, resized back
    "blur": _blur,  # half resolution and back
}
"""Every known view by name: (B, 3, H, W) -> (B, 3, H, W), differentiable."""


class Views:
    """An ordered list of named :data:`VIEWS` applied to each image.

    Args:
        names: one or more names of :data:`VIEWS` (ConfigError otherwise).
    """

    def __init__(self, names: Sequence[str]) -> None:
        names = list(names)
        unknown = [v for v in names if v not in VIEWS]
        if unknown or not names:
            raise ConfigError(f"objective.views {names}: use one or more of {', '.join(VIEWS)}")
        self.names = names

    def __len__(self) -> int:
        return len(self.names)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (V*B, 3, H, W): view 0 of every image, then view 1, ..."""
        if self.names == ["identity"]:
            return images
        return torch.cat([VIEWS[name](images) for name in self.names])  # (V*B, 3, H, W)

    def regroup(self, members: torch.Tensor, batch: int) -> torch.Tensor:
        """(V*B, K, 3) predictions of :meth:`__call__`'s output -> (B, V*K, 3) per image."""
        v, k = len(self.names), members.shape[1]
        return members.view(v, batch, k, 3).transpose(0, 1).reshape(batch, v * k, 3)  # (B, V*K, 3)

    def describe(self) -> list[str]:
        return list(self.names)
