"""The contract every emotion model in qdemo satisfies, and a tiny model for tests.

An emotion model maps a batch of RGB images ``(B, 3, H, W)`` in [0, 1] (any H, W; the
model resizes to its own ``resolution``) to valence, arousal, dominance on the canonical
[-1, 1] scale. It is an ``nn.Module``, differentiable with respect to the input image
(the explorer's gradient emitters and the generator's emotion loss need that).

Ensembles (the *searcher*) return one prediction per member; the mean is the prediction
and the standard deviation across members is a measure of the model's doubt.

Every prediction (:meth:`EmotionModel.predict` and its variants) passes the members through
the model's :class:`~qdemo.emotion.calibration.Calibration` (identity until fitted), so
callers always see the human rating scale; the subclasses' ``members*`` methods return the
raw outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from qdemo import DIMS


@dataclass
class VADPrediction:
    """Output of :meth:`EmotionModel.predict`."""

    mean: torch.Tensor
    """(B, 3) valence, arousal, dominance on [-1, 1]: the mean over ensemble members."""
    sd: torch.Tensor
    """(B, 3) standard deviation across members (zeros for a single model)."""
    members: torch.Tensor
    """(B, K, 3) each member's prediction."""


@dataclass
class ModelInfo:
    """What a model is and what its outputs mean (shown in manifests and reports)."""

    name: str
    role: str = "searcher"
    """'searcher' (what the explorer optimises) or 'critic' (independent re-scorer)."""
    human_rated: tuple[str, ...] = ("valence", "arousal")
    """Dimensions trained on human image ratings."""
    proxy: tuple[str, ...] = ("dominance",)
    """Dimensions trained on a documented proxy (word norms), not on image ratings."""
    extra: dict[str, Any] = field(default_factory=dict)


class EmotionModel(nn.Module):
    """Base class: subclasses implement :meth:`members` and :meth:`embed`.

    Both receive images already resized to ``self.resolution`` (bilinear, differentiable)
    and still in [0, 1]; any normalisation is the subclass's business.
    """

    resolution: int = 64
    info: ModelInfo

    def __init__(self) -> None:
        from qdemo.emotion.calibration import Calibration

        super().__init__()
        self.calibration = Calibration()

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Check shape/range and resize ``(B, 3, H, W)`` to the model's resolution."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        if images.shape[-1] != self.resolution or images.shape[-2] != self.resolution:
            images = F.interpolate(
                images, size=(self.resolution, self.resolution), mode="bilinear",
                align_corners=False, antialias=images.shape[-1] > self.resolution,
            )
        return images

    def members(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, r, r) in [0, 1] -> (B, K, 3) member predictions on [-1, 1]."""
        raise NotImplementedError

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, r, r) in [0, 1] -> (B, F) features (critic feature space for diversity/FID)."""
        raise NotImplementedError

    def members_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, r, r) in [0, 1] -> ((B, K, 3) member predictions, (B, F) features).

        Models whose heads read the features override this to share one forward pass."""
        return self.members(images), self.embed(images)

    def _prediction(self, m: torch.Tensor) -> VADPrediction:
        m = self.calibration(m)  # (B, K, 3) raw -> human scale
        sd = m.std(dim=1, unbiased=False) if m.shape[1] > 1 else torch.zeros_like(m[:, 0])
        return VADPrediction(mean=m.mean(dim=1), sd=sd, members=m)

    def predict(self, images: torch.Tensor) -> VADPrediction:
        return self._prediction(self.members(self.prepare(images)))  # members: (B, K, 3)

    def predict_with_features(self, images: torch.Tensor) -> tuple[VADPrediction, torch.Tensor]:
        """``(predict(images), features(images))`` in one forward pass where the model allows it
        (judging and embedding the same images, as the comparison and evaluation do)."""
        m, f = self.members_and_embed(self.prepare(images))
        return self._prediction(m), f

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 3) mean VAD on [-1, 1]."""
        return self.predict(images).mean

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, F)."""
        return self.embed(self.prepare(images))

    @property
    def has_distribution(self) -> bool:
        """Whether the model also predicts the 7-way emotion distribution over
        :data:`qdemo.EMOTIONS` (:meth:`predict_with_distribution`)."""
        return False

    def members_and_distribution(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, r, r) in [0, 1] -> ((B, K, 3) member predictions, (B, 7) emotion distribution).

        Models with a distribution head override this (one forward pass for both)."""
        raise ValueError(f"emotion model {self.info.name!r} has no emotion-distribution head")

    def predict_with_distribution(self, images: torch.Tensor) -> tuple[VADPrediction, torch.Tensor]:
        """``(predict(images), (B, 7) emotion distribution)`` for (B, 3, H, W) images in [0, 1];
        ValueError for a model without a distribution head (:attr:`has_distribution`)."""
        m, dist = self.members_and_distribution(self.prepare(images))  # (B, K, 3), (B, 7)
        return self._prediction(m), dist

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


class TinyEmotionModel(EmotionModel):
    """A small, randomly initialised (seeded) ensemble with the full contract.

    Not trained on anything: tests of the explorer, generator, normaliser and viewers use
    it so they run in seconds and without the shipped weights.
    """

    def __init__(self, seed: int = 0, n_members: int = 3, resolution: int = 32, width: int = 8):
        super().__init__()
        self.resolution = resolution
        self.info = ModelInfo(name=f"tiny-seed{seed}", role="searcher")
        gen = torch.Generator().manual_seed(seed)
        self.trunk = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        )
        self.heads = nn.Linear(8 * width, n_members * len(DIMS))
        self.n_members = n_members
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / max(1, p.shape[-1]) ** 0.5))

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.trunk(images * 2 - 1)  # (B, 8*width)

    def members(self, images: torch.Tensor) -> torch.Tensor:
        return self.members_and_embed(images)[0]

    def members_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e = self.embed(images)
        out = self.heads(e)  # (B, K*3)
        return torch.tanh(3.0 * out).view(images.shape[0], self.n_members, len(DIMS)), e  # (B, K, 3), (B, F)
