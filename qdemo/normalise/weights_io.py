"""Saving and loading generator weights (safetensors + JSON), and the shipped default.

A generator on disk is ``NAME.safetensors`` (float16 weights, a few MB) with ``NAME.json``
beside it (:class:`GeneratorSpec` and how it was trained). ``load_generator`` also accepts
a training run folder or a training checkpoint (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from qdemo.errors import CheckpointError
from qdemo.io import atomic_path, atomic_write_json

from qdemo.normalise.models import GeneratorSpec, UNetGenerator

SHIPPED = Path(__file__).resolve().parent / "weights" / "pix2pix.safetensors"
"""The default generator shipped with qdemo (see weights/MODEL_CARD.md)."""
SHIPPED_GROUP = SHIPPED.with_name("pix2pix_group.safetensors")
"""The shipped group-conditioned generator (``train.condition=group``; weights/MODEL_CARD.md)."""
SHIPPED_NAMES = {"default": SHIPPED, "group": SHIPPED_GROUP}
"""Names ``load_generator`` (and ``--model``) accept for the shipped generators."""


def save_generator(g: UNetGenerator, path: str | Path, info: dict[str, Any] | None = None,
                   *, half: bool = True) -> Path:
    """Write ``path`` (.safetensors) and its ``.json`` sidecar, atomically."""
    from safetensors.torch import save_file

    path = Path(path).with_suffix(".safetensors")
    state = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().contiguous()
             for k, v in g.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))
    atomic_write_json(path.with_suffix(".json"), {"spec": g.spec.to_dict(), "info": info or {}})
    return path


def _spec_from(d: dict[str, Any], where: Path) -> GeneratorSpec:
    try:
        return GeneratorSpec(**d)
    except TypeError as exc:
        raise CheckpointError(f"{where}: generator spec not understood ({exc})") from None


def load_generator(path: str | Path | None = None, *, device: str | torch.device = "cpu"
                   ) -> tuple[UNetGenerator, dict[str, Any]]:
    """Load a generator for inference (eval mode). ``path``: .safetensors (+ .json), a
    training checkpoint .pt, a run folder, None for the shipped default, or a name of
    :data:`SHIPPED_NAMES` ('default', 'group') when no such file exists."""
    if path is not None and str(path) in SHIPPED_NAMES and not Path(path).exists():
        path = SHIPPED_NAMES[str(path)]
    path = Path(path) if path is not None else SHIPPED
    if path.is_dir():
        for cand in (path / "generator.safetensors", path / "checkpoint" / "ckpt.pt"):
            if cand.exists():
                path = cand
                break
        else:
            raise CheckpointError(f"{path}: no generator.safetensors or checkpoint/ckpt.pt in this folder")
    if not path.exists():
        hint = (" (the shipped model is missing: train one with `qdemo normalise train`)"
                if path in SHIPPED_NAMES.values() else "")
        raise CheckpointError(f"{path}: model file not found{hint}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        meta_path = path.with_suffix(".json")
        if not meta_path.exists():
            raise CheckpointError(f"{path}: missing its {meta_path.name} (generator spec)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            spec = _spec_from(meta["spec"], meta_path)
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"{meta_path}: not a generator description ({exc})") from None
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: corrupt or not a safetensors file ({exc})") from None
        info = meta.get("info", {})
    else:
        try:
            ck = torch.load(path, map_location="cpu", weights_only=True)
            spec = _spec_from(ck["spec"], path)
            state = ck["G"]
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 - any unpickling/format problem is the file's
            raise CheckpointError(f"{path}: not a qdemo normalise checkpoint ({type(exc).__name__}: {exc})") from None
        info = {"step": ck.get("step"), "config": ck.get("config")}
    g = UNetGenerator(spec)
    try:
        g.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the generator spec ({str(exc)[:300]})") from None
    g.eval().to(device)
    for p in g.parameters():
        p.requires_grad_(False)
    return g, {"path": str(path), "spec": spec.to_dict(), **info}


def check_normaliser_judge(info: dict[str, Any], current: dict[str, Any], *, strict: bool = False,
                           warn=None) -> str | None:
    """Warn (or, ``strict``, refuse) when a normaliser (``info`` of :func:`load_generator`) was
    trained against another emotion model (D_emo) than ``current``; the warning line or None."""
    from qdemo.emotion.judge import check_judge

    if info.get("lambda_emo") == 0:  # trained without D_emo: no judge to match
        return None
    return check_judge(info.get("judge"), current, what=f"{info.get('path', 'normaliser')}: normaliser",
                       strict=strict, warn=warn)
