"""A compositional pattern-producing network (CPPN) whose weights are the solution.

Fixed topology (Stanley 2007's idea, with a fixed rather than evolved graph): every pixel's
coordinates ``(x, y, r = sqrt(x^2 + y^2), 1)`` go through ``layers`` hidden layers of
``hidden`` units, then 3 outputs squashed by a sigmoid to RGB. Hidden units use a
repeating set of activation functions (``sin``, ``tanh``, Gaussian bump, identity), which
gives stripes, blobs and symmetric patterns. All weights and biases of all networks of
the batch form the solution vector, evaluated for the whole batch at once with batched
matrix products, so rendering is one differentiable torch call.

Because the zero network draws a flat image and has vanishing gradients, the initial
solution is a seeded random network (Gaussian, scale ``init_scale``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from qdemo.render.base import Renderer


def _gauss(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-x * x)


_ACTS = (torch.sin, torch.tanh, _gauss, lambda x: x)


def _activate(h: torch.Tensor) -> torch.Tensor:
    """Unit ``j`` of the last axis gets ``_ACTS[j % 4]``.

    One kernel per activation function on a strided view when the width is a multiple of 4
    (the common case: a few kernels however wide the layer), else one per unit.
    """
    b, k = h.shape[-1], len(_ACTS)
    if b % k == 0:
        g = h.unflatten(-1, (b // k, k))  # (..., b/4, 4): column f holds the units with activation f
        return torch.stack([act(g[..., f]) for f, act in enumerate(_ACTS)], dim=-1).flatten(-2)
    return torch.cat([_ACTS[j % k](h[..., j:j + 1]) for j in range(b)], dim=-1)


class CPPNRenderer(Renderer):
    """``(B, dim)`` network weights -> ``(B, 3, R, R)`` images.

    Args:
        resolution: output side length in pixels.
        seed: seeds the initial network (:meth:`initial_solution`).
        hidden: units per hidden layer.
        layers: number of hidden layers.
        input_scale: coordinates span ``[-input_scale, input_scale]``.
        init_scale: standard deviation of the initial weights.
    """

    name = "cppn"
    gradient_steps = {"grad_lr": 0.05, "grad_sigma": 4.0}
    """CPPN weights need gradient steps about ten times longer than pixels / Fourier coefficients."""

    def __init__(self, *, resolution: int = 64, seed: int = 0, hidden: int = 8, layers: int = 2,
                 input_scale: float = 2.0, init_scale: float = 1.0) -> None:
        super().__init__()
        if hidden < 1 or layers < 1:
            raise ValueError(f"cppn renderer: hidden and layers must be >= 1, got {hidden}, {layers}")
        self.resolution = int(resolution)
        self.hidden = int(hidden)
        self.layers = int(layers)
        self.seed = int(seed)
        self.init_scale = float(init_scale)
        sizes = [4] + [self.hidden] * self.layers + [3]
        self.shapes = [(a, b) for a, b in zip(sizes[:-1], sizes[1:])]  # (in, out) per layer
        self.solution_dim = sum(a * b + b for a, b in self.shapes)
        lin = torch.linspace(-input_scale, input_scale, self.resolution)
        y, x = torch.meshgrid(lin, lin, indexing="ij")  # (R, R)
        r = torch.sqrt(x * x + y * y)
        coords = torch.stack([x, y, r, torch.ones_like(x)], dim=-1).view(-1, 4)  # (R*R, 4)
        self.register_buffer("coords", coords, persistent=False)

    def initial_solution(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        out = []
        for a, b in self.shapes:
            out.append(rng.normal(0.0, self.init_scale / np.sqrt(a) * np.sqrt(2.0), size=a * b))
            out.append(rng.normal(0.0, 0.1 * self.init_scale, size=b))
        return np.concatenate(out)

    def forward(self, solutions: torch.Tensor) -> torch.Tensor:
        bsz = solutions.shape[0]
        h = self.coords.to(solutions.dtype).unsqueeze(0).expand(bsz, -1, -1)  # (B, P, 4)
        pos = 0
        for i, (a, b) in enumerate(self.shapes):
            w = solutions[:, pos:pos + a * b].view(bsz, a, b)  # (B, a, b)
            pos += a * b
            bias = solutions[:, pos:pos + b].view(bsz, 1, b)  # (B, 1, b)
            pos += b
            h = torch.bmm(h, w) + bias  # (B, P, b)
            if i < len(self.shapes) - 1:
                h = _activate(h)
        img = torch.sigmoid(h)  # (B, P, 3)
        return img.transpose(1, 2).reshape(bsz, 3, self.resolution, self.resolution)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "hidden": self.hidden, "layers": self.layers}
