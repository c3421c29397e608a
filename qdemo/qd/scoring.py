"""Batched scoring: solutions -> renderer -> views -> searcher -> objective, measures (+ Jacobian).

The three pieces stay apart as in lucent (parameterisation, transforms, objective): the
renderer (:mod:`qdemo.render`) makes images, :class:`~qdemo.qd.views.Views` transforms
them, :class:`~qdemo.qd.objective.Objective` scores them. A :class:`Scorer` composes them
in one call per ``ask()``: the whole batch is rendered and scored at once (in chunks of
at most ``chunk`` images to bound memory), on the searcher's device.

Measures: where the measure space (:class:`~qdemo.measure_space.MeasureSpace`) places the
searcher's reading: its mean valence, arousal (and dominance for 3-D grids) over all
members x views, clipped to the grid ranges. Gradients (for CMA-MEGA) are taken through
the renderer, the views and the searcher with autograd, on the unclipped measures: because
images in a batch are independent, the gradient of the batch sum of each output w.r.t. the
solutions gives every row's gradient, so 1 + m backward passes give the full
``(B, 1 + m, dim)`` Jacobian.

An emotions grid (its space's ``slots``; torch side :class:`~qdemo.qd.emotion_slots.SlotMeasures`)
also reads the searcher's emotion distribution in the same forward pass: its measures are the
slot (and intensity band), its objective ``p(slot emotion) * objective``, and the Jacobian's
measure rows are the gradients of the slots' differentiable surrogate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from qdemo.emotion.base import EmotionModel
from qdemo.measure_space import MeasureSpace
from qdemo.qd.config import ObjectiveConfig
from qdemo.qd.emotion_slots import SlotMeasures
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
    dist: Optional[np.ndarray] = None
    """(B, 7) searcher emotion distribution (emotions grids only)."""

    def fields(self) -> dict[str, np.ndarray]:
        """The archive's extra fields of these solutions (``vad``, ``vad_sd``[, ``dist``])."""
        out = {"vad": self.vad, "vad_sd": self.vad_sd}
        if self.dist is not None:
            out["dist"] = self.dist
        return out


