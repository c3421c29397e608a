"""The conditional generator's latent space as an explorer renderer (latent-space illumination).

A solution is the generator's latent ``z`` (``z_dim`` numbers), followed - when
``with_condition`` is true (default) - by 3 numbers that become the condition
``c = tanh(s)`` on [-1, 1]^3; otherwise the condition is fixed (``condition``). The
frozen generator (the shipped checkpoint unless ``checkpoint`` is given) turns them into
images, differentiably, so CMA-MEGA can take gradients through it:

    qdemo evolve --renderer generator ...

The generator records the searcher it was trained against (its judge); the explorer calls
:meth:`GeneratorLatentRenderer.check_judge` with its own searcher, which warns in one line
when they differ (option ``strict: true``, or ``qdemo evolve --strict``, refuses).

It lives in the generator package (it needs the generator; the render package must not
import it) and is registered in :data:`qdemo.render.RENDERERS` by its "module:Class" string.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from qdemo.generator.weights_io import load_generator
from qdemo.render.base import Renderer


class GeneratorLatentRenderer(Renderer):
    """(B, z_dim [+3]) -> G(z, c) as (B, 3, resolution, resolution) in [0, 1]."""

    name = "generator"

    def __init__(self, *, resolution: int = 64, seed: int = 0, checkpoint: str | None = None,
                 with_condition: bool = True, condition: Sequence[float] = (0.0, 0.0, 0.0),
                 device: Any = "cpu", strict: bool = False, **_: Any):
        super().__init__()
        self.generator = load_generator(checkpoint, device=device)  # frozen, eval mode
        self.resolution = int(resolution)
        self.seed = seed
        self.z_dim = self.generator.z_dim
        self.with_condition = bool(with_condition)
        self.solution_dim = self.z_dim + (3 if self.with_condition else 0)
        c = torch.tensor([float(x) for x in condition], dtype=torch.float32)
        if c.shape != (3,) or c.abs().max() > 1:
            raise ValueError(f"condition must be three numbers on [-1, 1], got {list(condition)}")
        self.register_buffer("condition", c, persistent=False)
        self.checkpoint = checkpoint
        self.strict = bool(strict)

    def check_judge(self, searcher: torch.nn.Module) -> str | None:
        """Warn (or, with ``strict``, refuse) when the generator was trained against another
        searcher than ``searcher``, the one the explorer judges with; the warning line or None."""
        from qdemo.emotion.judge import judge_record
        from qdemo.generator.weights_io import check_generator_judge

        return check_generator_judge(self.generator, judge_record(searcher), strict=self.strict)

    def forward(self, solutions: torch.Tensor) -> torch.Tensor:
        """(B, solution_dim) -> (B, 3, R, R) in [0, 1]."""
        if solutions.ndim != 2 or solutions.shape[1] != self.solution_dim:
            raise ValueError(f"expected solutions of shape (B, {self.solution_dim}), got {tuple(solutions.shape)}")
        dev = self.condition.device
        s = solutions.to(dev, torch.float32)
        z = s[:, : self.z_dim]  # (B, z_dim)
        c = torch.tanh(s[:, self.z_dim:]) if self.with_condition else self.condition.expand(len(s), 3)  # (B, 3)
        img = self.generator(z, c)  # (B, 3, Rg, Rg)
        if img.shape[-1] != self.resolution:
            img = F.interpolate(img, size=(self.resolution, self.resolution), mode="bilinear",
                                align_corners=False, antialias=img.shape[-1] > self.resolution)
        return img.clamp(0, 1)

    def initial_solution(self) -> np.ndarray:
        """Zeros: the latent's mode and a neutral condition."""
        return np.zeros(self.solution_dim, dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update({"checkpoint": self.checkpoint or "shipped", "with_condition": self.with_condition,
                     "generator_sha256": getattr(self.generator, "meta", {}).get("sha256"),
                     "generator_judge": getattr(self.generator, "meta", {}).get("judge")})
        return info
