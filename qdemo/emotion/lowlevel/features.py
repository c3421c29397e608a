"""Low-level image statistics: what SHINE-style normalisation equalises (luminance, contrast,
spectrum) plus colour and edges, so they also tell how much emotion such statistics alone carry.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722])
"""Rec. 709 luma weights (applied to the gamma-encoded sRGB values)."""

_HUE_BINS = 8

LOWLEVEL_FEATURE_NAMES: tuple[str, ...] = (
    "lum_mean", "lum_sd", "lum_skew", "lum_p05", "lum_p50", "lum_p95", "lum_entropy",
    "rms_contrast", "michelson_p", "r_mean", "g_mean", "b_mean", "rg_mean", "yb_mean",
    "hue_cos", "hue_sin", "hue_concentration", "sat_mean", "sat_sd", "val_mean", "val_sd",
    "colourfulness", "edge_density", "grad_mean", "grad_sd", "spectral_slope",
    "spectral_intercept", "high_freq_ratio", "lum_top_minus_bottom", "lum_centre_minus_surround",
    *(f"hue_hist_{i}" for i in range(_HUE_BINS)),
)
"""Names of the columns of :func:`lowlevel_features`, in order."""


def _to_hwc(image: Any) -> np.ndarray:
    if hasattr(image, "detach"):
        image = image.detach().cpu().float().numpy()
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[0] != 3:
        raise ValueError(f"expected an image of shape (3, H, W), got {arr.shape}")
    return np.clip(arr, 0.0, 1.0).transpose(1, 2, 0)  # (H, W, 3)


def _rgb_to_hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) in [0, 1] -> hue in [0, 1), saturation, value."""
    mx = rgb.max(axis=2)
    mn = rgb.min(axis=2)
    delta = mx - mn
    sat = np.where(mx > 0, delta / np.maximum(mx, 1e-12), 0.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.maximum(delta, 1e-12)
    h = np.where(mx == r, ((g - b) / safe) % 6.0,
                 np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    h = np.where(delta > 0, h / 6.0, 0.0)
    return h, sat, mx


def spectral_slope(lum: np.ndarray, *, fmin: float = 0.01, fmax: float = 0.25) -> tuple[float, float, float]:
    """Slope and intercept of log amplitude vs log frequency (rotationally averaged).

    ``lum`` (H, W) is cropped to its central square, mean-removed and Hann-windowed;
    frequencies in cycles/pixel from ``fmin`` to ``fmax`` enter the fit (natural images:
    slope about -1 to -1.5). Also returns the share of spectral power above 0.125 c/px.
    """
    h, w = lum.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    sq = lum[y0:y0 + s, x0:x0 + s]
    sq = sq - sq.mean()
    win = np.outer(np.hanning(s), np.hanning(s))
    amp = np.abs(np.fft.fftshift(np.fft.fft2(sq * win)))
    fy = np.fft.fftshift(np.fft.fftfreq(s))
    rad = np.sqrt(fy[:, None] ** 2 + fy[None, :] ** 2)  # cycles / pixel
    nb = max(8, s // 4)
    edges = np.linspace(0.0, 0.5, nb + 1)
    which = np.digitize(rad.ravel(), edges) - 1
    valid = (which >= 0) & (which < nb)
    sums = np.bincount(which[valid], weights=amp.ravel()[valid], minlength=nb)
    cnts = np.bincount(which[valid], minlength=nb)
    centres = 0.5 * (edges[:-1] + edges[1:])
    prof = np.where(cnts > 0, sums / np.maximum(cnts, 1), 0.0)
    use = (centres >= fmin) & (centres <= fmax) & (prof > 0)
    if use.sum() < 3:
        slope, icpt = 0.0, 0.0
    else:
        slope, icpt = np.polyfit(np.log(centres[use]), np.log(prof[use]), 1)
    power = amp ** 2
    total = power[rad > 0].sum()
    hf = float(power[rad > 0.125].sum() / total) if total > 0 else 0.0
    return float(slope), float(icpt), hf


def lowlevel_features(image: Any) -> np.ndarray:
    """Low-level statistics of one image ``(3, H, W)`` in [0, 1] -> (F,) float32.

    Columns are named in :data:`LOWLEVEL_FEATURE_NAMES`: luminance moments, percentiles
    and entropy; RMS and percentile-Michelson contrast; RGB and opponent-colour means;
    saturation-weighted circular hue mean, HSV statistics, a saturation-weighted hue
    histogram; Hasler & Suesstrunk colourfulness; Sobel edge density and gradient
    statistics; spectral slope/intercept of the rotationally averaged amplitude spectrum
    and high-frequency power share; top-bottom and centre-surround luminance differences.
    """
    rgb = _to_hwc(image)  # (H, W, 3)
    h, w, _ = rgb.shape
    if h < 8 or w < 8:
        raise ValueError(f"image too small for low-level features: {h}x{w}")
    lum = rgb @ LUMA  # (H, W)
    lm, ls = lum.mean(), lum.std()
    skew = float(((lum - lm) ** 3).mean() / ls ** 3) if ls > 1e-8 else 0.0
    p05, p50, p95 = np.percentile(lum, [5, 50, 95])
    hist = np.histogram(lum, bins=32, range=(0, 1))[0].astype(np.float64)
    hist /= hist.sum()
    entropy = float(-(hist[hist > 0] * np.log2(hist[hist > 0])).sum())
    michelson = float((p95 - p05) / (p95 + p05)) if (p95 + p05) > 1e-8 else 0.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    hue, sat, val = _rgb_to_hsv(rgb)
    ang = 2 * math.pi * hue
    wsum = sat.sum()
    if wsum > 1e-8:
        hc, hs = float((sat * np.cos(ang)).sum() / wsum), float((sat * np.sin(ang)).sum() / wsum)
        hue_hist = np.bincount(np.minimum((hue * _HUE_BINS).astype(int), _HUE_BINS - 1).ravel(),
                               weights=sat.ravel(), minlength=_HUE_BINS) / wsum
    else:
        hc, hs = 0.0, 0.0
        hue_hist = np.zeros(_HUE_BINS)
    colourful = math.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    # Sobel gradients of luminance
    p = np.pad(lum, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    grad = np.hypot(gx, gy) / 8.0
    edge_density = float((grad > 0.05).mean())
    slope, icpt, hf = spectral_slope(lum)
    top, bottom = lum[: h // 2].mean(), lum[h - h // 2:].mean()
    cy, cx = slice(h // 4, h - h // 4), slice(w // 4, w - w // 4)
    centre = lum[cy, cx].mean()
    surround = (lum.sum() - lum[cy, cx].sum()) / max(lum.size - lum[cy, cx].size, 1)
    feats = [
        lm, ls, skew, p05, p50, p95, entropy,
        ls, michelson, r.mean(), g.mean(), b.mean(), rg.mean(), yb.mean(),
        hc, hs, math.hypot(hc, hs), sat.mean(), sat.std(), val.mean(), val.std(),
        colourful, edge_density, grad.mean(), grad.std(), slope, icpt, hf,
        top - bottom, centre - surround, *hue_hist,
    ]
    out = np.asarray(feats, dtype=np.float32)
    assert out.shape == (len(LOWLEVEL_FEATURE_NAMES),)
    return out


def lowlevel_feature_matrix(paths: Sequence[str | Path], *, max_side: int = 256,
                            progress: bool = True) -> np.ndarray:
    """(N, F) low-level features of image files, each first downscaled so that its longer
    side is at most ``max_side`` (features comparable across image sizes; faster)."""
    import torch
    from PIL import Image
    from tqdm.auto import tqdm

    from qdemo.io import open_rgb

    out = np.empty((len(paths), len(LOWLEVEL_FEATURE_NAMES)), dtype=np.float32)
    for i, p in enumerate(tqdm(paths, desc="low-level features", unit="img", disable=not progress)):
        im = open_rgb(p)
        scale = max_side / max(im.size)
        if scale < 1:
            im = im.resize((max(8, round(im.width * scale)), max(8, round(im.height * scale))), Image.BICUBIC)
        arr = torch.from_numpy(np.asarray(im, dtype=np.float32).copy() / 255.0).permute(2, 0, 1)  # (3, H, W)
        out[i] = lowlevel_features(arr)
    return out


def cached_lowlevel_features(paths: Sequence[str | Path], cache_dir: str | Path | None = None, *,
                             max_side: int = 256, progress: bool = True) -> np.ndarray:
    """:func:`lowlevel_feature_matrix`, cached as ``.npy`` in ``cache_dir`` keyed by the
    paths, their sizes and modification times, the feature names and ``max_side``."""
    import hashlib

    from qdemo.io import hash_files_state

    if cache_dir is None:
        return lowlevel_feature_matrix(paths, max_side=max_side, progress=progress)
    h = hashlib.sha256()
    h.update(repr((LOWLEVEL_FEATURE_NAMES, max_side)).encode())
    hash_files_state(h, paths)
    f = Path(cache_dir).expanduser() / f"lowlevel-{h.hexdigest()[:16]}.npy"
    if f.exists():
        X = np.load(f)
        if X.shape == (len(paths), len(LOWLEVEL_FEATURE_NAMES)):
            return X
    X = lowlevel_feature_matrix(paths, max_side=max_side, progress=progress)
    from qdemo.io import atomic_path

    with atomic_path(f) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, X)
    return X


__all__ = ["LOWLEVEL_FEATURE_NAMES", "LUMA", "cached_lowlevel_features", "lowlevel_feature_matrix",
           "lowlevel_features", "spectral_slope"]
