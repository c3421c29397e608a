"""Batched scoring: solutions -> images -> searcher -> objective, measures (+ Jacobians).

One call per ``ask()``: the whole batch is rendered and scored at once (in chunks of at
most ``chunk`` images to bound memory), on the device chosen at the top.

Objective (in [0, 100])::

    agreement  = 1 - mean_d sd_d          # sd over searcher members, members on [-1, 1] -> sd <= 1
    smoothness = exp(-TV / tv_scale)      # TV: mean |difference| of neighbouring pixels
    objective  = 100 * (w_a * agreement + w_p * smoothness) / (w_a + w_p)

With ``objective.views`` (e.g. ``[identity, flip, blur]``) every image is also scored in
deterministic transformed views (:data:`VIEWS`), and ``sd`` and the measures are taken over
all views x members: an image whose emotion survives mirroring and blurring is less
likely to be a fooling image (transformation robustness, as in feature visualisation).

Agreement rewards images the searcher ensemble is sure about (disagreement is the
ensemble's doubt, and doubtful regions are where fooling images live); the smoothness prior
discourages high-frequency noise, another hallmark of adversarial images. With a
single-member searcher the agreement term is 1 for every image.

Measures: the searcher's mean valence, arousal (and dominance for 3-D grids), clipped to
the grid ranges. Gradients (for CMA-MEGA) are taken through the renderer and the searcher
with autograd, on the unclipped measures: because images in a batch are independent, the
gradient of the batch sum of each output w.r.t. the solutions gives every row's gradient,
so 1 + measure_dim backward passes give the full ``(B, 1 + m, dim)`` Jacobian.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from qdemo.emotion.base import EmotionModel
from qdemo.errors import ConfigError
from qdemo.qd.config import ObjectiveConfig
from qdemo.render.base import Renderer


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
    """(B, 3) standard deviation over the searcher's members."""
    jacobian: Optional[np.ndarray] = None
    """(B, 1 + m, dim) d(objective, measures)/d(solution), when asked for."""


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B,) mean absolute difference of horizontally/vertically adjacent pixels."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return 0.5 * (dx + dy)  # (B,)


def _zoom(images: torch.Tensor, frac: float = 0.8) -> torch.Tensor:
    h, w = images.shape[-2:]
    ch, cw = max(1, round(h * frac)), max(1, round(w * frac))
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = images[..., top:top + ch, left:left + cw]
    return F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)


def _blur(images: torch.Tensor) -> torch.Tensor:
    h, w = images.shape[-2:]
    small = F.avg_pool2d(images, 2, ceil_mode=True)
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)


VIEWS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda x: x,
    "flip": lambda x: torch.flip(x, dims=(-1,)),  # mirror left-right
    "zoom": _zoom,  # central 80 % crop, resized back
    "blur": _blur,  # half resolution and back: removes pixel-level patterns
}
"""Deterministic views of an image (transformation robustness): each view is scored by
every searcher member; measures and spread are taken over all views x members."""


class Scorer:
    """Render and score batches of solutions with one searcher.

    Args:
        renderer: solutions -> images (already on ``device``).
        searcher: the emotion model the search optimises (already on ``device``).
        objective: weights of the objective terms.
        ranges: (m, 2) grid ranges used to clip the measures.
        chunk: at most this many images per searcher call.
    """

    def __init__(self, renderer: Renderer, searcher: EmotionModel, *, objective: ObjectiveConfig,
                 ranges: np.ndarray, chunk: int = 64) -> None:
        self.renderer = renderer.eval()
        self.searcher = searcher.eval()
        for p in self.searcher.parameters():
            p.requires_grad_(False)
        self.objective_cfg = objective
        unknown = [v for v in objective.views if v not in VIEWS]
        if unknown or not objective.views:
            raise ConfigError(f"objective.views {objective.views}: use one or more of {', '.join(VIEWS)}")
        self.views = list(objective.views)
        self.ranges = np.asarray(ranges, dtype=np.float64)  # (m, 2)
        self.measure_dim = len(self.ranges)
        self.chunk = max(1, int(chunk))
        self.device = next(iter(searcher.parameters())).device
        self.evaluations = 0

    # -- pieces ---------------------------------------------------------------------------
    def _outputs(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) -> objective (B,), VAD mean (B, 3), VAD sd (B, 3), all differentiable."""
        b, v = images.shape[0], len(self.views)
        views = torch.cat([VIEWS[name](images) for name in self.views]) if v > 1 else images  # (V*B, 3, H, W)
        members = self.searcher.predict(views).members  # (V*B, K, 3)
        k = members.shape[1]
        members = members.view(v, b, k, 3).transpose(0, 1).reshape(b, v * k, 3)  # (B, V*K, 3)
        mean = members.mean(dim=1)  # (B, 3)
        sd = members.std(dim=1, unbiased=False) if v * k > 1 else torch.zeros_like(mean)  # (B, 3)
        agreement = 1.0 - sd.mean(dim=1).clamp(0.0, 1.0)  # (B,)
        cfg = self.objective_cfg
        smooth = torch.exp(-total_variation(images) / cfg.tv_scale)  # (B,)
        w = cfg.agreement_weight + cfg.prior_weight
        obj = 100.0 * (cfg.agreement_weight * agreement + cfg.prior_weight * smooth) / w  # (B,)
        return obj.clamp(0.0, 100.0), mean, sd

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
                o, v, s = self._outputs(images[i:i + self.chunk].to(self.device))
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

    # -- the batched call -----------------------------------------------------------------
    def score(self, solutions: np.ndarray, *, grad: bool = False) -> ScoreBatch:
        """Score a batch (B, dim) of solutions in one call; ``grad`` adds the Jacobian."""
        solutions = np.asarray(solutions)
        n = len(solutions)
        self.evaluations += n
        x_all = torch.as_tensor(solutions, dtype=torch.float32, device=self.device)  # (B, dim)
        objs, vads, sds, jacs = [], [], [], []
        for i in range(0, n, self.chunk):
            x = x_all[i:i + self.chunk]
            if grad:
                x = x.detach().clone().requires_grad_(True)
                with torch.enable_grad():
                    obj, vad, sd = self._outputs(self.renderer(x))
                    outs = [obj] + [vad[:, d] for d in range(self.measure_dim)]  # 1 + m of (b,)
                    rows = []
                    for k, out in enumerate(outs):
                        (g,) = torch.autograd.grad(out.sum(), x, retain_graph=k < len(outs) - 1)
                        rows.append(g)  # (b, dim)
                jacs.append(torch.stack(rows, dim=1).double().cpu())  # (b, 1+m, dim)
            else:
                with torch.no_grad():
                    obj, vad, sd = self._outputs(self.renderer(x))
            objs.append(obj.detach().double().cpu())
            vads.append(vad.detach().double().cpu())
            sds.append(sd.detach().double().cpu())
        if n == 0:
            empty = np.zeros((0, 3))
            return ScoreBatch(np.zeros(0), np.zeros((0, self.measure_dim)), empty, empty,
                              np.zeros((0, 1 + self.measure_dim, solutions.shape[-1])) if grad else None)
        vad_np = torch.cat(vads).numpy()
        return ScoreBatch(
            objective=torch.cat(objs).numpy(),
            measures=self.clip_measures(vad_np),
            vad=vad_np,
            vad_sd=torch.cat(sds).numpy(),
            jacobian=torch.cat(jacs).numpy() if grad else None,
        )
