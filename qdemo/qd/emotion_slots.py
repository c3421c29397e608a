"""The categorical archive (``--grid emotions``): one slot per discrete emotion, on pyribs.

The searcher's 7-way distribution head (:data:`qdemo.EMOTIONS`) is turned into measures that
an ordinary pyribs ``GridArchive`` bins, so pyribs' archives and emitters do all the work:

- **slot** measure: ``s + 0.5`` for the slot ``s`` of the image's most probable emotion among
  the slots (``grid.slots``, all 7 by default); the archive has one cell per slot over
  ``[0, S]``, so each value falls in the middle of its own cell;
- optional **intensity** measure (``grid.intensity_bands`` > 1): the probability of that
  emotion, binned over ``grid.intensity_range``.

**Objective**: ``p(slot emotion) * objective`` of the VAD grid (the same
:class:`~qdemo.qd.objective.Objective` and its terms): the elite of a slot is the image the
searcher most confidently assigns to that emotion *and* that the generic terms (ensemble
agreement, priors) rate well. A product, not a weighted sum: an image scores high only when
both are high, and a term that gives a near-uniform image ~0 keeps it at ~0 here too.

**Gradients** (CMA-MEGA / CMA-MAEGA): the slot index is a step function with no gradient. Its
differentiable surrogate is the *expected slot position* under the distribution restricted to
the slots, ``sum_s (s + 0.5) p_s / sum_s p_s``: it equals the slot measure when one emotion
takes all the mass, and its gradient moves probability mass between slots (towards later
slots for a positive coefficient, earlier ones for a negative). The intensity measure is
differentiable as it is. pyribs normalises every gradient, so only their directions matter.

**Critic confirmation**: the critic's own distribution head re-scores each elite; it
*matches* when its most probable emotion (of all 7) is the slot's emotion. Chance is 1/7.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from qdemo import EMOTIONS
from qdemo.emotion.base import EmotionModel
from qdemo.errors import ConfigError
from qdemo.measure_space import MeasureSpace
from qdemo.render.base import Renderer

CHANCE = 1.0 / len(EMOTIONS)
"""Probability that a critic guessing uniformly at random picks the slot's emotion."""
HAS_DISTRIBUTION = ("the shipped searcher and critic ('searcher', 'critic', 'shipped') and regressors trained "
                    "with model.dist_head: true (`qdemo regressor train`) have one; 'tiny' test models do not")
"""Which emotion models carry a distribution head, as the error messages say it."""


def require_distribution(model: EmotionModel, *, role: str, spec: str = "") -> None:
    """ConfigError unless ``model`` predicts the emotion distribution (``--grid emotions`` needs it)."""
    if not getattr(model, "has_distribution", False):
        name = getattr(getattr(model, "info", None), "name", type(model).__name__)
        given = f" ({spec})" if spec else ""
        raise ConfigError(f"--{role}{given}: model {name!r} has no emotion-distribution head, which --grid emotions "
                          f"needs to place and confirm images by emotion; {HAS_DISTRIBUTION}")


