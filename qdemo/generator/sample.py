"""Drawing images from a generator: for one VAD, or over a valence x arousal sweep.

The labelled sweep figure is drawn by :func:`qdemo.viz.generator.plot_va_sweep` from
:func:`sweep_tiles`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Sequence

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


@torch.no_grad()
def generate_selected(
    generator: Generator, target: Sequence[float], k: int, *, judge, select_from: int, seed: int = 0,
    dims: Sequence[int] = (0, 1, 2), content: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
    min_content: float = 0.5, batch_size: int = 64,
) -> tuple[torch.Tensor, np.ndarray]:
    """``k`` images for one ``target`` VAD, kept from ``select_from`` draws: the ``k`` that ``judge``
    (the searcher the generator was trained against) places nearest the target (mean absolute
    error over ``dims``), as the explorer keeps the best of its evaluations per cell. Returns the
    images ``(k, 3, R, R)`` in draw order and the judge's error of each ``(k,)``.

    ``content`` (images -> (n,) scores in [0, 1], e.g. the explorer's content prior
    :func:`qdemo.qd.content.content_score`) keeps the selection from choosing what the explorer
    would not: draws scoring below ``min_content`` (a near-flat field) are taken only when fewer
    than ``k`` draws pass, then by content. ``select_from <= k`` keeps the first ``k`` draws (no
    selection; the same images as :func:`generate` with this ``seed``; ``judge`` may then be
    None, errors NaN). The latents of the ``select_from`` draws start with the ``k`` unselected
    ones, so selection only ever adds candidates."""
    n = max(int(k), int(select_from))
    z = generator.sample_z(n, generator=torch.Generator().manual_seed(seed))
    images = generate(generator, [list(target)] * n, z=z, batch_size=batch_size)  # (n, 3, R, R)
    if judge is None:
        if n > k:
            raise ValueError("selecting among draws needs a judge (the searcher)")
        return images, np.full(k, np.nan)
    dev = next(iter(judge.parameters())).device
    pred = torch.cat([judge(images[i:i + batch_size].to(dev)).cpu() for i in range(0, n, batch_size)]).numpy()
    idx = list(dims)
    err = np.abs(pred[:, idx] - np.asarray(target, dtype=np.float64)[idx]).mean(axis=1)  # (n,)
    if n <= k:
        return images, err
    score = content(images).detach().cpu().numpy() if content is not None else np.ones(n)
    order = np.lexsort((err, -np.where(score >= min_content, 1.0, score)))  # passing draws by error first
    keep = np.sort(order[:k])
    return images[torch.as_tensor(keep)], err[keep]


def sample_to_dir(generator: Generator, vad: Sequence[float], n: int, out: str | os.PathLike, *, seed: int = 0,
                  select_from: int = 0, judge=None, content=None) -> list[Path]:
    """Write ``n`` PNGs for one VAD to ``out`` (``sample_<k>.png``); return their paths.
    ``select_from`` > ``n``: kept from that many draws by ``judge`` and ``content``
    (:func:`generate_selected`)."""
    out = Path(out)
    images, _ = generate_selected(generator, vad, n, judge=judge, select_from=select_from, seed=seed, content=content)
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
