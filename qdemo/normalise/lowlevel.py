"""Differentiable low-level statistics (torch): luminance, its distribution, radial spectrum.

Used by the report (measuring) and, optionally, by training (``train.lambda_stats``: an
extra loss that matches these statistics of G(x) to those of SHINE(x) directly).
"""

from __future__ import annotations

import torch


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """sRGB values in [0, 1] -> linear light (the sRGB transfer function inverted)."""
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_luminance(lin: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) linear RGB -> (N, H, W) CIE Y (Rec. 709 weights)."""
    w = torch.tensor([0.2126, 0.7152, 0.0722], dtype=lin.dtype, device=lin.device).view(1, 3, 1, 1)
    return (lin * w).sum(dim=1)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB in [0, 1] -> (N, H, W) relative luminance CIE Y (Rec. 709) in [0, 1]."""
    return linear_luminance(srgb_to_linear(x.clamp(0, 1)))


def radial_log_amplitude(lum: torch.Tensor) -> torch.Tensor:
    """(N, H, W) -> (N, R) mean log amplitude per integer spatial frequency 1..min(H, W)//2."""
    n, h, w = lum.shape
    f = torch.fft.fftshift(torch.fft.fft2(lum - lum.mean(dim=(1, 2), keepdim=True)), dim=(-2, -1))
    amp = torch.log(f.abs() + 1e-6).reshape(n, -1)  # (N, H*W)
    yy, xx = torch.meshgrid(torch.arange(h, device=lum.device) - h // 2,
                            torch.arange(w, device=lum.device) - w // 2, indexing="ij")
    r = torch.sqrt((yy.float() ** 2 + xx.float() ** 2)).round().long().reshape(-1)
    rmax = min(h, w) // 2
    keep = (r >= 1) & (r <= rmax)
    idx = r[keep] - 1
    counts = torch.bincount(idx, minlength=rmax).to(amp.dtype)  # (R,)
    sums = torch.zeros(n, rmax, dtype=amp.dtype, device=amp.device).index_add(1, idx, amp[:, keep])
    return sums / counts


def stats_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Distance between low-level statistics of two image batches (B, 3, H, W), per image:
    1-D Wasserstein distance of the luminance distributions (sorted values) plus the mean
    absolute difference of the radial log-amplitude spectra (scaled by 0.1)."""
    lo, lt = luminance(out), luminance(target)
    w1 = (lo.flatten(1).sort(dim=1).values - lt.flatten(1).sort(dim=1).values).abs().mean()
    spec = (radial_log_amplitude(lo) - radial_log_amplitude(lt)).abs().mean()
    return w1 + 0.1 * spec
