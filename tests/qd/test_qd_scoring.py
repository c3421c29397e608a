"""Scorer contract (as pyribs' archive_base_test.py): every renderer x objective set-up must give
objectives in [0, 100], the documented shapes, clipped measures, per-image (batch- and
chunk-independent) scores and a Jacobian that agrees with finite differences.

Also: the objective is its terms (one class per term), and its description comes from them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qdemo.qd.content import content_score
from qdemo.emotion import TinyEmotionModel
from qdemo.errors import ConfigError
from qdemo.measure_space import MeasureSpace
from qdemo.qd import Agreement, Objective, ObjectiveConfig, Scorer, Smoothness, Term, Views, total_variation
from qdemo.render import RENDERERS as REGISTERED
from qdemo.render import make_renderer

RENDERERS = sorted(REGISTERED)
"""Every registered renderer (the default shapes and the generator's latent space included)."""
OBJECTIVES = {
    "default": {},
    "views": {"views": ["identity", "flip", "blur"]},
    "prior-only": {"agreement_weight": 0.0, "prior_weight": 1.0, "tv_scale": 0.05},
}


def _scorer(model, name="pixels", ranges=((-1, 1), (-1, 1), (-1, 1)), chunk=64, **obj):
    r = make_renderer(name, resolution=16, seed=0)
    return Scorer(r, model, objective=ObjectiveConfig(**obj), space=_space(ranges), chunk=chunk)


def _space(ranges):
    """A grid over the first len(ranges) VAD dimensions (the scorer clips its measures to it)."""
    return MeasureSpace.grid(ranges, [10] * len(ranges))


def _sols(scorer, n, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return scorer.renderer.initial_solution() + scale * rng.normal(size=(n, scorer.renderer.solution_dim))


@pytest.fixture(params=[(r, o) for r in RENDERERS for o in OBJECTIVES], ids=lambda p: f"{p[0]}-{p[1]}")
def scorer(request, tiny_model):
    name, obj = request.param
    return _scorer(tiny_model, name, **OBJECTIVES[obj])


# ----------------------------------------------------------------------------- the contract

def test_contract_shapes_and_range(scorer):
    x = _sols(scorer, 7, scale=3.0)
    sb = scorer.score(x)
    assert sb.objective.shape == (7,) and sb.measures.shape == (7, 3)
    assert sb.vad.shape == (7, 3) and sb.vad_sd.shape == (7, 3) and sb.jacobian is None
    assert np.all((sb.objective >= 0) & (sb.objective <= 100)) and sb.objective.std() > 0
    assert np.all(sb.vad_sd >= 0) and np.all(np.abs(sb.vad) <= 1)
    assert scorer.evaluations == 7
    empty = scorer.score(x[:0], grad=True)
    assert empty.objective.shape == (0,) and empty.jacobian.shape == (0, 4, scorer.renderer.solution_dim)


def test_contract_measures_clipped_to_the_grid(tiny_model):
    for name in RENDERERS:
        s = _scorer(tiny_model, name, ranges=((-0.05, 0.05), (-0.05, 0.05)))
        sb = s.score(_sols(s, 20, scale=4.0))
        assert sb.measures.shape == (20, 2)
        assert sb.measures.min() >= -0.05 and sb.measures.max() <= 0.05
        np.testing.assert_array_equal(sb.measures, np.clip(sb.vad[:, :2], -0.05, 0.05))
        assert np.abs(sb.vad[:, :2]).max() > 0.05, name  # the unclipped values do leave the range


def test_contract_batch_and_chunk_independence(scorer):
    """An image's score does not depend on its batch-mates nor on how the batch is chunked."""
    x = _sols(scorer, 9, seed=1)
    batch = scorer.score(x)
    single = [scorer.score(x[i:i + 1]) for i in range(9)]
    np.testing.assert_allclose(batch.objective, np.concatenate([b.objective for b in single]), atol=1e-4)
    np.testing.assert_allclose(batch.vad, np.concatenate([b.vad for b in single]), atol=1e-5)
    for chunk in (1, 4):
        scorer.chunk = chunk
        other = scorer.score(x)
        np.testing.assert_allclose(other.objective, batch.objective, atol=1e-4)
        np.testing.assert_allclose(other.vad_sd, batch.vad_sd, atol=1e-5)
    images = scorer.render(x)  # (9, 3, 16, 16)
    obj, vad, _ = scorer.score_images(images)
    np.testing.assert_allclose(obj, batch.objective, atol=1e-4)
    np.testing.assert_allclose(vad, batch.vad, atol=1e-5)


def test_contract_jacobian_agrees_with_finite_differences(scorer):
    x = _sols(scorer, 3, seed=2, scale=0.5)
    sb = scorer.score(x, grad=True)
    dim = scorer.renderer.solution_dim
    assert sb.jacobian.shape == (3, 4, dim)
    np.testing.assert_allclose(sb.objective, scorer.score(x).objective, atol=1e-4)  # same values with grad
    scorer.chunk = 2  # chunked Jacobians equal the whole-batch one
    np.testing.assert_allclose(scorer.score(x, grad=True).jacobian, sb.jacobian, rtol=1e-4,
                               atol=1e-5 * np.abs(sb.jacobian).max())  # float32 sums in another order
    assert np.abs(sb.jacobian[:, 0]).sum(axis=1).min() > 0
    # central differences along each output's gradient direction (float32 models: not too small a step)
    eps = 1e-3
    for out in range(4):
        g = sb.jacobian[0, out]
        d = g / np.linalg.norm(g)
        up, down = scorer.score((x[0] + eps * d)[None]), scorer.score((x[0] - eps * d)[None])
        value = (lambda b: b.objective[0]) if out == 0 else (lambda b, k=out - 1: b.vad[0, k])
        fd = (value(up) - value(down)) / (2 * eps)
        assert fd == pytest.approx(float(g @ d), rel=0.05, abs=1e-3), out


def test_jacobian_row_is_the_per_sample_autograd_gradient(tiny_model):
    s = _scorer(tiny_model, "fourier")
    x = _sols(s, 3, seed=2, scale=0.5)
    sb = s.score(x, grad=True)
    xt = torch.as_tensor(x[1:2], dtype=torch.float32).requires_grad_(True)
    _, vad, _ = s.outputs(s.renderer(xt))
    (g,) = torch.autograd.grad(vad[0, 1], xt)
    np.testing.assert_allclose(sb.jacobian[1, 2], g[0].numpy(), rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- the objective

def test_default_objective_is_the_documented_formula(tiny_model):
    s = _scorer(tiny_model, "cppn")
    x = _sols(s, 12, scale=3.0)
    sb = s.score(x)
    with torch.no_grad():
        imgs = s.renderer(torch.as_tensor(x, dtype=torch.float32))
        pred = tiny_model.predict(imgs)
    np.testing.assert_allclose(sb.vad, pred.mean.numpy(), atol=1e-5)
    np.testing.assert_allclose(sb.vad_sd, pred.sd.numpy(), atol=1e-5)
    agree = 1 - pred.sd.mean(1).clamp(0, 1)
    content = content_score(imgs).clamp_min(1e-6)
    np.testing.assert_allclose(sb.objective, (100 * torch.sqrt(agree * content)).numpy(), atol=1e-3)
    assert s.objective.describe().startswith("objective = 100 * agreement^(1/2) * content^(1/2);")
    # the pre-0.2 objective stays available: combine: mean, agreement 0.75 + smoothness 0.25
    old = _scorer(tiny_model, "cppn", combine="mean", content_weight=0.0, agreement_weight=0.75, prior_weight=0.25)
    smooth = torch.exp(-total_variation(imgs) / 0.1)
    np.testing.assert_allclose(old.score(x).objective, (100 * (0.75 * agree + 0.25 * smooth)).numpy(), atol=1e-3)


def test_flat_fields_and_pixel_noise_score_near_zero_whatever_the_models_say():
    """Issue 15: agreement alone is maximal for a uniform image; the content term makes a
    near-uniform field and pure noise score near 0, while rendered compositions score high."""
    m = TinyEmotionModel(seed=0, n_members=1)  # one member: agreement is 1 for every image
    s = Scorer(make_renderer("shapes", resolution=64, seed=0), m, objective=ObjectiveConfig(),
               space=_space([[-1.0, 1.0]] * 3))
    g = torch.Generator().manual_seed(0)
    flat = torch.rand(6, 3, 1, 1, generator=g).expand(6, 3, 64, 64).clone()  # (6, 3, 64, 64) uniform colours
    nearly = (flat + 0.02 * torch.rand(6, 3, 64, 64, generator=g)).clamp(0, 1)  # grey sd < 0.05
    noise = torch.rand(6, 3, 64, 64, generator=g)
    for imgs in (flat, nearly, noise):
        assert s.score_images(imgs)[0].max() < 5.0
    shapes = s.score(_sols(s, 6, scale=0.4)).objective
    assert shapes.min() > 80.0


def test_objective_extremes():
    # identical members -> agreement 1; a flat image -> TV 0 -> smoothness 1 -> objective 100 (mean combine)
    m = TinyEmotionModel(seed=0, n_members=1)
    s = _scorer(m, combine="mean", content_weight=0.0, agreement_weight=0.75, prior_weight=0.25)
    sb = s.score(np.zeros((2, s.renderer.solution_dim)))
    np.testing.assert_allclose(sb.objective, 100.0, atol=1e-4)
    # a maximally noisy image under prior-only weighting scores near 0
    s2 = _scorer(m, agreement_weight=0.0, content_weight=0.0, prior_weight=1.0, tv_scale=0.01)
    assert [t.name for t in s2.objective.terms] == ["smoothness"]
    checker = np.tile(np.array([[40.0, -40.0], [-40.0, 40.0]]), (4, 4)).ravel()
    sb2 = s2.score(np.tile(checker, 3)[None, :])
    assert sb2.objective[0] < 20.0


class Brightness(Term):
    """A test term: mean pixel value (a stand-in for a new prior)."""

    name = "brightness"
    formula = "mean pixel value"

    def __call__(self, images, members):
        return images.mean(dim=(1, 2, 3))

    @classmethod
    def from_config(cls, cfg):
        return cls(1.0)


def test_a_new_term_is_one_class_and_describes_itself(tiny_model):
    objective = Objective([Agreement(0.5), Smoothness(0.25, tv_scale=0.2), Brightness(0.25)])
    s = Scorer(make_renderer("pixels", resolution=16, seed=0), tiny_model, objective=objective,
               space=_space([[-1.0, 1.0]] * 3))
    x = _sols(s, 5, seed=4)
    with torch.no_grad():
        imgs = s.renderer(torch.as_tensor(x, dtype=torch.float32))
        members = tiny_model.predict(imgs).members  # (5, K, 3)
    parts = [t(imgs, members).numpy() for t in objective.terms]
    assert all(np.all((p >= 0) & (p <= 1)) for p in parts)
    want = 100 * (0.5 * parts[0] + 0.25 * parts[1] + 0.25 * parts[2]) / 1.0
    np.testing.assert_allclose(s.score(x).objective, want, atol=1e-3)
    text = objective.describe()
    assert text.startswith("objective = 100 * (0.5 * agreement + 0.25 * smoothness + 0.25 * brightness) / 1;")
    assert "brightness = mean pixel value" in text and "exp(-TV / 0.2)" in text
    with pytest.raises(ConfigError, match="weight > 0"):
        Objective([Agreement(0.0)])


# ----------------------------------------------------------------------------- views

def test_views_average_members_over_transformed_images(tiny_model):
    s = _scorer(tiny_model, views=["identity", "flip", "blur"])
    x = _sols(s, 5, seed=3)
    sb = s.score(x)
    with torch.no_grad():
        imgs = s.renderer(torch.as_tensor(x, dtype=torch.float32))
        views = [imgs, torch.flip(imgs, dims=(-1,)), torch.nn.functional.interpolate(
            torch.nn.functional.avg_pool2d(imgs, 2), size=imgs.shape[-2:], mode="bilinear", align_corners=False)]
        members = torch.cat([tiny_model.predict(v).members for v in views], dim=1)  # (B, 3K, 3)
    np.testing.assert_allclose(sb.vad, members.mean(1).numpy(), atol=1e-5)
    np.testing.assert_allclose(sb.vad_sd, members.std(1, unbiased=False).numpy(), atol=1e-5)
    with pytest.raises(ConfigError, match="objective.views"):
        _scorer(tiny_model, views=["rotate"])
    with pytest.raises(ConfigError, match="objective.views"):
        Views([])


def test_a_single_view_is_applied(tiny_model):
    """views: [flip] scores the mirrored image (not the image itself)."""
    s = _scorer(tiny_model, views=["flip"])
    x = _sols(s, 4, seed=5)
    with torch.no_grad():
        flipped = torch.flip(s.renderer(torch.as_tensor(x, dtype=torch.float32)), dims=(-1,))
        want = tiny_model.predict(flipped).mean
    np.testing.assert_allclose(s.score(x).vad, want.numpy(), atol=1e-5)


def test_the_contract_covers_every_registered_renderer():
    assert RENDERERS == sorted(REGISTERED) and {"shapes", "generator", "cppn"} <= set(RENDERERS)
