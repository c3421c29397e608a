"""The weights file of a trained regressor: one ``.safetensors`` with its description inside.

The header metadata (key ``"qdemo"``) holds the architecture
(:class:`~qdemo.emotion.model.ModelSpec`), the model's metadata, where the backbone's
pretrained weights come from and the calibration; a readable ``.json`` sidecar repeats it
with the file's SHA-256. To stay small, a file normally stores only what training changed
(heads, feature statistics, fine-tuned units, calibration) as float16 and records the
SHA-256 of the pretrained backbone file (inside an installed wheel); loading rebuilds the
backbone from that file and refuses a different one. ``full=True`` stores every tensor.

Format 3 added the calibration (tensors ``calibration.scale`` / ``.shift`` and metadata saying
how it was fitted and for which heads) and fused models (``"parts"``: one entry per
:class:`VADRegressor`, tensors prefixed ``parts.<i>.``). Format 4 (this version) adds the
semantic channel (:mod:`qdemo.emotion.semantic`): a part's ``spec.semantic``, its tensors
``semantic.norms`` / ``semantic.covered`` (the class-name word norms, so prediction needs no
word-norm file) and its metadata ``"semantic"`` (rule, source, class names); the classifier
comes from the backbone's wheel. Format 3 files load unchanged; format 2 files (before
calibration) load with the identity calibration, and say so in their metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from qdemo.errors import CheckpointError
from qdemo.io import atomic_path, atomic_write_json, sha256_file

FORMAT = "qdemo-vad-regressor/4"  # 3: calibration, fused parts; 4: the semantic channel
CALIBRATED = ("qdemo-vad-regressor/3", FORMAT)
READABLE = ("qdemo-vad-regressor/2", *CALIBRATED)
CALIBRATION_KEYS = ("calibration.scale", "calibration.shift")


SEMANTIC_PRETRAINED = ("semantic.fc_weight", "semantic.fc_bias")
"""The semantic channel's classifier: from the backbone's wheel, stored only in full files."""


def _stored_keys(model, full: bool) -> list[str]:
    """State-dict keys of a VADRegressor a file holds (no calibration: the caller adds it)."""
    keys = []
    for k in model.state_dict():
        if k.startswith("calibration.") or (k in SEMANTIC_PRETRAINED and not full):
            continue
        if not k.startswith("backbone.units."):
            keys.append(k)
        elif full or int(k.split(".")[2]) >= model.train_from:
            keys.append(k)
    return keys


def heads_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """Fingerprint of the heads a calibration was fitted for (head weights and biases, float16)."""
    h = hashlib.sha256()
    for k in sorted(k for k in tensors if k.rsplit(".", 1)[-1] in ("head_weight", "head_bias")):
        h.update(k.encode())
        h.update(tensors[k].detach().cpu().half().contiguous().numpy().tobytes())
    return h.hexdigest()


def _part_meta(part, full: bool | None) -> tuple[dict[str, Any], bool]:
    base = part.backbone.base.to_dict()
    full = base["kind"] != "wheel" if full is None else full
    out = {"spec": part.spec_dict(),
           "base_weights": {k: v for k, v in base.items() if k != "path"} | {"path": os.path.basename(base["path"])},
           "stored": "full" if full else "trained-only"}
    if part.semantic is not None:
        out["semantic"] = part.semantic.to_dict()
    return out, full


def _meta_of(model) -> dict[str, Any]:
    m = model.meta
    return {"name": m.name, "role": m.role, "human_rated": list(m.human_rated), "proxy": list(m.proxy),
            "extra": m.extra}


def save_model(model, path: str | os.PathLike, *, full: bool | None = None, half: bool = True,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``model`` (a :class:`VADRegressor` or :class:`FusedRegressor`) to ``path``
    (.safetensors) and ``path``.json; returns the metadata written (with ``sha256``)."""
    from safetensors.torch import save_file

    from qdemo.emotion.fused import FusedRegressor

    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: weights files must end in .safetensors")
    parts = list(model.parts) if isinstance(model, FusedRegressor) else [model]
    prefix = (lambda i: f"parts.{i}.") if isinstance(model, FusedRegressor) else (lambda i: "")
    tensors, metas = {}, []
    for i, part in enumerate(parts):
        pm, pfull = _part_meta(part, full)
        metas.append(pm)
        state = part.state_dict()
        for k in _stored_keys(part, pfull):
            t = state[k].detach().cpu().contiguous()
            tensors[prefix(i) + k] = t.half() if half and t.is_floating_point() else t
    for k in CALIBRATION_KEYS:
        tensors[k] = model.state_dict()[k].detach().cpu().float().contiguous()  # kept in float32
    meta = {"format": FORMAT, "meta": _meta_of(model), "dtype": "float16" if half else "float32",
            "calibration": {**model.calibration.to_dict(), "heads_sha256": heads_sha256(tensors)}}
    if isinstance(model, FusedRegressor):
        meta["parts"] = metas
    else:
        meta.update(metas[0])
    if extra:
        meta["extra"] = extra
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"qdemo": json.dumps(meta, default=str)})
    side = dict(meta, file=path.name, sha256=sha256_file(path), bytes=path.stat().st_size)
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
    if not isinstance(meta, dict) or meta.get("format") not in READABLE:
        raise CheckpointError(f"{path}: unsupported model format {meta.get('format') if isinstance(meta, dict) else meta!r}"
                              f" (expected {' or '.join(READABLE)})")
    return meta