class SlotMeasures:
    """The torch side of an emotions grid: objective weight and surrogate gradients of its slots.

    Where an image lands (slot, band) is the emotions grid's
    :class:`~qdemo.measure_space.MeasureSpace` (``space``); this adds what the search
    differentiates.

    Args:
        slots: the slots' emotions in order (names of :data:`qdemo.EMOTIONS`).
        bands: intensity bands per slot (1: no intensity measure).
        band_range: (low, high) probability range split into ``bands`` bands.
    """

    def __init__(self, slots: Sequence[str], *, bands: int = 1, band_range: Sequence[float] = (0.0, 1.0)) -> None:
        unknown = [s for s in slots if s not in EMOTIONS]
        if unknown or not slots:
            raise ConfigError(f"grid.slots {list(slots)}: valid slots: {', '.join(EMOTIONS)}")
        self.space = MeasureSpace.emotion_slots(list(slots), bands=bands, band_range=band_range)
        self.names = list(slots)
        self.columns = self.space.slot_columns  # slot -> column of the distribution
        self.bands = int(bands)
        self.band_range = (float(band_range[0]), float(band_range[1]))

    @classmethod
    def from_space(cls, space: MeasureSpace) -> "SlotMeasures":
        """The slots of an emotions grid's measure space."""
        bands, band_range = (space.cells[1], space.ranges[1]) if space.ndim == 2 else (1, (0.0, 1.0))
        return cls(space.slots, bands=bands, band_range=band_range)

    @property
    def measure_dim(self) -> int:
        return self.space.ndim

    @property
    def dims(self) -> list[str]:
        return list(self.space.dims)

    @property
    def cells(self) -> list[int]:
        return list(self.space.cells)

    @property
    def ranges(self) -> np.ndarray:
        """(m, 2): [0, S] for the slot, then the intensity range."""
        return np.asarray(self.space.ranges, dtype=np.float64)

    # ------------------------------------------------------------------ torch (differentiable)
    def slot_probs(self, dist: torch.Tensor) -> torch.Tensor:
        """(B, 7) distribution -> (B, S) probabilities of the slots' emotions."""
        return dist[:, self.columns]

    def confidence(self, dist: torch.Tensor) -> torch.Tensor:
        """(B, 7) -> (B,) probability of the most probable slot emotion (the image's slot)."""
        return self.slot_probs(dist).max(dim=1).values

    def weigh(self, objective: torch.Tensor, dist: torch.Tensor) -> torch.Tensor:
        """objective (B,) in [0, 100], dist (B, 7) -> (B,) ``p(slot emotion) * objective``."""
        return objective * self.confidence(dist)

    def surrogate(self, dist: torch.Tensor) -> torch.Tensor:
        """(B, 7) -> (B, m) differentiable stand-ins of the measures (module docstring)."""
        p = self.slot_probs(dist)  # (B, S)
        pos = torch.arange(len(self.names), dtype=p.dtype, device=p.device) + 0.5  # (S,)
        expected = (p * pos).sum(dim=1) / p.sum(dim=1).clamp_min(1e-12)  # (B,)
        out = [expected, self.confidence(dist)][: self.measure_dim]
        return torch.stack(out, dim=1)  # (B, m)

    def measures(self, dist: np.ndarray) -> np.ndarray:
        """(N, 7) -> (N, m): where the emotions grid places the images (:meth:`MeasureSpace.measures`)."""
        return self.space.measures(dist=dist)

    def describe(self) -> str:
        """How the slots, measures and objective are defined (manifest.json ``objective``)."""
        bands = (f" x {self.bands} intensity bands of that probability over [{self.band_range[0]:g}, "
                 f"{self.band_range[1]:g}]" if self.bands > 1 else "")
        return (f"emotions grid: slot = most probable of {', '.join(self.names)} (searcher distribution head){bands}; "
                f"objective = p(slot emotion) * (generic objective below); gradient surrogate of the slot = "
                f"expected slot position sum_s (s + 0.5) p_s / sum_s p_s")


@dataclass
class SlotAgreement:
    """The critic's verdict on N elites of an emotions archive."""

    top: np.ndarray
    """(N,) int: the critic's most probable emotion (column of :data:`qdemo.EMOTIONS`)."""
    top_p: np.ndarray
    """(N,) its probability."""
    p_slot: np.ndarray
    """(N,) the critic's probability of the elite's slot emotion."""
    match: np.ndarray
    """(N,) bool: the critic's top emotion is the slot's emotion."""
    same: np.ndarray
    """(N,) bool: match, and (with intensity bands) the critic's probability in the same band."""
    within: np.ndarray
    """(N,) bool: the slot's emotion is among the critic's two most probable (and, with bands,
    its probability within one band): the categorical 'within one cell'."""

    @property
    def emotions(self) -> list[str]:
        return [EMOTIONS[int(k)] for k in self.top]


