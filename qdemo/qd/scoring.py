"""Batched scoring: solutions -> renderer -> views -> searcher -> objective, measures (+ Jacobian).

The three pieces stay apart as in lucent (parameterisation, transforms, objective): the
renderer (:mod:`qdemo.render`) makes images, :class:`~qdemo.qd.views.Views` transforms
them, :class:`~qdemo.qd.objective.Objective` scores them. A :class:`Scorer` composes them
in one call per ``ask()``: the whole batch is rendered and scored at once (in chunks of
at most ``chunk`` images to bound memory), on the searcher's device.

Measures: the searcher's mean valence, arousal (and dominance for 3-D grids) over all
members x views, clipped to the grid ranges. Gradients (for CMA-MEGA) are taken through
the renderer, the views and the searcher with autograd, on the unclipped measures: because
images in a batch are independent, the gradient of the batch sum of each output w.r.t. the
solutions gives every row's gradient, so 1 + m backward passes give the full
``(B, 1 + m, dim)`` Jacobian.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from qdemo.emotion.base import EmotionModel
from qdemo.qd.config import ObjectiveConfig
from qdemo.qd.objective import Objective, member_spread, total_variation
from qdemo.qd.views import VIEWS, Views
from qdemo.render.base import Renderer

__all__ = ["VIEWS", "ScoreBatch", "Scorer", "critic_vad", "total_variation"]


@dataclass
class ScoreBatch:
    """Result of :meth:`Scorer.score` for a batch of B solutions (numpy, float64)."""

    objective: np.ndarray
    """(B,) in [0, 100]."""
    measures: np.ndarray
    """(B, m) searcher mean VAD (first m dims), clipped to the grid ranges."""
    vad: np.ndarray
    """(B, 3) searcher mean valence, arousal, dominance on [-1, 1] (unclipped)."""
    vad_sd: np.ndarray
    """(B, 3) standard deviation over the searcher's members (x views)."""
    jacobian: Optional[np.ndarray] = None
    """(B, 1 + m, dim) d(objective, measures)/d(solution), when asked for."""