class Scorer:
    """Render and score batches of solutions with one searcher.

    Args:
        renderer: solutions (B, dim) -> images (B, 3, R, R) (on the searcher's device).
        searcher: the emotion model the search optimises (its device is the scorer's).
        objective: the :class:`Objective`; an ``ObjectiveConfig`` is built into one
            (:meth:`Objective.from_config`) together with its ``views``.
        views: the :class:`Views` scored per image; None: ``objective.views`` of a config,
            else identity only.
        space: the measure space that turns the searcher's reading into measures (an emotions
            grid's needs a searcher with a distribution head).
        chunk: at most this many images per searcher call.

    The searcher is used as handed in: load it with :func:`qdemo.emotion.zoo.load_emotion_model`
    (frozen, in eval mode, once).
    """

    def __init__(self, renderer: Renderer, searcher: EmotionModel, *, objective: Objective | ObjectiveConfig,
                 space: MeasureSpace, views: Optional[Views] = None, chunk: int = 64) -> None:
        if isinstance(objective, ObjectiveConfig):
            views = views if views is not None else Views(objective.views)
            objective = Objective.from_config(objective)
        self.renderer = renderer.eval()
        self.searcher = searcher
        self.objective = objective
        self.views = views if views is not None else Views(["identity"])
        self.space = space
        self.measure_dim = space.ndim
        self.chunk = max(1, int(chunk))
        self.slots = SlotMeasures.from_space(space) if space.is_slots else None
        self.device = next(iter(searcher.parameters())).device
        self.evaluations = 0

    def outputs(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> objective (B,), VAD mean (B, 3), VAD sd (B, 3), all differentiable."""
        return self._outputs(images)[:3]

    def _outputs(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """:meth:`outputs` and the emotion distribution (B, 7) over the views (None without slots)."""
        b = images.shape[0]
        dist = None
        if self.slots is None:
            members = self.searcher.predict(self.views(images)).members  # (V*B, K, 3)
        else:
            pred, dist = self.searcher.predict_with_distribution(self.views(images))  # ..., (V*B, 7)
            members, dist = pred.members, dist.view(len(self.views), b, -1).mean(dim=0)  # (B, 7)
        members = self.views.regroup(members, b)  # (B, V*K, 3)
        mean = members.mean(dim=1)  # (B, 3)
        objective = self.objective(images, members)  # (B,)
        if dist is not None:
            objective = self.slots.weigh(objective, dist)
        return objective, mean, member_spread(members), dist

    def describe_objective(self) -> str:
        """The objective as manifest.json records it (with the emotion slots' weighting)."""
        text = self.objective.describe()
        return text if self.slots is None else f"{self.slots.describe()}; {text}"

    def render(self, solutions: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(B, dim) -> (B, 3, R, R) on the device, without gradients."""
        x = torch.as_tensor(np.asarray(solutions), dtype=torch.float32, device=self.device)
        with torch.no_grad():
            return torch.cat([self.renderer(x[i:i + self.chunk]) for i in range(0, len(x), self.chunk)]) \
                if len(x) else torch.empty(0, 3, self.renderer.resolution, self.renderer.resolution)

    def score_images(self, images: torch.Tensor, *, with_distribution: bool = False) -> tuple[np.ndarray, ...]:
        """Score ready images (B, 3, H, W) in [0, 1]: objective (B,), vad (B, 3), vad_sd (B, 3)
        (and, ``with_distribution`` on an emotions grid, the distribution (B, 7))."""
        objs, vads, sds, dists = [], [], [], []
        with torch.no_grad():
            for i in range(0, len(images), self.chunk):
                o, v, s, d = self._outputs(images[i:i + self.chunk].to(self.device))
                objs.append(o.double().cpu())
                vads.append(v.double().cpu())
                sds.append(s.double().cpu())
                if d is not None:
                    dists.append(d.double().cpu())
        if not objs:
            out: tuple[np.ndarray, ...] = (np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)))
            return out + (np.zeros((0, 7)),) if with_distribution else out
        out = (torch.cat(objs).numpy(), torch.cat(vads).numpy(), torch.cat(sds).numpy())
        if with_distribution:
            if not dists:
                raise ValueError("score_images(with_distribution=True) needs an emotions grid's scorer (slots)")
            out += (torch.cat(dists).numpy(),)
        return out

    def _jacobian_chunk(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(b, dim) -> objective (b,), vad (b, 3), sd (b, 3), dist (b, 7) or None, Jacobian (b, 1 + m, dim)."""
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            obj, vad, sd, dist = self._outputs(self.renderer(x))
            measures = vad if dist is None else self.slots.surrogate(dist)  # (b, >= m)
            outs = [obj] + [measures[:, d] for d in range(self.measure_dim)]  # 1 + m of (b,)
            rows = []
            for k, out in enumerate(outs):
                (g,) = torch.autograd.grad(out.sum(), x, retain_graph=k < len(outs) - 1)
                rows.append(g)  # (b, dim)
        return obj, vad, sd, dist, torch.stack(rows, dim=1)  # ..., (b, 1 + m, dim)

    def score(self, solutions: np.ndarray, *, grad: bool = False) -> ScoreBatch:
        """Score a batch (B, dim) of solutions in one call; ``grad`` adds the Jacobian."""
        solutions = np.asarray(solutions)
        n = len(solutions)
        self.evaluations += n
        if n == 0:
            empty = np.zeros((0, 3))
            return ScoreBatch(np.zeros(0), np.zeros((0, self.measure_dim)), empty, empty,
                              np.zeros((0, 1 + self.measure_dim, solutions.shape[-1])) if grad else None,
                              dist=None if self.slots is None else np.zeros((0, 7)))
        x_all = torch.as_tensor(solutions, dtype=torch.float32, device=self.device)  # (B, dim)
        objs, vads, sds, jacs, dists = [], [], [], [], []
        for i in range(0, n, self.chunk):
            x = x_all[i:i + self.chunk]
            if grad:
                obj, vad, sd, dist, jac = self._jacobian_chunk(x)
                jacs.append(jac.double().cpu())
            else:
                with torch.no_grad():
                    obj, vad, sd, dist = self._outputs(self.renderer(x))
            objs.append(obj.detach().double().cpu())
            vads.append(vad.detach().double().cpu())
            sds.append(sd.detach().double().cpu())
            if dist is not None:
                dists.append(dist.detach().double().cpu())
        vad_np = torch.cat(vads).numpy()
        dist_np = torch.cat(dists).numpy() if dists else None
        return ScoreBatch(
            objective=torch.cat(objs).numpy(),
            measures=self.space.measures(vad=vad_np, dist=dist_np),
            vad=vad_np,
            vad_sd=torch.cat(sds).numpy(),
            jacobian=torch.cat(jacs).numpy() if grad else None,
            dist=dist_np,
        )


def render_chunks(renderer: Renderer, solutions: np.ndarray, *, device: torch.device | str = "cpu",
                  chunk: int = 64) -> torch.Tensor:
    """Render ``solutions`` (N, dim) ``chunk`` at a time on ``device`` -> (N, 3, R, R) on the CPU."""
    dev = torch.device(device)
    renderer = renderer.to(dev)
    out = []
    with torch.no_grad():
        for i in range(0, len(solutions), chunk):
            sol = torch.as_tensor(np.asarray(solutions[i:i + chunk]), dtype=torch.float32, device=dev)
            out.append(renderer(sol).cpu())
    return torch.cat(out)


def critic_vad(renderer: Renderer, critic: EmotionModel, solutions: np.ndarray, *, chunk: int = 64,
               images: Optional[torch.Tensor] = None) -> np.ndarray:
    """Render ``solutions`` (N, dim) and return another model's (the critic's) mean VAD (N, 3);
    ``images``: the solutions already rendered (N, 3, R, R), read instead of rendering again."""
    out = []
    dev = next(iter(critic.parameters())).device
    with torch.no_grad():
        for i in range(0, len(solutions), chunk):
            x = images[i:i + chunk] if images is not None else render_chunks(renderer, solutions[i:i + chunk],
                                                                             device=dev, chunk=chunk)
            out.append(critic(x.to(dev)).double().cpu().numpy())  # (b, 3)
    return np.concatenate(out) if out else np.zeros((0, 3))
