"""Late fusion: several regressors (other backbones or resolutions) as one ensemble.

    critic = FusedRegressor([lite1_240, lite2_260], meta)    # 5 + 5 members -> 10 members

Every part sees the image at its own resolution (each resizes for itself); the members of
all parts form the ensemble (their mean is the prediction, their spread the doubt), the
features are the parts' features side by side, and the emotion distribution is the mean of
the parts' distributions. Measured on the joint folds, averaging the predictions of a Lite1
and a Lite2 ridge ensemble is as accurate as one ridge on their concatenated features
(docs/emotion-model.md), and it keeps every part an ordinary :class:`VADRegressor`.
The calibration (:mod:`qdemo.emotion.calibration`) belongs to the fused model, not the parts.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from qdemo.emotion.base import EmotionModel, ModelInfo
from qdemo.emotion.model import RegressorMeta, VADRegressor


class FusedRegressor(EmotionModel):
    """The members of ``parts`` (VADRegressors) as one ensemble (see module docstring)."""

    def __init__(self, parts: list[VADRegressor], meta: RegressorMeta) -> None:
        super().__init__()
        if not parts:
            raise ValueError("a fused regressor needs at least one part")
        self.parts = nn.ModuleList(parts)
        self.meta = meta
        self.resolution = max(int(p.resolution) for p in parts)

    @property
    def info(self) -> ModelInfo:  # type: ignore[override]
        extra = {"parts": [{"backbone": p.spec.backbone, "resolution": p.resolution, "members": p.spec.members,
                            "tta_flip": p.spec.tta_flip} for p in self.parts],
                 "members": sum(p.spec.members for p in self.parts), **self.meta.extra}
        return ModelInfo(name=self.meta.name, role=self.meta.role, human_rated=tuple(self.meta.human_rated),
                         proxy=tuple(self.meta.proxy), extra=extra)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Shape check only: every part resizes to its own resolution."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        return images

    def _z(self, images: torch.Tensor) -> list[tuple[VADRegressor, torch.Tensor]]:
        """Each part with its standardised features (B, K_i, F_i) of ``images``."""
        return [(p, p.standardise(p.raw_features(p.prepare(images)))) for p in self.parts]

    def members(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([p.heads(z) for p, z in self._z(images)], dim=1)  # (B, sum K_i, 3)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([z.mean(dim=1) for _, z in self._z(images)], dim=1)  # (B, sum F_i)

    def members_and_embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zs = self._z(images)
        return torch.cat([p.heads(z) for p, z in zs], 1), torch.cat([z.mean(dim=1) for _, z in zs], 1)

    @property
    def has_distribution(self) -> bool:  # type: ignore[override]
        return all(p.has_distribution for p in self.parts)

    def members_and_distribution(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.has_distribution:
            return super().members_and_distribution(images)
        zs = self._z(images)
        dist = torch.stack([p.dist_probs(z) for p, z in zs]).mean(dim=0)  # (B, 7)
        return torch.cat([p.heads(z) for p, z in zs], 1), dist

    def emotion_distribution(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 7) probabilities (the parts' mean)."""
        return self.members_and_distribution(images)[1]

    def spec_dict(self) -> dict[str, Any]:
        return {"parts": [p.spec_dict() for p in self.parts]}


__all__ = ["FusedRegressor"]