class Scorer:
    """Render and score batches of solutions with one searcher.

    Args:
        renderer: solutions (B, dim) -> images (B, 3, R, R) (on the searcher's device).
        searcher: the emotion model the search optimises (its device is the scorer's).
        objective: the :class:`Objective`; an ``ObjectiveConfig`` is built into one
            (:meth:`Objective.from_config`) together with its ``views``.
        views: the :class:`Views` scored per image; None: ``objective.views`` of a config,
            else identity only.
        ranges: (m, 2) grid ranges used to clip the measures.
        chunk: at most this many images per searcher call.
    """

    def __init__(self, renderer: Renderer, searcher: EmotionModel, *, objective: Objective | ObjectiveConfig,
                 ranges: np.ndarray, views: Optional[Views] = None, chunk: int = 64) -> None:
        if isinstance(objective, ObjectiveConfig):
            views = views if views is not None else Views(objective.views)
            objective = Objective.from_config(objective)
        self.renderer = renderer.eval()
        self.searcher = searcher.eval()
        for p in self.searcher.parameters():
            p.requires_grad_(False)
        self.objective = objective
        self.views = views if views is not None else Views(["identity"])
        self.ranges = np.asarray(ranges, dtype=np.float64)  # (m, 2)
        self.measure_dim = len(self.ranges)
        self.chunk = max(1, int(chunk))
        self.device = next(iter(searcher.parameters())).device
        self.evaluations = 0

    def outputs(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> objective (B,), VAD mean (B, 3), VAD sd (B, 3), all differentiable."""
        members = self.searcher.predict(self.views(images)).members  # (V*B, K, 3)
        members = self.views.regroup(members, images.shape[0])  # (B, V*K, 3)
        mean = members.mean(dim=1)  # (B, 3)
        return self.objective(images, members), mean, member_spread(members)

    def render(self, solutions: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, dim) -> (B, 3, R, R) on the device, without gradients."""
        x = torch.as_tensor(np.asarray(solutions), dtype=torch.float32, device=self.device)
        with torch.no_grad():
            return torch.cat([self.renderer(x[i:i + self.chunk]) for i in range(0, len(x), self.chunk)]) \
                if len(x) else torch.empty(0, 3, self.renderer.resolution, self.renderer.resolution)

    def score_images(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score ready images (B, 3, H, W) in [0, 1]: objective (B,), vad (B, 3), vad_sd (B, 3)."""
        objs, vads, sds = [], [], []
        with torch.no_grad():
            for i in range(0, len(images), self.chunk):
                o, v, s = self.outputs(images[i:i + self.chunk].to(self.device))
                objs.append(o.double().cpu())
                vads.append(v.double().cpu())
                sds.append(s.double().cpu())
        if not objs:
            return np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3))
        return torch.cat(objs).numpy(), torch.cat(vads).numpy(), torch.cat(sds).numpy()

    def clip_measures(self, vad: np.ndarray) -> np.ndarray:
        """(B, 3) -> (B, m) first m dims clipped into the grid ranges."""
        m = vad[:, : self.measure_dim]
        return np.clip(m, self.ranges[:, 0], self.ranges[:, 1])

    def _jacobian_chunk(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(b, dim) -> objective (b,), vad (b, 3), sd (b, 3), Jacobian (b, 1 + m, dim)."""
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            obj, vad, sd = self.outputs(self.renderer(x))
            outs = [obj] + [vad[:, d] for d in range(self.measure_dim)]  # 1 + m of (b,)
            rows = []
            for k, out in enumerate(outs):
                (g,) = torch.autograd.grad(out.sum(), x, retain_graph=k < len(outs) - 1)
                rows.append(g)  # (b, dim)
        return obj, vad, sd, torch.stack(rows, dim=1)  # ..., (b, 1 + m, dim)

    def score(self, solutions: np.ndarray, *, grad: bool = False) -> ScoreBatch:
        """Score a batch (B, dim) of solutions in one call; ``grad`` adds the Jacobian."""
        solutions = np.asarray(solutions)
        n = len(solutions)
        self.evaluations += n
        if n == 0:
            empty = np.zeros((0, 3))
            return ScoreBatch(np.zeros(0), np.zeros((0, self.measure_dim)), empty, empty,
                              np.zeros((0, 1 + self.measure_dim, solutions.shape[-1])) if grad else None)
        x_all = torch.as_tensor(solutions, dtype=torch.float32, device=self.device)  # (B, dim)
        objs, vads, sds, jacs = [], [], [], []
        for i in range(0, n, self.chunk):
            x = x_all[i:i + self.chunk]
            if grad:
                obj, vad, sd, jac = self._jacobian_chunk(x)
                jacs.append(jac.double().cpu())
            else:
                with torch.no_grad():
                    obj, vad, sd = self.outputs(self.renderer(x))
            objs.append(obj.detach().double().cpu())
            vads.append(vad.detach().double().cpu())
            sds.append(sd.detach().double().cpu())
        vad_np = torch.cat(vads).numpy()
        return ScoreBatch(
            objective=torch.cat(objs).numpy(),
            measures=self.clip_measures(vad_np),
            vad=vad_np,
            vad_sd=torch.cat(sds).numpy(),
            jacobian=torch.cat(jacs).numpy() if grad else None,
        )


def critic_vad(renderer: Renderer, critic: EmotionModel, solutions: np.ndarray, *, chunk: int = 64) -> np.ndarray:
    """Render ``solutions`` (N, dim) and return another model's (the critic's) mean VAD (N, 3)."""
    out = []
    dev = next(iter(critic.parameters())).device
    renderer = renderer.to(dev)
    with torch.no_grad():
        for i in range(0, len(solutions), chunk):
            x = torch.as_tensor(np.asarray(solutions[i:i + chunk]), dtype=torch.float32, device=dev)
            out.append(critic(renderer(x)).double().cpu().numpy())  # (b, 3)
    return np.concatenate(out) if out else np.zeros((0, 3))
