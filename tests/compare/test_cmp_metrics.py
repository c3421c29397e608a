"""Fréchet distance, diversity and the PCA feature space."""

from __future__ import annotations

import numpy as np
import pytest

from qdemo.compare.experiments import grid_targets
from qdemo.compare.metrics import FeatureSpace, frechet_distance, gaussian, mean_pairwise_distance


def test_frechet_known_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4))
    mu, cov = gaussian(x)
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-6)
    # shifting the mean by d adds |d|^2; scaling the covariance by s^2 adds (s-1)^2 * trace
    assert frechet_distance(mu + 2.0, cov, mu, cov) == pytest.approx(4 * 4.0, rel=1e-6)
    assert frechet_distance(mu, 4 * cov, mu, cov) == pytest.approx(np.trace(cov), rel=1e-4)


def test_mean_pairwise_distance():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    assert mean_pairwise_distance(x) == pytest.approx((5 + 0 + 5) / 3)
    assert np.isnan(mean_pairwise_distance(x[:1]))


def test_feature_space_orders_sets_by_realism(tmp_path):
    rng = np.random.default_rng(1)
    real = rng.normal(size=(300, 20))
    space = FeatureSpace.fit(real, dim=8)
    close = space.project(rng.normal(size=(60, 20)))
    far = space.project(rng.normal(size=(60, 20)) * 3 + 2)
    assert space.fid(close) < space.fid(far)
    assert space.nearest_real(close).mean() < space.nearest_real(far).mean()
    space.save(tmp_path / "s.npz")
    again = FeatureSpace.load(tmp_path / "s.npz")
    assert np.allclose(again.project(real[:3]), space.project(real[:3]))


def test_grid_targets_spread():
    t = grid_targets(5)
    assert t.shape == (125, 3)
    assert np.allclose(np.unique(t[:, 0]), [-0.8, -0.4, 0.0, 0.4, 0.8])
