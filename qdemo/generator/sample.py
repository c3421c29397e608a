"""Drawing images from a generator: for one VAD, or over a valence x arousal sweep.

The labelled sweep figure is drawn by :func:`qdemo.viz.generator.plot_va_sweep` from
:func:`sweep_tiles`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from qdemo.generator.models import Generator
from qdemo.io import save_png, tensor_to_pil


@torch.no_grad()
def generate(
    generator: Generator, vad: torch.Tensor | Sequence[Sequence[float]], *, seed: int = 0,
    z: torch.Tensor | None = None, batch_size: int = 64,
) -> torch.Tensor:
    """Images ``(N, 3, R, R)`` in [0, 1] for conditions ``vad`` ``(N, 3)``.

    Latents come from a generator seeded with ``seed`` (or are given as ``z`` ``(N, z_dim)``).
    """
    device = next(generator.parameters()).device
    c = torch.as_tensor(np.asarray(vad, dtype=np.float32)).reshape(-1, 3).clamp(-1, 1)  # (N, 3)
    if z is None:
        z = generator.sample_z(len(c), generator=torch.Generator().manual_seed(seed))
    out = []
    for i in range(0, len(c), batch_size):
        out.append(generator(z[i:i + batch_size].to(device), c[i:i + batch_size].to(device)).cpu())
    return torch.cat(out)  # (N, 3, R, R)


def sample_to_dir(generator: Generator, vad: Sequence[float], n: int, out: str | os.PathLike, *, seed: int = 0) -> list[Path]:
    """Write ``n`` PNGs for one VAD to ``out`` (``sample_<k>.png``); return their paths."""
    out = Path(out)
    images = generate(generator, [list(vad)] * n, seed=seed)
    paths = []
    for k, img in enumerate(images):
        p = out / f"sample_{k:03d}.png"
        save_png(img, p)
        paths.append(p)
    return paths


def image_grid(images: torch.Tensor, nrow: int, *, pad: int = 2, fill: int = 255) -> Image.Image:
    """``(N, 3, H, W)`` -> one PIL picture with ``nrow`` images per row."""
    n, _, h, w = images.shape
    rows = (n + nrow - 1) // nrow
    canvas = Image.new("RGB", (nrow * (w + pad) + pad, rows * (h + pad) + pad), (fill, fill, fill))
    for i, img in enumerate(images):
        r, c = divmod(i, nrow)
        canvas.paste(tensor_to_pil(img), (pad + c * (w + pad), pad + r * (h + pad)))
    return canvas


def va_sweep_conditions(steps: int, dominance: float = 0.0, extent: float = 0.9) -> torch.Tensor:
    """``(steps*steps, 3)`` conditions; row 0 = highest arousal, column 0 = lowest valence."""
    vals = torch.linspace(-extent, extent, steps)
    rows = []
    for a in vals.flip(0):
        for v in vals:
            rows.append([float(v), float(a), float(dominance)])
    return torch.tensor(rows)


def va_sweep(generator: Generator, *, steps: int = 5, dominance: float = 0.0, seed: int = 0,
             extent: float = 0.9, same_z: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(steps*steps, 3, R, R)`` over a valence x arousal sweep at fixed dominance.

    With ``same_z`` every cell uses the same latent, so only the condition differs.
    """
    cond = va_sweep_conditions(steps, dominance, extent)  # (S*S, 3)
    g = torch.Generator().manual_seed(seed)
    z = generator.sample_z(1 if same_z else len(cond), generator=g)
    z = z.expand(len(cond), -1) if same_z else z
    return generate(generator, cond, z=z), cond


def sweep_tiles(images: torch.Tensor, per_cell: int = 1) -> np.ndarray:
    """``(P*per_cell, 3, R, R)`` with ``per_cell`` consecutive images per sweep point -> one
    uint8 tile per point, the images side by side: ``(P, h, w, 3)`` (for the sweep figure)."""
    return np.stack([np.asarray(image_grid(images[i:i + per_cell], nrow=per_cell, pad=1))
                     for i in range(0, len(images), per_cell)])
