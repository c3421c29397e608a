"""Saving and loading generator weights (emotion models load through ``qdemo.emotion.zoo.load_emotion_model``).

Generator weights are a safetensors file (the EMA generator's state dict) with a JSON
file of the same stem beside it (architecture + training facts). The default checkpoint
ships in ``qdemo/generator/weights/``. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from qdemo.errors import CheckpointError, QdemoError
from qdemo.generator.models import Generator, GeneratorArch
from qdemo.io import atomic_path, atomic_write_json, sha256_file

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "generator.safetensors"


class MissingWeightsError(CheckpointError, FileNotFoundError):
    """A generator weights file that should exist does not (a QdemoError and a FileNotFoundError)."""


def save_generator(generator: Generator, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    """Write ``path`` (.safetensors) and ``path.with_suffix('.json')`` atomically; return the path."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": "qdemo-generator", "arch": json.dumps(generator.arch.to_dict())})
    info = {"format": "qdemo-generator", "arch": generator.arch.to_dict(), "sha256": sha256_file(path)}
    info.update(meta or {})
    atomic_write_json(path.with_suffix(".json"), info)
    return path


def resolve_generator_path(path: str | os.PathLike | None) -> Path:
    """``None`` -> the shipped weights; a folder -> its ``generator.safetensors``."""
    if path is None:
        p = DEFAULT_WEIGHTS
        if not p.exists():
            raise MissingWeightsError(f"{p}: the shipped generator weights are missing from this installation")
        return p
    p = Path(path)
    if p.is_dir():
        p = p / "generator.safetensors"
    if not p.exists():
        raise MissingWeightsError(f"{p}: generator checkpoint not found")
    return p


def load_generator(path: str | os.PathLike | None = None, *, device: Any = "cpu") -> Generator:
    """Load a generator (eval mode, frozen) from a safetensors file, a run folder or the shipped default."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    p = resolve_generator_path(path)
    meta_file = p.with_suffix(".json")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        arch = GeneratorArch.from_dict(meta["arch"])
    except FileNotFoundError:
        raise CheckpointError(f"{meta_file}: missing (the generator's architecture file beside {p.name})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{meta_file}: not a qdemo generator description ({exc})") from None
    try:
        state = load_file(str(p), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{p}: corrupt or not a safetensors file ({exc})") from None
    generator = Generator(arch)
    try:
        generator.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{p}: weights do not match the architecture in {meta_file.name} ({exc})") from None
    generator.meta = meta  # type: ignore[attr-defined]
    generator = generator.to(device).eval()
    for q in generator.parameters():
        q.requires_grad_(False)
    return generator
