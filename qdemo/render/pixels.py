"""Low-resolution pixel grid, upsampled: the simplest differentiable image parameterisation.

A solution holds ``3 * grid * grid`` logits (channel-major). They are upsampled to the
output resolution (bicubic by default: smooth colour fields, no blocky edges) and squashed
with a sigmoid, so every solution in R^dim is a valid image in [0, 1] and the zero
solution is uniform mid-grey.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from qdemo.render.base import Renderer

_MODES = ("nearest", "bilinear", "bicubic")


class PixelRenderer(Renderer):
    """``(B, 3*grid*grid)`` logits -> ``(B, 3, R, R)`` images via upsampling + sigmoid.

    Args:
        resolution: output side length in pixels.
        seed: unused (the renderer is deterministic); kept for the common signature.
        grid: side of the low-resolution grid (8 -> 192 parameters).
        mode: ``"bicubic"`` (default), ``"bilinear"`` or ``"nearest"`` upsampling.
        gain: logits are multiplied by this before the sigmoid (contrast per unit step).
    """

    name = "pixels"

    def __init__(self, *, resolution: int = 64, seed: int = 0, grid: int = 8, mode: str = "bicubic",
                 gain: float = 1.0) -> None:
        super().__init__()
        if grid < 1 or resolution < grid:
            raise ValueError(f"pixels renderer: need 1 <= grid <= resolution, got grid={grid}, resolution={resolution}")
        if mode not in _MODES:
            raise ValueError(f"pixels renderer: mode {mode!r} is not one of {', '.join(_MODES)}")
        self.resolution = int(resolution)
        self.grid = int(grid)
        self.mode = mode
        self.gain = float(gain)
        self.solution_dim = 3 * self.grid * self.grid

    def forward(self, solutions: torch.Tensor) -> torch.Tensor:
        b = solutions.shape[0]
        logits = solutions.view(b, 3, self.grid, self.grid) * self.gain  # (B, 3, g, g)
        kw: dict[str, Any] = {} if self.mode == "nearest" else {"align_corners": False}
        up = F.interpolate(logits, size=(self.resolution, self.resolution), mode=self.mode, **kw)  # (B, 3, R, R)
        return torch.sigmoid(up)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "grid": self.grid, "mode": self.mode}
