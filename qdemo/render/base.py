"""The renderer contract: a batch of solution vectors -> a batch of images, in torch.

A renderer is an ``nn.Module`` whose ``forward(solutions)`` maps ``(B, solution_dim)``
float tensors on its device to images ``(B, 3, resolution, resolution)`` in [0, 1],
differentiably (CMA-MEGA takes gradients through it). Solutions live in an unbounded
space centred at ``initial_solution()``; a renderer squashes internally where it needs to.

Renderers are looked up by name in :data:`RENDERERS` (``"module:Class"`` strings, imported
lazily, so a renderer may live in another subpackage such as the generator's latent space).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from qdemo.errors import QdemoError


class Renderer(nn.Module):
    """Base class for image parameterisations."""

    name: str = "base"
    solution_dim: int
    resolution: int
    default_options: dict[str, Any] = {}
    """Keyword options a run gives this renderer where its config names none
    (``renderer.options: null``)."""
    gradient_steps: dict[str, float] = {"grad_lr": 0.05, "grad_sigma": 0.4}
    """cma-mega / cma-maega step sizes on this renderer: Adam learning rate of the centre
    (``grad_lr``) and CMA-ES sigma0 of the coefficients of the unit-length gradients
    (``grad_sigma``), used where the emitter config sets neither (docs/benchmarks.md)."""

    def forward(self, solutions: torch.Tensor) -> torch.Tensor:
        """(B, solution_dim) -> (B, 3, resolution, resolution) in [0, 1]."""
        raise NotImplementedError

    def initial_solution(self) -> np.ndarray:
        """(solution_dim,) the centre the emitters start from (default: zeros)."""
        return np.zeros(self.solution_dim, dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        """What goes into the manifest about this renderer."""
        return {"name": self.name, "solution_dim": int(self.solution_dim), "resolution": int(self.resolution)}


RENDERERS: dict[str, str] = {
    # name -> "module:Class"; each class takes (*, resolution: int, seed: int, **options)
    "pixels": "qdemo.render.pixels:PixelRenderer",
    "fourier": "qdemo.render.fourier:FourierRenderer",
    "cppn": "qdemo.render.cppn:CPPNRenderer",
    "shapes": "qdemo.render.shapes:ShapeRenderer",
    "generator": "qdemo.generator.latent_renderer:GeneratorLatentRenderer",  # lives with the generator
}


def renderer_class(name: str) -> type[Renderer]:
    """The class registered as ``name`` (imports its module); unknown names list the valid ones."""
    if name not in RENDERERS:
        raise QdemoError(f"unknown renderer {name!r}; valid renderers: {', '.join(sorted(RENDERERS))}")
    module, cls = RENDERERS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_renderer(name: str, **kwargs: Any) -> Renderer:
    """Build the renderer registered as ``name``; unknown names list the valid ones."""
    return renderer_class(name)(**kwargs)
