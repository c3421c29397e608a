"""Batched scoring: objective range, batch == one-by-one, Jacobians, cell geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qdemo.qd import ObjectiveConfig, Scorer, total_variation
from qdemo.qd.archive import build_archives, cell_agreement, coverage_of_points
from qdemo.qd.config import GridConfig
from qdemo.render import make_renderer


def _scorer(tiny_model, name="pixels", ranges=((-1, 1), (-1, 1), (-1, 1)), chunk=64, **obj):
    r = make_renderer(name, resolution=16, seed=0)
    return Scorer(r, tiny_model, objective=ObjectiveConfig(**obj), ranges=np.asarray(ranges, float), chunk=chunk)


def _sols(scorer, n, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return scorer.renderer.initial_solution() + scale * rng.normal(size=(n, scorer.renderer.solution_dim))


@pytest.mark.parametrize("name", ["pixels", "fourier", "cppn"])
def test_objective_in_range_and_measures_are_searcher_mean(tiny_model, name):
    s = _scorer(tiny_model, name)
    x = _sols(s, 12, scale=3.0)
    sb = s.score(x)
    assert sb.objective.shape == (12,) and sb.measures.shape == (12, 3)
    assert np.all(sb.objective >= 0) and np.all(sb.objective <= 100)
    assert sb.objective.std() > 0  # not a constant
    with torch.no_grad():
        pred = tiny_model.predict(s.renderer(torch.as_tensor(x, dtype=torch.float32)))
    np.testing.assert_allclose(sb.vad, pred.mean.numpy(), atol=1e-5)
    np.testing.assert_allclose(sb.vad_sd, pred.sd.numpy(), atol=1e-5)
    # documented formula
    imgs = s.renderer(torch.as_tensor(x, dtype=torch.float32))
    agree = 1 - pred.sd.mean(1).clamp(0, 1)
    smooth = torch.exp(-total_variation(imgs) / 0.1)
    np.testing.assert_allclose(sb.objective, (100 * (0.75 * agree + 0.25 * smooth)).detach().numpy(), atol=1e-3)
    assert s.evaluations == 12


def test_objective_extremes():
    # identical members -> agreement 1; a flat image -> TV 0 -> smoothness 1 -> objective 100
    from qdemo.emotion import TinyEmotionModel

    m = TinyEmotionModel(seed=0, n_members=1)
    s = _scorer(m)
    sb = s.score(np.zeros((2, s.renderer.solution_dim)))
    np.testing.assert_allclose(sb.objective, 100.0, atol=1e-4)
    # a maximally noisy image under prior-only weighting scores near 0
    s2 = _scorer(m, agreement_weight=0.0, prior_weight=1.0, tv_scale=0.01)
    checker = np.tile(np.array([[40.0, -40.0], [-40.0, 40.0]]), (4, 4)).ravel()
    sb2 = s2.score(np.tile(checker, 3)[None, :])
    assert sb2.objective[0] < 20.0


def test_batched_equals_one_by_one(tiny_model):
    s = _scorer(tiny_model, chunk=5)  # chunking inside the batch too
    x = _sols(s, 11, seed=1)
    batch = s.score(x)
    single = [s.score(x[i:i + 1]) for i in range(11)]
    np.testing.assert_allclose(batch.objective, np.concatenate([b.objective for b in single]), atol=1e-4)
    np.testing.assert_allclose(batch.vad, np.concatenate([b.vad for b in single]), atol=1e-5)


def test_measures_clipped_to_grid_range(tiny_model):
    s = _scorer(tiny_model, ranges=((-0.05, 0.05), (-0.05, 0.05)))
    sb = s.score(_sols(s, 20, scale=4.0))
    assert sb.measures.shape == (20, 2)
    assert sb.measures.min() >= -0.05 and sb.measures.max() <= 0.05
    assert np.abs(sb.vad[:, :2]).max() > 0.05  # the unclipped values do leave the range


def test_jacobian_matches_autograd_per_sample_and_finite_differences(tiny_model):
    s = _scorer(tiny_model, "fourier")
    x = _sols(s, 3, seed=2, scale=0.5)
    sb = s.score(x, grad=True)
    assert sb.jacobian.shape == (3, 4, s.renderer.solution_dim)
    assert np.abs(sb.jacobian[:, 0]).sum(axis=1).min() > 0  # (tiny model tanh may saturate a measure)
    xt = torch.as_tensor(x[1:2], dtype=torch.float32).requires_grad_(True)
    obj, vad, _ = s._outputs(s.renderer(xt))
    (g,) = torch.autograd.grad(vad[0, 1], xt)
    np.testing.assert_allclose(sb.jacobian[1, 2], g[0].numpy(), rtol=1e-4, atol=1e-6)
    # finite difference along the gradient direction of the objective
    d = sb.jacobian[0, 0] / np.linalg.norm(sb.jacobian[0, 0])
    eps = 1e-2
    up = s.score((x[0] + eps * d)[None]).objective[0]
    down = s.score((x[0] - eps * d)[None]).objective[0]
    fd = (up - down) / (2 * eps)
    assert fd == pytest.approx(float(sb.jacobian[0, 0] @ d), rel=0.1)


def test_cell_agreement_grid():
    a = build_archives(GridConfig(name="va", cells=[4, 4], ranges=[[-1, 1], [-1, 1]]), 2).archive
    elites = a.index_of(np.array([[-0.9, -0.9], [0.1, 0.1], [0.1, 0.1]]))
    critic = np.array([[-0.9, -0.9], [0.6, 0.1], [-0.9, 0.9]])  # same, neighbour, far
    same, within = cell_agreement(a, elites, critic)
    assert same.tolist() == [True, False, False]
    assert within.tolist() == [True, True, False]
    idx, cov = coverage_of_points(a, np.array([[-0.9, -0.9], [-0.95, -0.95], [0.9, 0.9], [5.0, 5.0]]))
    assert cov == pytest.approx(2 / 16)  # (5, 5) clips into the corner cell of (0.9, 0.9)


def test_cell_agreement_cvt():
    a = build_archives(GridConfig(name="cvt", cvt_cells=20, cvt_samples=500), 2, seed=0).archive
    pts = np.array([[0.2, 0.3, -0.1], [0.9, 0.9, 0.9]])
    idx = a.index_of(pts)
    same, within = cell_agreement(a, idx, np.array([[0.2, 0.3, -0.1], [-0.9, -0.9, -0.9]]))
    assert same.tolist() == [True, False] and within.tolist() == [True, False]


def test_views_average_members_over_transformed_images(tiny_model):
    from qdemo.errors import ConfigError

    s = _scorer(tiny_model, views=["identity", "flip", "blur"])
    x = _sols(s, 5, seed=3)
    sb = s.score(x)
    imgs = s.renderer(torch.as_tensor(x, dtype=torch.float32))
    with torch.no_grad():
        views = [imgs, torch.flip(imgs, dims=(-1,)), torch.nn.functional.interpolate(
            torch.nn.functional.avg_pool2d(imgs, 2), size=imgs.shape[-2:], mode="bilinear", align_corners=False)]
        members = torch.cat([tiny_model.predict(v).members for v in views], dim=1)  # (B, 3K, 3)
    np.testing.assert_allclose(sb.vad, members.mean(1).numpy(), atol=1e-5)
    np.testing.assert_allclose(sb.vad_sd, members.std(1, unbiased=False).numpy(), atol=1e-5)
    single = np.concatenate([s.score(x[i:i + 1]).objective for i in range(5)])
    np.testing.assert_allclose(sb.objective, single, atol=1e-4)
    assert s.score(x[:2], grad=True).jacobian.shape == (2, 4, s.renderer.solution_dim)
    with pytest.raises(ConfigError, match="objective.views"):
        _scorer(tiny_model, views=["rotate"])
