"""Resolve the searcher / critic named in a config to an :class:`EmotionModel`."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Optional

import torch

from qdemo.emotion.base import EmotionModel, TinyEmotionModel
from qdemo.errors import CheckpointError, QdemoError


def load_emotion_model(spec: str, *, role: str, device: torch.device) -> EmotionModel:
    """``spec``: 'searcher' | 'critic' (shipped weights), 'tiny' / 'tiny:SEED' (untrained
    test model), or a path to a weights file (loaded by ``qdemo.emotion.load_model``)."""
    spec = str(spec).strip()
    if spec == "tiny" or spec.startswith("tiny:"):
        try:
            seed = int(spec.split(":", 1)[1]) if ":" in spec else 0
        except ValueError:
            raise QdemoError(f"--{role} {spec!r}: expected tiny or tiny:SEED (an integer)") from None
        model = TinyEmotionModel(seed=seed)
        model.info.role = role
        return model.to(device).eval()
    if spec not in ("searcher", "critic") and not Path(spec).exists():
        raise CheckpointError(f"--{role} {spec}: model file not found (use 'searcher', 'critic', 'tiny' or a path)")
    try:
        from qdemo.emotion import load_model  # shipped weights (built by the emotion area)
    except ImportError:
        raise QdemoError(
            f"--{role} {spec!r}: the shipped emotion models are not available in this install "
            f"(qdemo.emotion.load_model is missing); use --{role} tiny for a test run") from None
    if spec in ("searcher", "critic"):
        model = load_model(spec, device=device)
    else:
        model = load_model(role, path=Path(spec), device=device)
    return model.to(device).eval()


def model_sha256(model: EmotionModel) -> str:
    """The weights file's SHA-256 when the model knows it, else a hash of its parameters."""
    info = getattr(model, "info", None)
    extra: dict[str, Any] = getattr(info, "extra", {}) or {}
    for key in ("sha256", "weights_sha256"):
        if isinstance(extra.get(key), str):
            return extra[key]
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def describe_model(model: Optional[EmotionModel], spec: str) -> Optional[dict[str, Any]]:
    """What the manifest says about a model."""
    if model is None:
        return None
    info = getattr(model, "info", None)
    return {
        "name": getattr(info, "name", type(model).__name__),
        "spec": spec,
        "sha256": model_sha256(model),
        "resolution": int(getattr(model, "resolution", 0)),
        "human_rated": list(getattr(info, "human_rated", ("valence", "arousal"))),
        "proxy": list(getattr(info, "proxy", ("dominance",))),
    }
