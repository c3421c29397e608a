"""Fourier parameterisation with decorrelated colour and 1/f amplitude scaling.

The idea (after Olah et al., "Feature Visualization", Distill 2017): optimising pixels
directly favours high-frequency noise, because every pixel is an independent direction.
Natural images have amplitude spectra falling roughly as 1/f, and their colour channels
are strongly correlated. So a solution here holds the real and imaginary parts of the
*low-frequency* Fourier coefficients of three decorrelated colour channels; each
coefficient is scaled by ``1 / max(f, f_min) ** decay`` before the inverse real FFT, and
the three channels are mixed back to RGB with an opponent-colour basis:

* luminance ``(1, 1, 1) / sqrt(3)``,
* red-green ``(1, -1, 0) / sqrt(2)``,
* blue-yellow ``(1, 1, -2) / sqrt(6)``,

weighted by ``colour_scales`` (luminance carries most of the variance in natural images,
so by default it gets the largest weight). A sigmoid maps the result to [0, 1]; the
zero solution is uniform mid-grey.

Only frequencies with ``|fy| <= max_freq`` and ``0 <= fx <= max_freq`` (cycles per
image) are free, so the search space stays small enough for CMA-ES:
``dim = 3 * 2 * (2 * max_freq + 1) * (max_freq + 1)`` (270 for ``max_freq=4``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from qdemo.render.base import Renderer


class FourierRenderer(Renderer):
    """``(B, dim)`` low-frequency spectra -> ``(B, 3, R, R)`` images.

    Args:
        resolution: output side length in pixels.
        seed: unused (deterministic); kept for the common signature.
        max_freq: highest free frequency (cycles per image) on each axis.
        decay: exponent of the 1/f amplitude scaling.
        colour_scales: weights of the luminance, red-green and blue-yellow channels.
        gain: overall gain before the sigmoid.
    """

    name = "fourier"

    def __init__(self, *, resolution: int = 64, seed: int = 0, max_freq: int = 4, decay: float = 1.0,
                 colour_scales: tuple[float, float, float] = (1.0, 0.5, 0.5), gain: float = 2.0) -> None:
        super().__init__()
        if max_freq < 1 or 2 * max_freq + 1 > resolution:
            raise ValueError(f"fourier renderer: need 1 <= max_freq and 2*max_freq+1 <= resolution, got {max_freq}")
        self.resolution = int(resolution)
        self.max_freq = int(max_freq)
        self.decay = float(decay)
        self.gain = float(gain)
        k = self.max_freq
        ny, nx = 2 * k + 1, k + 1
        self.solution_dim = 3 * 2 * ny * nx
        fy = torch.cat([torch.arange(0, k + 1), torch.arange(-k, 0)]).float()  # (ny,) in FFT order
        fx = torch.arange(0, k + 1).float()  # (nx,)
        f = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)  # (ny, nx)
        scale = 1.0 / torch.clamp(f, min=1.0) ** self.decay
        scale[0, 0] = 1.0  # the mean colour
        # rows of the (ny, nx) block in the full (R, R//2+1) rfft spectrum
        rows = torch.cat([torch.arange(0, k + 1), torch.arange(resolution - k, resolution)])
        basis = torch.tensor([
            [1 / math.sqrt(3), 1 / math.sqrt(3), 1 / math.sqrt(3)],
            [1 / math.sqrt(2), -1 / math.sqrt(2), 0.0],
            [1 / math.sqrt(6), 1 / math.sqrt(6), -2 / math.sqrt(6)],
        ])  # (3 decorrelated, 3 RGB)
        mix = basis * torch.tensor(colour_scales, dtype=torch.float32)[:, None]  # (3, 3)
        self.register_buffer("scale", scale, persistent=False)
        self.register_buffer("rows", rows, persistent=False)
        self.register_buffer("mix", mix, persistent=False)

    def forward(self, solutions: torch.Tensor) -> torch.Tensor:
        b, r, k = solutions.shape[0], self.resolution, self.max_freq
        ny, nx = 2 * k + 1, k + 1
        coef = solutions.view(b, 3, 2, ny, nx)  # (B, 3, re/im, ny, nx)
        spec_small = torch.complex(coef[:, :, 0], coef[:, :, 1]) * self.scale  # (B, 3, ny, nx)
        spec = torch.zeros(b, 3, r, r // 2 + 1, dtype=spec_small.dtype, device=solutions.device)
        spec[:, :, self.rows, :nx] = spec_small  # (B, 3, R, R//2+1), zero above max_freq
        # "forward" normalisation: a unit coefficient gives a unit-amplitude wave
        img = torch.fft.irfft2(spec, s=(r, r), norm="forward")  # (B, 3, R, R) decorrelated channels
        rgb = torch.einsum("bchw,cd->bdhw", img, self.mix)  # (B, 3, R, R)
        return torch.sigmoid(self.gain * rgb / 4.0)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "max_freq": self.max_freq, "decay": self.decay}

