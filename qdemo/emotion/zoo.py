"""The shipped searcher and critic, and the one loader every area uses for emotion models.

Weights files (format, calibration, fused parts) are read and written by
:mod:`qdemo.emotion.weights_io`; its names are re-exported here.

    model = load_model("searcher")            # shipped weights, eval mode, frozen
    model = load_model(path="my.safetensors") # a model trained with `qdemo regressor train`

Every area names a model by a spec string and loads it with :func:`load_emotion_model`, the
one loader (the one spec syntax, :mod:`qdemo.emotion.specs`; ``docs/emotion-model.md``;
``load_model`` above is its Python shorthand)::

    model = load_emotion_model("critic", role="critic", device="cpu")
    model = load_emotion_model("tiny:3", role="searcher")          # untrained test model
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Optional

import torch

from qdemo.emotion.specs import MODEL_SPEC_HELP, ROLES, parse_model_spec
from qdemo.errors import CheckpointError, ConfigError
from qdemo.emotion.weights_io import FORMAT, load_model_file, read_metadata, save_model
from qdemo.io import sha256_file

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def shipped_path(role: str) -> Path:
    """Path of the shipped weights file of ``role`` ('searcher' or 'critic')."""
    if role not in ROLES:
        raise CheckpointError(f"unknown model role {role!r}; expected one of {', '.join(ROLES)}")
    return WEIGHTS_DIR / f"{role}.safetensors"


def load_model(role: str = "searcher", path: str | os.PathLike | None = None, *,
               device: str | torch.device = "cpu", frozen: bool = True):
    """The trained emotion model of ``role`` ('searcher' or 'critic'), in eval mode: the Python
    shorthand of :func:`load_emotion_model` for ``path`` or, without one, the shipped model.

    The model is differentiable with respect to its input; ``frozen`` (default) turns off
    gradients for its own parameters. A missing, corrupt or foreign file raises
    :class:`CheckpointError` naming the file.
    """
    shipped_path(role)  # CheckpointError for an unknown role
    return load_emotion_model("shipped" if path is None else Path(path), role=role, device=device, frozen=frozen)


def shipped_weights_info() -> list[dict[str, Any]]:
    """Name, role, file, SHA-256 and size of each shipped weights file (for run manifests)."""
    out = []
    for role in ROLES:
        p = shipped_path(role)
        if not p.exists():
            out.append({"role": role, "file": str(p), "present": False})
            continue
        meta = read_metadata(p)
        parts = meta.get("parts", [meta])
        out.append({"role": role, "name": meta["meta"]["name"], "file": str(p), "present": True,
                    "sha256": sha256_file(p), "bytes": p.stat().st_size,
                    "backbone": "+".join(pm["spec"]["backbone"] for pm in parts),
                    "resolution": max(pm["spec"]["resolution"] for pm in parts),
                    "base_weights_sha256": ",".join(pm["base_weights"].get("sha256", "") for pm in parts),
                    "calibration": (meta.get("calibration") or {}).get("method", "identity")})
    return out


# ----------------------------------------------------------------------------- by spec


def load_emotion_model(spec: str | os.PathLike | None, *, role: str = "searcher",
                       device: str | torch.device = "cpu", frozen: bool = True, optional: bool = False):
    """The emotion model named by ``spec``, in eval mode on ``device`` (frozen unless ``frozen=False``):
    the one loader.

    ``spec`` (:data:`qdemo.emotion.specs.MODEL_SPEC_HELP`): ``"searcher"`` / ``"critic"`` (the
    shipped weights of that model), ``"shipped"`` or None (the shipped model of ``role``),
    ``"tiny"`` / ``"tiny:SEED"`` (an untrained :class:`~qdemo.emotion.base.TinyEmotionModel`, for
    tests), a path to a weights file written by ``qdemo regressor train``, or ``"none"``: no
    model, returned as None where the caller can do without one (``optional``), else a
    ConfigError. ``role`` ('searcher' or 'critic') is the job the model does for the caller. A
    malformed spec raises :class:`~qdemo.errors.ConfigError`, a missing or foreign file
    :class:`CheckpointError`.
    """
    kind, what = parse_model_spec(spec, role)
    if kind == "none":
        if optional:
            return None
        raise ConfigError(f"--{role} none: this needs a model ({MODEL_SPEC_HELP})")
    if kind == "tiny":
        from qdemo.emotion.base import TinyEmotionModel

        model = TinyEmotionModel(seed=what)
        model.info.role = role
    else:
        path = shipped_path(what) if kind == "shipped" else what
        if kind == "shipped" and not path.exists():
            raise CheckpointError(f"{path}: shipped {what} weights are missing from the package; reinstall "
                                  f"qdemo or train them with `qdemo regressor train`")
        if not path.exists():
            raise CheckpointError(f"--{role} {what}: model file not found (use 'searcher', 'critic', 'shipped', "
                                  f"'tiny[:SEED]' or a path to a .safetensors file)")
        model = load_model_file(path, device=device, frozen=frozen)
    return prepare_model(model, device, frozen=frozen)


def prepare_model(model, device: str | torch.device = "cpu", *, frozen: bool = True):
    """``model`` on ``device`` in eval mode, its parameters frozen (``frozen``): what the loader
    does once; call it on a model built in Python before handing it to the search."""
    model = model.to(device).eval()
    if frozen:
        for p in model.parameters():
            p.requires_grad_(False)
    return model


def model_sha256(model) -> str:
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


def describe_model(model, spec: str) -> Optional[dict[str, Any]]:
    """What a run manifest says about a model (None for no model)."""
    if model is None:
        return None
    info = getattr(model, "info", None)
    extra: dict[str, Any] = getattr(info, "extra", {}) or {}
    return {
        "name": getattr(info, "name", type(model).__name__),
        "spec": spec,
        "sha256": model_sha256(model),
        "resolution": int(getattr(model, "resolution", 0)),
        "human_rated": list(getattr(info, "human_rated", ("valence", "arousal"))),
        "proxy": list(getattr(info, "proxy", ("dominance",))),
        "calibration": model.calibration.to_dict() if hasattr(model, "calibration") else None,
        **({"adapted": _adapted_summary(extra["adapted"])} if isinstance(extra.get("adapted"), dict) else {}),
    }


def _adapted_summary(adapted: dict[str, Any]) -> dict[str, Any]:
    """What a manifest says of a model made by ``qdemo regressor adapt``: its parent and ratings."""
    parent, ratings = adapted.get("parent") or {}, adapted.get("ratings") or {}
    return {"parent": {k: parent.get(k) for k in ("name", "spec", "sha256")},
            "ratings": {k: ratings.get(k) for k in ("source", "sha256", "n_stimuli", "n_raters")},
            "method": adapted.get("method")}


__all__ = ["FORMAT", "WEIGHTS_DIR", "describe_model", "load_emotion_model", "load_model",
           "load_model_file", "model_sha256", "prepare_model", "read_metadata", "save_model", "shipped_path", "shipped_weights_info"]
