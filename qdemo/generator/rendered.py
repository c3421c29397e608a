"""A conditional generator in a renderer's parameter space: G(z, vad) -> renderer(params).

The pixel generator (:class:`qdemo.generator.models.Generator`) paints pixels; this one
outputs the parameters of a differentiable explorer renderer (the default ``shapes``
renderer, or any registered renderer by name) and renders them, so its images are of the
same kind as the explorer's elites and the two methods can be compared like with like.

``params = x0 + out(h)``, where ``h`` is an MLP over ``[z, embed(c)]`` that sees the
condition embedding again at every layer, and ``x0`` is the renderer's
``initial_solution()`` (the centre the explorer's emitters start from). The output layer is
initialised so that different latents already give different compositions (a spread of
``init_spread`` around ``x0`` in the renderer's raw, unbounded space).

A renderer without a differentiable path (gradients do not reach its parameters) is refused
with a one-line error: training needs the searcher's gradient through the renderer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from qdemo.errors import ConfigError

N_COND = 3  # valence, arousal, dominance
REFUSED = {"generator": "it is the pixel generator's latent space: a generator cannot draw through another generator"}
"""Renderers a rendered generator cannot use, and why."""


@dataclass
class RenderedArch:
    """What it takes to rebuild a rendered generator from its weights (stored beside them)."""

    renderer: str = "shapes"
    """Renderer name (qdemo.render.RENDERERS)."""
    options: dict[str, Any] = field(default_factory=dict)
    """The renderer's options (as ``renderer.options`` of an explorer run)."""
    resolution: int = 64
    """Image side in pixels."""
    z_dim: int = 32
    """Latent size."""
    width: int = 256
    """Hidden units per MLP layer."""
    layers: int = 3
    """Hidden MLP layers."""
    embed_dim: int = 64
    """Size of the condition embedding (fed to every layer)."""
    init_spread: float = 1.0
    """Initial standard deviation of the parameters over latents (raw renderer space)."""
    seed: int = 0
    """Seed of the renderer (its initial solution x0)."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RenderedArch":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


def build_renderer(arch: RenderedArch):
    """The renderer of ``arch``; ConfigError for an unknown, refused or bad-option renderer."""
    from qdemo.render.base import RENDERERS, make_renderer

    if arch.renderer in REFUSED:
        raise ConfigError(f"renderer {arch.renderer!r}: {REFUSED[arch.renderer]}")
    if arch.renderer not in RENDERERS:
        raise ConfigError(f"unknown renderer {arch.renderer!r}; valid renderers: "
                          f"{', '.join(sorted(set(RENDERERS) - set(REFUSED)))}")
    try:
        return make_renderer(arch.renderer, resolution=arch.resolution, seed=arch.seed, **arch.options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"renderer {arch.renderer!r} options {arch.options}: {exc}") from None


def check_differentiable(renderer, name: str) -> None:
    """ConfigError unless gradients of the rendered image reach the renderer's parameters."""
    x0 = torch.as_tensor(renderer.initial_solution(), dtype=torch.float32)[None]  # (1, dim)
    x = (x0 + 0.05 * torch.randn(2, x0.shape[1], generator=torch.Generator().manual_seed(0))).requires_grad_(True)
    try:
        img = renderer(x)
        w = torch.linspace(0.5, 1.5, img[0].numel(), dtype=img.dtype).view_as(img[0])  # not a constant sum
        (img * w).sum().backward()
    except RuntimeError as exc:  # e.g. "element 0 of tensors does not require grad"
        raise ConfigError(f"renderer {name!r} has no differentiable path ({str(exc).splitlines()[0]}); "
                          f"a generator must be trained through a differentiable renderer") from None
    if x.grad is None or not torch.isfinite(x.grad).all() or x.grad.abs().sum() == 0:
        raise ConfigError(f"renderer {name!r} has no differentiable path (no gradient reaches its parameters); "
                          f"a generator must be trained through a differentiable renderer")


class RenderedGenerator(nn.Module):
    """G(z, c): (B, z_dim), (B, 3) on [-1, 1] -> renderer parameters -> (B, 3, R, R) in [0, 1]."""

    kind = "rendered"

    def __init__(self, arch: RenderedArch | None = None, *, check: bool = True):
        super().__init__()
        self.arch = arch = arch or RenderedArch()
        self.renderer = build_renderer(arch)
        for p in self.renderer.parameters():  # a renderer's own weights (if any) stay fixed
            p.requires_grad_(False)
        if check:
            check_differentiable(self.renderer, arch.renderer)
        self.z_dim, self.resolution = arch.z_dim, arch.resolution
        self.solution_dim = int(self.renderer.solution_dim)
        self.embed = nn.Sequential(nn.Linear(N_COND, arch.embed_dim), nn.LeakyReLU(0.2),
                                   nn.Linear(arch.embed_dim, arch.embed_dim))
        dims = [arch.z_dim] + [arch.width] * arch.layers
        self.hidden = nn.ModuleList(nn.Linear(d + arch.embed_dim, arch.width) for d in dims[:-1])
        self.out = nn.Linear(arch.width, self.solution_dim)
        x0 = torch.as_tensor(self.renderer.initial_solution(), dtype=torch.float32)
        self.register_buffer("x0", x0)  # (dim,) saved with the weights: the parameters' centre
        self._init_out()

    @torch.no_grad()
    def _init_out(self) -> None:
        """Zero bias; weights scaled so the parameters spread by about ``init_spread`` over latents."""
        nn.init.zeros_(self.out.bias)
        h = self._hidden(torch.randn(256, self.z_dim, generator=torch.Generator().manual_seed(self.arch.seed)),
                         torch.zeros(256, N_COND))
        rms = h.pow(2).mean().sqrt().clamp_min(1e-6)
        nn.init.normal_(self.out.weight, std=1.0)
        self.out.weight.mul_(self.arch.init_spread / (rms * self.arch.width ** 0.5))

    @property
    def source_name(self) -> str:
        """The comparison's name for this generator: the renderer's."""
        return f"{self.arch.renderer}-renderer" if self.arch.renderer == "pixels" else self.arch.renderer

    def _hidden(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        e = self.embed(c)  # (B, embed_dim)
        h = z
        for layer in self.hidden:
            h = F.leaky_relu(layer(torch.cat([h, e], dim=1)), 0.2)  # (B, width)
        return h

    def params(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """(B, z_dim), (B, 3) -> (B, solution_dim) renderer parameters (raw, unbounded)."""
        return self.x0 + self.out(self._hidden(z, c))

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.renderer(self.params(z, c))  # (B, 3, R, R)

    @staticmethod
    def is_condition_param(name: str) -> bool:
        """True for the condition embedding (its own learning rate, ``lr_cond``)."""
        return name.startswith("embed.")

    def sample_z(self, n: int, *, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """(n, z_dim) standard normal latents from the caller's seeded generator."""
        z = torch.randn(n, self.z_dim, generator=generator)
        return z.to(device) if device is not None else z


__all__ = ["REFUSED", "RenderedArch", "RenderedGenerator", "build_renderer", "check_differentiable"]
