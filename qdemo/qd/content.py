"""Image statistics of real rated images: the explorer's measure of "an image with content".

Three statistics of an image's grey levels (BT.601 luma, the image resized to 64 px), each
differentiable so the gradient emitters can follow them:

- ``log_contrast``: log of the grey-level standard deviation (a near-uniform field is far
  below every rated image);
- ``log_edges``: log of the mean absolute difference of neighbouring pixels (flat fields are
  below, pixel noise above the rated images);
- ``slope``: the spectral slope, minus the slope of a straight-line fit of log amplitude
  against log spatial frequency over the rotationally averaged spectrum (natural images fall
  off as about 1/f, so about 1; white noise is flat, about 0).

:data:`CONTENT_RANGES` holds each statistic's 2nd-98th percentile over the rated images
qdemo trains on (OASIS, Emotion6 and BASS), measured by ``qdemo evolve-bench content``
(:func:`measure_content_ranges`) and written here with how it was measured. An image's
content score is the product over statistics of ``exp(-0.5 (d / tau)^2)``, ``d`` its distance
outside the range (0 inside), so every image in the range of real rated images scores 1,
a flat field or pixel noise about 0.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

SIZE = 64
"""Statistics are measured at this resolution (images are resized first)."""
STATS = ("log_contrast", "log_edges", "slope")

CONTENT_RANGES: dict[str, tuple[float, float]] = {
    "log_contrast": (-2.498, -0.765),
    "log_edges": (-4.354, -2.462),
    "slope": (1.057, 1.818),
}
"""2nd-98th percentiles over OASIS + Emotion6 + BASS (3463 images at 64 px, `qdemo evolve-bench
content`, 2026-12-04; medians -1.53, -3.23, 1.54). Per set: OASIS contrast -2.48..-1.11, slope
0.83..1.79; Emotion6 -2.56..-1.06, 1.11..1.85; BASS -1.38..-0.73, 1.25..1.78. Re-measure and
paste when the rated sets change."""
TAUS: dict[str, float] = {"log_contrast": 0.25, "log_edges": 0.25, "slope": 0.2}
"""Width of the fall-off outside each range (log units for the first two)."""


def grey(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, SIZE, SIZE) luma."""
    if images.shape[-1] != SIZE or images.shape[-2] != SIZE:
        images = F.interpolate(images, size=(SIZE, SIZE), mode="bilinear", align_corners=False,
                               antialias=images.shape[-1] > SIZE)
    w = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images * w).sum(dim=1)  # (B, S, S)


def _radial_bins(n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer radius (cycles / image) of each rfft2 coefficient, and the bins used (2 .. n/2 - 1)."""
    fy = torch.fft.fftfreq(n, d=1.0 / n, device=device).abs()
    fx = torch.fft.rfftfreq(n, d=1.0 / n, device=device)
    r = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2).round().long()  # (n, n//2+1)
    return r, torch.arange(2, n // 2, device=device)


def spectral_slope(g: torch.Tensor) -> torch.Tensor:
    """(B, S, S) grey images -> (B,) minus the log-log slope of the rotationally averaged amplitude."""
    b, n = g.shape[0], g.shape[-1]
    amp = torch.fft.rfft2(g - g.mean(dim=(1, 2), keepdim=True)).abs()  # (B, n, n//2+1)
    r, bins = _radial_bins(n, g.device)
    onehot = (r[None] == bins[:, None, None]).to(amp.dtype)  # (R, n, n//2+1)
    mean_amp = torch.einsum("bij,rij->br", amp, onehot) / onehot.sum(dim=(1, 2))  # (B, R)
    x = torch.log(bins.to(amp.dtype))
    y = torch.log(mean_amp + 1e-8)  # (B, R)
    xc = x - x.mean()
    slope = ((y - y.mean(dim=1, keepdim=True)) * xc).sum(dim=1) / (xc * xc).sum()
    return -slope  # (B,)


def image_stats(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """(B, 3, H, W) in [0, 1] -> {statistic: (B,)} (see module docstring); differentiable."""
    g = grey(images)
    contrast = g.std(dim=(1, 2))
    edges = 0.5 * ((g[:, :, 1:] - g[:, :, :-1]).abs().mean(dim=(1, 2)) + (g[:, 1:] - g[:, :-1]).abs().mean(dim=(1, 2)))
    return {"log_contrast": torch.log(contrast + 1e-4), "log_edges": torch.log(edges + 1e-5),
            "slope": spectral_slope(g)}


def content_score(images: torch.Tensor, ranges: dict[str, Sequence[float]] | None = None) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> (B,) in [0, 1]: 1 inside the rated images' range of every statistic."""
    ranges = ranges or CONTENT_RANGES
    stats = image_stats(images)
    score = torch.ones_like(stats["slope"])
    for name in STATS:
        lo, hi = ranges[name]
        x = stats[name]
        d = torch.relu(lo - x) + torch.relu(x - hi)  # (B,) 0 inside the range
        score = score * torch.exp(-0.5 * (d / TAUS[name]) ** 2)
    return score


@torch.no_grad()
def measure_content_ranges(paths: Sequence, *, low: float = 2.0, high: float = 98.0, batch: int = 64,
                           progress: bool = True) -> dict[str, object]:
    """Each statistic's [low, high] percentiles over the images at ``paths`` (resized to SIZE)."""
    import numpy as np
    from tqdm import tqdm

    from qdemo.emotion.views import resize_square
    from qdemo.io import load_image

    vals: dict[str, list[np.ndarray]] = {k: [] for k in STATS}
    for i in tqdm(range(0, len(paths), batch), desc="image statistics", disable=not progress, unit="batch"):
        x = torch.stack([resize_square(load_image(p), SIZE) for p in paths[i:i + batch]])
        for k, v in image_stats(x).items():
            vals[k].append(v.numpy())
    out: dict[str, object] = {"n": len(paths), "size": SIZE, "percentiles": [low, high]}
    for k in STATS:
        a = np.concatenate(vals[k])
        out[k] = [round(float(np.percentile(a, low)), 3), round(float(np.percentile(a, high)), 3)]
        out[k + "_median"] = round(float(np.median(a)), 3)
    return out


NEAR_UNIFORM_SD = 0.05
"""Grey-level standard deviation (on [0, 1]) under which an image is a near-uniform field."""


def is_near_uniform(images: torch.Tensor, threshold: float = NEAR_UNIFORM_SD) -> torch.Tensor:
    """(B, 3, H, W) -> (B,) bool: grey-level standard deviation below ``threshold`` (on [0, 1])."""
    return grey(images).std(dim=(1, 2)) < threshold


__all__ = ["CONTENT_RANGES", "NEAR_UNIFORM_SD", "STATS", "content_score", "image_stats", "is_near_uniform", "measure_content_ranges",
           "spectral_slope"]

