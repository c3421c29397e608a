"""CMA-MEGA's step sizes: per-renderer defaults, explicit overrides, and the step really taken.

The CPPN needs a coefficient sigma about ten times the pixel renderer's (docs/benchmarks.md,
"CMA-MEGA step sizes on the CPPN"); these tests catch the wiring breaking (the generic
``sigma`` used instead of ``grad_sigma``, gradients no longer normalised, the renderer's
defaults ignored, the YAML drifting from the dataclass).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qdemo.config import load_config
from qdemo.errors import ConfigError
from qdemo.qd.archive import build_archives
from qdemo.qd.config import EmitterConfig, EvolveConfig
from qdemo.qd.emitters import build_scheduler, default_learning_rate, is_dqd
from qdemo.render.base import Renderer, renderer_class

REPO = Path(__file__).resolve().parents[2]


def test_renderer_defaults_explicit_values_and_fallback():
    e = EmitterConfig(name="cma-mega")
    lr_c, sig_c = e.gradient_steps("cppn")
    lr_p, sig_p = e.gradient_steps("pixels")
    own = {name: renderer_class(name).gradient_steps for name in ("cppn", "pixels")}  # live on the renderer classes
    assert (lr_c, sig_c) == (own["cppn"]["grad_lr"], own["cppn"]["grad_sigma"])
    assert (lr_p, sig_p) == (own["pixels"]["grad_lr"], own["pixels"]["grad_sigma"]) == (
        Renderer.gradient_steps["grad_lr"], Renderer.gradient_steps["grad_sigma"])  # the default of the others
    assert sig_c >= 5 * sig_p  # the CPPN's longer steps (measured) must not silently fall back
    assert EmitterConfig(name="cma-mega", grad_sigma=0.7).gradient_steps("cppn") == (lr_c, 0.7)
    assert EmitterConfig(name="cma-mega", grad_lr=0.3).gradient_steps("fourier") == (0.3, sig_p)
    # a partial per-renderer entry takes the rest from 'default'
    part = EmitterConfig(name="cma-mega", grad_defaults={"default": {"grad_lr": 0.01, "grad_sigma": 0.2},
                                                         "cppn": {"grad_sigma": 3.0}})
    assert part.gradient_steps("cppn") == (0.01, 3.0)


@pytest.mark.parametrize("over, match", [
    ({"emitter.grad_defaults": {"cppn": {"grad_lr": 0.1}}}, "grad_sigma"),
    ({"emitter.grad_sigma": -1.0}, "grad_sigma"),
    ({"emitter.grad_defaults": {"default": {"grad_lr": 0.1, "grad_sigma": 0.4, "sigma": 2}}}, "grad_defaults.default"),
])
def test_bad_step_sizes_are_config_errors(over, match):
    cfg = load_config(EvolveConfig, None, {"emitter.name": "cma-mega", "renderer.name": "cppn", **over})
    with pytest.raises(ConfigError, match=match):
        cfg.validate()


def test_shipped_yaml_agrees_with_the_dataclass():
    yaml_cfg = load_config(EvolveConfig, REPO / "configs" / "evolve.yaml", {"emitter.name": "cma-mega"})
    plain = EmitterConfig(name="cma-mega")
    for renderer in ("cppn", "pixels", "fourier"):
        assert yaml_cfg.emitter.gradient_steps(renderer) == plain.gradient_steps(renderer)


@pytest.mark.parametrize("emitter, renderer", [("cma-mega", "cppn"), ("cma-mega", "pixels"), ("cma-maega", "cppn")])
def test_arborescence_steps_have_the_renderer_sigma_whatever_the_gradient_scale(emitter, renderer):
    """Solutions = centre + coefficients x unit gradients, coefficients ~ N(0, grad_sigma^2),
    so their distance from the centre is about grad_sigma * sqrt(1 + m), for tiny or huge
    raw gradients alike, and the generic ``sigma`` plays no part."""
    cfg = load_config(EvolveConfig, None, {"emitter.name": emitter, "renderer.name": renderer,
                                           "emitter.num_emitters": 1, "emitter.sigma": 123.0,
                                           "grid.cells": [4, 4, 3]})
    cfg.validate()
    _, grad_sigma = cfg.emitter.gradient_steps(renderer)
    dim, m = 50, 3
    rng = np.random.default_rng(0)
    for scale in (1e-4, 1e3):
        archives = build_archives(cfg.grid.space(seed=cfg.seed), dim, learning_rate=default_learning_rate(cfg.emitter),
                                  seed=0)
        sched = build_scheduler(cfg.emitter, archives, np.zeros(dim), batch_size=64, seed=0, renderer=renderer)
        centre = sched.ask_dqd()  # (1, dim)
        jac = scale * rng.standard_normal((1, 1 + m, dim))  # (1, 1 + m, dim)
        sched.tell_dqd(np.array([50.0]), np.zeros((1, m)), jac, vad=np.zeros((1, 3)), vad_sd=np.zeros((1, 3)))
        sols = sched.ask()  # (64, dim)
        dist = np.median(np.linalg.norm(sols - centre, axis=1))
        expected = grad_sigma * np.sqrt(1 + m)
        assert 0.6 * expected < dist < 1.4 * expected, (renderer, scale, dist, expected)


def test_cma_maega_is_the_annealed_gradient_emitter():
    """cma-maega = gradient arborescence + soft archive (alpha 0.01) + 'imp' ranker + basic
    restarts; cma-mega keeps the plain archive, '2imp' and restarts on no improvement."""
    from ribs.emitters import GradientArborescenceEmitter
    from ribs.emitters.rankers import ImprovementRanker, TwoStageImprovementRanker

    found = {}
    for name in ("cma-mega", "cma-maega"):
        e = EmitterConfig(name=name, num_emitters=1)
        assert is_dqd(e)
        cfg = load_config(EvolveConfig, None, {"emitter.name": name, "grid.cells": [4, 4, 3]})
        archives = build_archives(cfg.grid.space(seed=cfg.seed), 10, learning_rate=default_learning_rate(e), seed=0)
        (em,) = build_scheduler(e, archives, np.zeros(10), batch_size=8, seed=0, renderer="cppn").emitters
        assert isinstance(em, GradientArborescenceEmitter)
        found[name] = (default_learning_rate(e), type(em._ranker), em._restart_rule)
    assert found["cma-mega"] == (1.0, TwoStageImprovementRanker, "no_improvement")
    assert found["cma-maega"] == (0.01, ImprovementRanker, "basic")


def test_hybrid_runs_gradient_and_mutation_emitters_on_one_archive():
    """hybrid: one scheduler, the pool's kinds repeated to num_emitters; the gradient kinds
    make it a DQD loop with the soft archive, the others are plain pyribs emitters on it."""
    from ribs.emitters import GaussianEmitter, GradientArborescenceEmitter

    e = EmitterConfig(name="hybrid", num_emitters=4, hybrid_pool=["cma-maega", "cma-maega", "map-elites"])
    assert e.kinds() == ["cma-maega", "cma-maega", "map-elites", "cma-maega"]
    assert is_dqd(e) and default_learning_rate(e) == 0.01
    cfg = load_config(EvolveConfig, None, {"grid.cells": [4, 4, 3]})
    archives = build_archives(cfg.grid.space(seed=cfg.seed), 10, learning_rate=default_learning_rate(e), seed=0)
    sched = build_scheduler(e, archives, np.zeros(10), batch_size=8, seed=0, renderer="cppn")
    kinds = [type(em) for em in sched.emitters]
    assert kinds == [GradientArborescenceEmitter, GradientArborescenceEmitter, GaussianEmitter,
                     GradientArborescenceEmitter]
    assert all(em.archive is archives.archive for em in sched.emitters)
    assert sched.ask_dqd().shape == (3, 10)  # one gradient point per gradient emitter
    no_grad = EmitterConfig(name="hybrid", num_emitters=2, hybrid_pool=["map-elites", "cma-me"])
    assert not is_dqd(no_grad) and default_learning_rate(no_grad) == 1.0
