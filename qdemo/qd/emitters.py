"""Emitters and schedulers, all from pyribs (nothing re-implemented here), by a registry.

:data:`EMITTER_KINDS` maps each name to an :class:`EmitterKind`: how to build it from pyribs
pieces, whether it takes gradients, whether a bandit or hybrid may pool it, its default ranker,
restart rule and archive learning rate, and which config field is its step size. Adding an
emitter is one entry here (plus its config options, docs/architecture.md "Adding something");
the config's validation, the scheduler and the manifest read the registry.

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

Standard library at import (the config validates names against the registry); pyribs is
imported when an emitter is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional


@dataclass(frozen=True)
class EmitterKind:
    """One entry of the emitter registry."""

    name: str
    build: Optional[Callable[..., Any]]
    """(kind, cfg, archive, x0, batch, seed, renderer) -> pyribs emitter; None for the schedulers
    that combine other kinds (bandit, hybrid)."""
    gradients: bool = False
    """Takes objective and measure gradients (DQD: the renderer must be differentiable)."""
    bandit: bool = False
    """May be pooled by ``bandit`` (``emitter.bandit_pool``)."""
    hybrid: bool = True
    """May be mixed into ``hybrid`` (``emitter.hybrid_pool``)."""
    ranker: tuple[str, str] = ("", "")
    """Default pyribs ranker on a plain archive and on a soft (thresholded) one; '' for none."""
    selection: str = "mu"
    """CMA-ES selection rule (cma-* kinds)."""
    restart_rule: str = ""
    """Default CMA-ES restart rule (cma-* kinds; '' for none)."""
    soft_archive: bool = False
    """Runs on a CMA-MAE soft archive by default (archive learning rate 0.01)."""
    thresholds: bool = False
    """A soft archive (``learning_rate`` < 1) has a meaning for it (improvement-ranked CMA)."""
    step: str = "sigma"
    """Its step size: 'sigma' (``emitter.sigma``) or 'gradient' (``EmitterConfig.gradient_steps``)."""

    @property
    def cma_es(self) -> bool:
        """Runs CMA-ES (so it needs at least 2 solutions per batch)."""
        return bool(self.restart_rule)


def _random(kind, cfg, archive, x0, batch, seed, renderer):
    from ribs.archives import GridArchive
    from ribs.emitters import GaussianEmitter

    blind = GridArchive(solution_dim=len(x0), dims=[1], ranges=[(0.0, 1.0)], seed=seed)  # stays empty
    return GaussianEmitter(blind, sigma=cfg.sigma, x0=x0, batch_size=batch, seed=seed)


def _gaussian(kind, cfg, archive, x0, batch, seed, renderer):
    from ribs.emitters import GaussianEmitter

    return GaussianEmitter(archive, sigma=cfg.sigma, x0=x0, batch_size=batch, seed=seed)


def _iso_line(kind, cfg, archive, x0, batch, seed, renderer):
    from ribs.emitters import IsoLineEmitter

    return IsoLineEmitter(archive, iso_sigma=cfg.sigma, line_sigma=cfg.line_sigma, x0=x0, batch_size=batch, seed=seed)


def _cma(kind, cfg, archive, x0, batch, seed, renderer):
    from ribs.emitters import EvolutionStrategyEmitter

    return EvolutionStrategyEmitter(archive, x0=x0, sigma0=cfg.sigma, ranker=cfg.ranker or default_ranker(kind, cfg),
                                    selection_rule=kind.selection, restart_rule=cfg.restart_rule or kind.restart_rule,
                                    batch_size=batch, seed=seed)


def _arborescence(kind, cfg, archive, x0, batch, seed, renderer):
    from ribs.emitters import GradientArborescenceEmitter

    grad_lr, grad_sigma = cfg.gradient_steps(renderer)
    return GradientArborescenceEmitter(archive, x0=x0, sigma0=grad_sigma, lr=grad_lr,
                                       ranker=cfg.ranker or default_ranker(kind, cfg), selection_rule=kind.selection,
                                       restart_rule=cfg.restart_rule or kind.restart_rule, grad_opt="adam",
                                       normalize_grad=True, batch_size=batch, seed=seed)


EMITTER_KINDS: dict[str, EmitterKind] = {k.name: k for k in (
    EmitterKind("random", _random, hybrid=False),
    EmitterKind("map-elites", _gaussian, bandit=True),
    EmitterKind("iso-line", _iso_line, bandit=True),
    EmitterKind("cma-me", _cma, bandit=True, ranker=("2imp", "2imp"), selection="filter",
                restart_rule="no_improvement"),
    EmitterKind("cma-mae", _cma, ranker=("imp", "imp"), restart_rule="basic", soft_archive=True, thresholds=True),
    EmitterKind("cma-mega", _arborescence, gradients=True, ranker=("2imp", "imp"), restart_rule="no_improvement",
                thresholds=True, step="gradient"),
    EmitterKind("cma-maega", _arborescence, gradients=True, ranker=("2imp", "imp"), restart_rule="basic",
                soft_archive=True, thresholds=True, step="gradient"),
    EmitterKind("bandit", None, hybrid=False),
    EmitterKind("hybrid", None, hybrid=False),
)}
"""The emitter registry: name -> :class:`EmitterKind` (order: the CLI's and the docs')."""
EMITTERS = tuple(EMITTER_KINDS)
GRADIENT_EMITTERS = tuple(k.name for k in EMITTER_KINDS.values() if k.gradients)
"""Emitters that ask for objective and measure gradients (DQD: the renderer must be differentiable)."""


def default_learning_rate(cfg) -> float:
    """The archive learning rate ``cfg`` (an EmitterConfig) runs with (CMA-MAE's alpha)."""
    kinds = [EMITTER_KINDS[k] for k in cfg.kinds()]
    if cfg.learning_rate is not None:
        if not any(k.thresholds for k in kinds) and cfg.learning_rate < 1.0:
            return 1.0  # thresholds only make sense with improvement-ranked CMA emitters
        return float(cfg.learning_rate)
    return 0.01 if any(k.soft_archive for k in kinds) else 1.0


def default_ranker(kind: EmitterKind, cfg) -> str:
    """``kind``'s ranker where ``cfg.ranker`` is null: its plain-archive or soft-archive default."""
    return kind.ranker[default_learning_rate(cfg) < 1.0]


def _seeds(seed: int, n: int) -> list[int]:
    import numpy as np

    ss = np.random.SeedSequence([int(seed), 7919])
    return [int(s.generate_state(1)[0]) for s in ss.spawn(n)]


def _one(name: str, cfg, archive, x0, batch: int, seed: int, renderer: str):
    kind = EMITTER_KINDS.get(name)
    if kind is None or kind.build is None:
        raise ValueError(f"unknown emitter kind {name!r}")
    return kind.build(kind, cfg, archive, x0, batch, seed, renderer)


def build_scheduler(cfg, archives, x0, *, batch_size: int, seed: int, renderer: str = "default"):
    """A pyribs scheduler running ``cfg.num_emitters`` emitters of kind ``cfg.name`` (an EmitterConfig).

    ``batch_size`` solutions per ``ask()`` in total (split evenly); cma-mega additionally
    asks one gradient solution per emitter through ``ask_dqd()``. ``renderer`` (its name)
    picks cma-mega's / cma-maega's step sizes (:meth:`EmitterConfig.gradient_steps`).
    """
    import numpy as np
    from ribs.schedulers import BanditScheduler, Scheduler

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


def is_dqd(cfg) -> bool:
    """Whether the scheduler runs the DQD loop (some emitter takes gradients)."""
    return cfg.name != "bandit" and any(EMITTER_KINDS[k].gradients for k in cfg.kinds())


__all__ = ["EMITTERS", "EMITTER_KINDS", "GRADIENT_EMITTERS", "EmitterKind", "build_scheduler", "default_learning_rate",
           "default_ranker", "is_dqd"]
