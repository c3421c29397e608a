"""Metrics in the critic's feature space: FID-like realism, diversity, nearest-photo distance.

Features of real photos define a PCA subspace (``dim`` components, default 64) in which
everything is measured, so covariance estimates stay usable with a few dozen images:

* realism: Fréchet distance between the Gaussian fitted to a set's projected features and
  the one fitted to the real photos' (FID-like; lower = closer to photos);
* per-image realism: Euclidean distance to the nearest real photo (lower = more photo-like);
* diversity: mean pairwise Euclidean distance within a set (higher = more varied).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import linalg


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)) (imaginary round-off dropped)."""
    diff = mu1 - mu2
    with warnings.catch_warnings():  # singular covariances are expected for small sets
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov1 @ cov2)
    if not np.isfinite(covmean).all():
        eps = np.eye(len(mu1)) * 1e-6
        covmean = linalg.sqrtm((cov1 + eps) @ (cov2 + eps))
    covmean = np.real(covmean)
    return float(max(0.0, diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean)))


def gaussian(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of rows of ``x`` (n, d); n = 1 gives zero covariance."""
    mu = x.mean(axis=0)
    cov = np.cov(x, rowvar=False) if len(x) > 1 else np.zeros((x.shape[1], x.shape[1]))
    return mu, np.atleast_2d(cov)


def mean_pairwise_distance(x: np.ndarray) -> float:
    """Mean Euclidean distance over all unordered pairs of rows of ``x`` (n, d); NaN for n < 2."""
    n = len(x)
    if n < 2:
        return float("nan")
    sq = (x * x).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
    iu = np.triu_indices(n, k=1)
    return float(np.sqrt(d2[iu]).mean())


@dataclass
class FeatureSpace:
    """PCA subspace of the real photos' critic features, and their statistics in it."""

    mean: np.ndarray
    """(F,) mean real feature."""
    components: np.ndarray
    """(F, d) principal directions."""
    real: np.ndarray
    """(N, d) projected real features."""

    @classmethod
    def fit(cls, real_features: np.ndarray, dim: int = 64) -> "FeatureSpace":
        x = np.asarray(real_features, dtype=np.float64)
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        d = max(1, min(dim, vt.shape[0], x.shape[1]))
        comps = vt[:d].T  # (F, d)
        return cls(mean=mean, components=comps, real=(x - mean) @ comps)

    def project(self, features: np.ndarray) -> np.ndarray:
        """(n, F) -> (n, d)."""
        return (np.asarray(features, dtype=np.float64) - self.mean) @ self.components

    def fid(self, projected: np.ndarray) -> float:
        """FID-like Fréchet distance of a projected set (n, d) to the real photos."""
        if len(projected) < 2:
            return float("nan")
        mu_r, cov_r = gaussian(self.real)
        mu, cov = gaussian(np.asarray(projected))
        return frechet_distance(mu, cov, mu_r, cov_r)

    def nearest_real(self, projected: np.ndarray) -> np.ndarray:
        """(n,) distance of each projected row to its nearest real photo."""
        p = np.asarray(projected, dtype=np.float64)
        sq = (p * p).sum(1)[:, None] + (self.real * self.real).sum(1)[None, :] - 2 * p @ self.real.T
        return np.sqrt(np.maximum(sq, 0.0).min(axis=1))

    def save(self, path: str | os.PathLike) -> None:
        from qdemo.io import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, mean=self.mean, components=self.components, real=self.real)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FeatureSpace":
        with np.load(Path(path), allow_pickle=False) as z:
            return cls(mean=z["mean"], components=z["components"], real=z["real"])


def cell_error(vad: np.ndarray, target: np.ndarray, dim_idx: list[int]) -> np.ndarray:
    """Mean absolute error over the grid's dims: vad (..., 3), target (3,) -> (...)."""
    return np.abs(np.asarray(vad)[..., dim_idx] - np.asarray(target)[dim_idx]).mean(axis=-1)


def within(vad: np.ndarray, target: np.ndarray, dim_idx: list[int], tol: float) -> np.ndarray:
    """True where the max abs error over the grid's dims is <= tol."""
    return np.abs(np.asarray(vad)[..., dim_idx] - np.asarray(target)[dim_idx]).max(axis=-1) <= tol


def photo_subset(photos, n: int = 600, seed: int = 0, tag: str = ""):
    """The seeded random subset of ``n`` photos (0 = all) that defines realism, and its cache tag."""
    import torch

    if 0 < n < len(photos):
        idx = torch.randperm(len(photos), generator=torch.Generator().manual_seed(seed))[:n].sort().values
        return photos[idx], f"{tag}|sub{n}s{seed}"
    return photos, tag


def real_feature_space(photos, critic, *, n: int = 600, seed: int = 0, dim: int = 64, cache_dir=None, tag: str = "",
                       progress: bool = True) -> FeatureSpace:
    """The critic's PCA feature space of a seeded random subset of ``n`` photos (0 = all).

    ``photos`` is the uint8 tensor ``(N, 3, R, R)`` of :func:`qdemo.generator.data.load_photo_tensor`.
    A subset keeps the critic's cost bounded (600 photos give stable 64-d statistics); the
    features are cached by critic hash, subset and tag.
    """
    from qdemo.generator.data import score_photos

    photos, tag = photo_subset(photos, n, seed, tag)
    feats = score_photos(photos, critic, cache_dir=cache_dir, tag=tag, what="features", progress=progress).numpy()
    return FeatureSpace.fit(feats, dim)