def _build_part(path: Path, pm: dict[str, Any], rmeta):
    """An untrained VADRegressor of one part's metadata, its backbone checked against the file's."""
    from qdemo.config import from_dict
    from qdemo.emotion.model import ModelSpec, VADRegressor
    from qdemo.errors import ConfigError

    try:
        spec = from_dict(ModelSpec, pm["spec"], f"{path}: spec")
        full = pm["stored"] == "full"
        base = pm["base_weights"]
    except (KeyError, TypeError, ConfigError) as exc:
        raise CheckpointError(f"{path}: incomplete qdemo metadata ({exc})") from None
    model = VADRegressor(spec, rmeta, pretrained=not full)
    have = model.backbone.base.sha256
    if not full and base.get("sha256") and have != base["sha256"]:
        raise CheckpointError(
            f"{path}: was trained on backbone weights {base.get('path')} with sha256 {base['sha256'][:12]}..., "
            f"but the installed {spec.backbone} weights have sha256 {have[:12]}...; reinstall the package "
            f"that ships them or retrain")
    return model, full


def _fill(path: Path, model, tensors: dict[str, torch.Tensor], expected: set[str]) -> None:
    """Copy ``tensors`` into ``model``'s state; CheckpointError on missing/unexpected/bad tensors."""
    state = model.state_dict()
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


def _check_calibration(path: Path, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    """The calibration must have been fitted for these heads (a transplanted one is refused)."""
    want = (meta.get("calibration") or {}).get("heads_sha256")
    if want and want != heads_sha256(tensors):
        raise CheckpointError(f"{path}: its calibration was fitted for other heads (heads sha256 "
                              f"{want[:12]}..., these are {heads_sha256(tensors)[:12]}...); refit it with "
                              f"`qdemo regressor train` instead of copying it between models")


def load_model_file(path: str | os.PathLike, *, device: str | torch.device = "cpu", frozen: bool = True):
    """Load a :class:`VADRegressor` or :class:`FusedRegressor` from a file written by :func:`save_model`."""
    from safetensors.torch import load_file

    from qdemo.emotion.fused import FusedRegressor
    from qdemo.emotion.model import RegressorMeta

    path = Path(path)
    meta = read_metadata(path)
    try:
        m = meta["meta"]
        rmeta = RegressorMeta(name=m["name"], role=m["role"], human_rated=tuple(m["human_rated"]),
                              proxy=tuple(m["proxy"]), extra=dict(m.get("extra", {})))
        part_metas = meta["parts"] if "parts" in meta else [meta]
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: incomplete qdemo metadata ({exc})") from None
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{path}: cannot read tensors ({type(exc).__name__}: {exc})") from None
    fused = "parts" in meta
    parts = []
    for i, pm in enumerate(part_metas):
        part, full = _build_part(path, pm, rmeta)
        pre = f"parts.{i}." if fused else ""
        own = {k[len(pre):]: t for k, t in tensors.items() if k.startswith(pre) and k not in CALIBRATION_KEYS}
        _fill(path, part, own, set(_stored_keys(part, full)))
        if part.semantic is not None:
            sem = dict(pm.get("semantic") or {})
            part.semantic.class_names = list(sem.pop("class_names", []))
            part.semantic.fitted = sem
        parts.append(part)
    model = FusedRegressor(parts, rmeta) if fused else parts[0]
    if meta["format"] in CALIBRATED:
        if any(k not in tensors for k in CALIBRATION_KEYS):
            raise CheckpointError(f"{path}: format {meta['format']} without its calibration tensors")
        _check_calibration(path, meta, tensors)
        model.calibration.set(tensors["calibration.scale"].float().numpy(), tensors["calibration.shift"].float().numpy(),
                              {k: v for k, v in meta["calibration"].items() if k not in ("scale", "shift")})
    else:
        model.calibration.fitted = {"method": "identity (format 2 file, written before calibration)"}
    model.meta.extra.update({"weights_file": path.name, "sha256": sha256_file(path)})
    model.eval().to(device)
    if frozen:
        model.requires_grad_(False)
    return model


__all__ = ["FORMAT", "heads_sha256", "load_model_file", "read_metadata", "save_model"]