def slot_agreement(slots: SlotMeasures, cells: np.ndarray, critic_dist: np.ndarray) -> SlotAgreement:
    """Compare the elites' cells (N, m) (slot[, band]) with the critic's distribution (N, 7)."""
    cells = np.asarray(cells, dtype=np.int64).reshape(len(critic_dist), -1)
    dist = np.asarray(critic_dist, dtype=np.float64)
    n = len(dist)
    if n == 0:
        empty = np.zeros(0)
        return SlotAgreement(empty.astype(np.int64), empty, empty, *(empty.astype(bool),) * 3)
    want = np.asarray(slots.columns)[cells[:, 0]]  # (N,) column of each slot's emotion
    top = np.argsort(-dist, axis=1, kind="stable")[:, 0]
    indices = [slots.space.ravel(c) for c in cells]
    same, within = slots.space.agreement(indices, dist=dist)  # the grid's "same cell" / "within one"
    return SlotAgreement(top=top, top_p=dist[np.arange(n), top], p_slot=dist[np.arange(n), want], match=top == want,
                         same=same, within=within)


def critic_scores(renderer: Renderer, critic: EmotionModel, solutions: np.ndarray, *, chunk: int = 64,
                  images: Optional[torch.Tensor] = None) -> tuple[np.ndarray, np.ndarray]:
    """Render ``solutions`` (N, dim) (or read ``images``, the solutions already rendered); another
    model's mean VAD (N, 3) and distribution (N, 7)."""
    vads, dists = [], []
    dev = next(iter(critic.parameters())).device
    renderer = renderer.to(dev)
    with torch.no_grad():
        for i in range(0, len(solutions), chunk):
            if images is not None:
                x = images[i:i + chunk].to(dev)
            else:
                x = renderer(torch.as_tensor(np.asarray(solutions[i:i + chunk]), dtype=torch.float32, device=dev))
            pred, dist = critic.predict_with_distribution(x)  # (b, 3), (b, 7)
            vads.append(pred.mean.double().cpu().numpy())
            dists.append(dist.double().cpu().numpy())
    if not vads:
        return np.zeros((0, 3)), np.zeros((0, len(EMOTIONS)))
    return np.concatenate(vads), np.concatenate(dists)


def per_slot_match(names: Sequence[str], slots_of_elites: Sequence[str], match: Sequence[bool]) -> dict[str, Any]:
    """``{emotion: {"n": elites, "match": fraction or None}}`` for every slot, in slot order."""
    out: dict[str, Any] = {}
    for name in names:
        hits = [bool(m) for s, m in zip(slots_of_elites, match) if s == name]
        out[name] = {"n": len(hits), "match": (sum(hits) / len(hits)) if hits else None}
    return out


def heldout_emotion_accuracy(model: Optional[EmotionModel], *, metrics: Optional[Path] = None) -> Optional[float]:
    """The model's held-out max-emotion accuracy on Emotion6 photos, from the training report.

    Read from ``metrics.json`` beside the shipped weights (``roles.<role>.distribution_cv.
    emotion6.max_emotion_accuracy``) for the role whose weights file has the model's SHA-256;
    None when the model is not one the report describes (or the report lacks the number).
    """
    from qdemo.emotion.zoo import WEIGHTS_DIR

    path = Path(metrics) if metrics is not None else WEIGHTS_DIR / "metrics.json"
    sha = (getattr(getattr(model, "info", None), "extra", {}) or {}).get("sha256")
    if not sha or not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for role, w in (report.get("weights") or {}).items():
        if isinstance(w, dict) and w.get("sha256") == sha:
            try:
                acc = report["roles"][role]["distribution_cv"]["emotion6"]["max_emotion_accuracy"]
            except (KeyError, TypeError):
                return None
            return float(acc) if isinstance(acc, (int, float)) and math.isfinite(acc) else None
    return None


__all__ = ["CHANCE", "HAS_DISTRIBUTION", "SlotAgreement", "SlotMeasures", "critic_scores", "heldout_emotion_accuracy",
           "per_slot_match", "require_distribution", "slot_agreement"]
