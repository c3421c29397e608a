"""Build an explorer and its collaborators from an :class:`EvolveConfig`.

    search = build_search(cfg)                 # validates cfg, loads the searcher
    search.explorer.step()                     # the ask/tell loop (qdemo.qd.explorer)
    search.space, search.renderer, search.scorer, search.archives

The order is fixed (measure space, renderer, searcher, scorer, archives, scheduler), so a
seeded config gives the same search every time. The measure space
(:class:`~qdemo.measure_space.MeasureSpace`) is built once here from ``config.grid``; the
scorer, the archives, the run folder and the critic confirmation all use that one. Running it and writing its run folder is
:func:`qdemo.runfolder.run_evolve`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np
import torch

from qdemo.device import resolve_device
from qdemo.emotion.base import EmotionModel
from qdemo.errors import ConfigError
from qdemo.measure_space import MeasureSpace
from qdemo.qd.archive import Archives, build_archives
from qdemo.qd.config import EmitterConfig, EvolveConfig
from qdemo.qd.emitters import build_scheduler, default_learning_rate, is_dqd
from qdemo.qd.emotion_slots import require_distribution
from qdemo.qd.explorer import Explorer
from qdemo.emotion.zoo import load_emotion_model, prepare_model
from qdemo.qd.objective import Objective
from qdemo.qd.scoring import Scorer
from qdemo.qd.views import Views
from qdemo.render.base import Renderer, make_renderer


@dataclass
class Search:
    """An explorer and the collaborators it was built from (all on ``device``)."""

    config: EvolveConfig
    """The validated config."""
    device: torch.device
    """Where rendering and scoring run."""
    space: MeasureSpace
    """The cells: built once from ``config.grid``; places every point of the run."""
    renderer: Renderer
    """solutions (B, dim) -> images (B, 3, R, R)."""
    searcher: EmotionModel
    """The model the search optimises."""
    scorer: Scorer
    """renderer -> views -> searcher -> objective and measures, one batched call."""
    explorer: Explorer
    """The ask/tell loop over the scheduler and archives."""
    learning_rate: float
    """The archive learning rate (CMA-MAE's alpha; 1.0 = plain elitist archive)."""

    @property
    def archives(self) -> Archives:
        return self.explorer.archives

    @property
    def chunk(self) -> int:
        return self.scorer.chunk


def effective_emitter(config: EvolveConfig) -> EmitterConfig:
    """The emitter settings the search runs with: ``config.emitter``, except that an emotions
    grid restarts CMA-ES on no improvement where ``restart_rule`` is null (its few slots fill up
    and a converged CMA-MAE stopped exploring: 6 of 7 slots with 'basic', 7 with this; docs/evolve.md)."""
    e = config.emitter
    if config.grid.name == "emotions" and e.restart_rule is None:
        return replace(e, restart_rule="no_improvement")
    return e


def build_renderer(config: EvolveConfig) -> Renderer:
    """The renderer named in the config (option errors become ConfigError)."""
    rc = config.renderer
    try:
        options = rc.resolved_options()
        return make_renderer(rc.name, resolution=rc.resolution, seed=config.seed, **options)
    except TypeError as exc:
        raise ConfigError(f"renderer.options {options}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def score_chunk(config: EvolveConfig, device: torch.device) -> int:
    """Images per searcher call: ``config.score_chunk``, or 16 on CPU and 256 on a GPU."""
    return config.score_chunk or (16 if device.type == "cpu" else 256)


def build_scorer(config: EvolveConfig, renderer: Renderer, searcher: EmotionModel, *, space: MeasureSpace,
                 chunk: int) -> Scorer:
    """The config's objective and views over ``renderer`` and ``searcher``, measuring on ``space``
    (an emotions grid's searcher must have a distribution head)."""
    if space.is_slots:
        require_distribution(searcher, role="searcher", spec=str(config.searcher))
    return Scorer(renderer, searcher, objective=Objective.from_config(config.objective),
                  views=Views(config.objective.views), space=space, chunk=chunk)


def build_search(config: EvolveConfig, *, searcher: Optional[EmotionModel] = None,
                 device: str | torch.device = "auto") -> Search:
    """Validate ``config`` and build its explorer.

    ``searcher``: the model to optimise against (moved to the device, frozen, eval mode); None
    loads ``config.searcher``. ``device``: 'auto' defers to ``config.device``; anything else
    overrides it.
    """
    config.validate()
    dev = resolve_device(config.device if str(device) == "auto" else device)
    space = config.grid.space(seed=config.seed)
    renderer = build_renderer(config).to(dev)
    model = (prepare_model(searcher, dev) if searcher is not None
             else load_emotion_model(config.searcher, role="searcher", device=dev))
    check = getattr(renderer, "check_judge", None)  # a renderer trained against a searcher (the generator's latent space)
    if check is not None:
        check(model)
    scorer = build_scorer(config, renderer, model, space=space, chunk=score_chunk(config, dev))
    x0 = np.asarray(renderer.initial_solution())  # (dim,)
    lr = default_learning_rate(config.emitter)
    archives = build_archives(space, renderer.solution_dim, learning_rate=lr,
                              threshold_min=config.emitter.threshold_min, seed=config.seed)
    scheduler = build_scheduler(effective_emitter(config), archives, x0, batch_size=config.batch_size,
                                seed=config.seed, renderer=config.renderer.name)
    explorer = Explorer(scheduler, scorer, archives, dqd=is_dqd(config.emitter))
    return Search(config=config, device=dev, space=space, renderer=renderer, searcher=model, scorer=scorer,
                  explorer=explorer, learning_rate=lr)
