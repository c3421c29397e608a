"""Emitters and schedulers, all from pyribs (nothing re-implemented here).

========== ===================================================================
name       pyribs pieces
========== ===================================================================
random     ``GaussianEmitter`` bound to a private archive that is never filled, so
           every solution is ``x0 + sigma * N(0, I)``: plain random sampling around the
           renderer's initial solution, no archive feedback (the baseline).
map-elites ``GaussianEmitter``: Gaussian mutation of uniformly sampled elites.
iso-line   ``IsoLineEmitter``: iso + line (directional) variation of two elites.
cma-me     ``EvolutionStrategyEmitter`` (CMA-ES) with the two-stage improvement
           ranker ("2imp"), filter selection, restarts on no improvement.
cma-mae    ``EvolutionStrategyEmitter`` with the improvement ranker ("imp") on a
           soft archive (``learning_rate`` < 1, ``threshold_min``) plus a plain result
           archive that is reported.
cma-mega   ``GradientArborescenceEmitter``: CMA-ES over gradient coefficients, Adam on
           the centre, gradients from the differentiable renderer + searcher, normalised
           to unit length; step sizes per renderer (``EmitterConfig.gradient_steps``).
cma-maega  ``GradientArborescenceEmitter`` with the improvement ranker ("imp") on a soft
           archive (``learning_rate`` < 1) and basic restarts: CMA-MAEGA, the annealed
           variant of CMA-MEGA (Fontaine & Nikolaidis 2023), as cma-mae is to cma-me.
bandit     ``BanditScheduler`` (UCB1) over a pool of map-elites / iso-line / cma-me
           emitters.
hybrid     One ``Scheduler`` over emitters of different kinds (``hybrid_pool``, by default
           cma-maega and map-elites alternating) sharing the archive; gradient kinds get
           gradients.
========== ===================================================================
"""

from __future__ import annotations

import numpy as np
from ribs.archives import GridArchive
from ribs.emitters import (EmitterBase, EvolutionStrategyEmitter, GaussianEmitter,
                           GradientArborescenceEmitter, IsoLineEmitter)
from ribs.schedulers import BanditScheduler, Scheduler

from qdemo.qd.archive import Archives
from qdemo.qd.config import GRADIENT_EMITTERS, EmitterConfig


def default_learning_rate(cfg: EmitterConfig) -> float:
    """The archive learning rate this emitter runs with (CMA-MAE's alpha)."""
    kinds = set(cfg.kinds())
    if cfg.learning_rate is not None:
        if not kinds & {"cma-mae", *GRADIENT_EMITTERS} and cfg.learning_rate < 1.0:
            return 1.0  # thresholds only make sense with improvement-ranked CMA emitters
        return float(cfg.learning_rate)
    return 0.01 if kinds & {"cma-mae", "cma-maega"} else 1.0


def _seeds(seed: int, n: int) -> list[int]:
    ss = np.random.SeedSequence([int(seed), 7919])
    return [int(s.generate_state(1)[0]) for s in ss.spawn(n)]


def _one(kind: str, cfg: EmitterConfig, archive, x0: np.ndarray, batch: int, seed: int,
         renderer: str) -> EmitterBase:
    if kind == "random":
        blind = GridArchive(solution_dim=len(x0), dims=[1], ranges=[(0.0, 1.0)], seed=seed)  # stays empty
        return GaussianEmitter(blind, sigma=cfg.sigma, x0=x0, batch_size=batch, seed=seed)
    if kind == "map-elites":
        return GaussianEmitter(archive, sigma=cfg.sigma, x0=x0, batch_size=batch, seed=seed)
    if kind == "iso-line":
        return IsoLineEmitter(archive, iso_sigma=cfg.sigma, line_sigma=cfg.line_sigma, x0=x0,
                              batch_size=batch, seed=seed)
    if kind in ("cma-me", "cma-mae"):
        ranker = cfg.ranker or ("imp" if kind == "cma-mae" else "2imp")
        return EvolutionStrategyEmitter(archive, x0=x0, sigma0=cfg.sigma, ranker=ranker,
                                        selection_rule="filter" if kind == "cma-me" else "mu",
                                        restart_rule=cfg.restart_rule or ("basic" if kind == "cma-mae" else "no_improvement"),
                                        batch_size=batch, seed=seed)
    if kind in GRADIENT_EMITTERS:
        ranker = cfg.ranker or ("imp" if default_learning_rate(cfg) < 1.0 else "2imp")
        restart = cfg.restart_rule or ("basic" if kind == "cma-maega" else "no_improvement")
        grad_lr, grad_sigma = cfg.gradient_steps(renderer)
        return GradientArborescenceEmitter(archive, x0=x0, sigma0=grad_sigma, lr=grad_lr, ranker=ranker,
                                           selection_rule="mu", restart_rule=restart,
                                           grad_opt="adam", normalize_grad=True, batch_size=batch, seed=seed)
    raise ValueError(f"unknown emitter kind {kind!r}")


def build_scheduler(cfg: EmitterConfig, archives: Archives, x0: np.ndarray, *, batch_size: int,
                    seed: int, renderer: str = "default") -> Scheduler | BanditScheduler:
    """A pyribs scheduler running ``cfg.num_emitters`` emitters of kind ``cfg.name``.

    ``batch_size`` solutions per ``ask()`` in total (split evenly); cma-mega additionally
    asks one gradient solution per emitter through ``ask_dqd()``. ``renderer`` (its name)
    picks cma-mega's / cma-maega's step sizes from ``cfg.grad_defaults`` where they are not set.
    """
    x0 = np.asarray(x0, dtype=np.float64)
    per = batch_size // cfg.num_emitters
    archive, result = archives.archive, archives.result
    if cfg.name == "bandit":
        kinds = [k for k in cfg.bandit_pool for _ in range(cfg.num_emitters)]
        seeds = _seeds(seed, len(kinds))
        pool = [_one(k, cfg, archive, x0, per, s, renderer) for k, s in zip(kinds, seeds)]
        return BanditScheduler(archive, pool, result, num_active=cfg.num_emitters, zeta=cfg.bandit_zeta)
    seeds = _seeds(seed, cfg.num_emitters)
    emitters = [_one(kind, cfg, archive, x0, per, s, renderer) for kind, s in zip(cfg.kinds(), seeds)]
    return Scheduler(archive, emitters, result)


def is_dqd(cfg: EmitterConfig) -> bool:
    """Whether the scheduler runs the DQD loop (some emitter takes gradients)."""
    return cfg.name != "bandit" and any(k in GRADIENT_EMITTERS for k in cfg.kinds())

