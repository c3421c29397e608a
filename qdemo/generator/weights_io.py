"""Saving and loading generator weights (emotion models load through ``qdemo.emotion.zoo.load_emotion_model``).

Generator weights are a safetensors file (the EMA generator's state dict) with a JSON
file of the same stem beside it (kind, architecture, the judge it was trained against,
training facts). Two kinds: ``pixels`` (the CNN of :mod:`qdemo.generator.models`) and
``rendered`` (:mod:`qdemo.generator.rendered`, a renderer's parameters). The shipped ones
are in ``qdemo/generator/weights/``: ``generator.safetensors`` (pixels) and
``generator-shapes.safetensors`` (the shapes renderer); the names ``pixels`` and ``shapes``
select them. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import torch

from qdemo.errors import CheckpointError, ConfigError
from qdemo.io import atomic_path, atomic_write_json, sha256_file

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_DIR / "generator.safetensors"
SHIPPED = {"pixels": DEFAULT_WEIGHTS, "shapes": WEIGHTS_DIR / "generator-shapes.safetensors"}
"""Names ``--generator`` accepts for the shipped generators."""
FORMAT = "qdemo-generator"


class MissingWeightsError(CheckpointError, FileNotFoundError):
    """A generator weights file that should exist does not (a QdemoError and a FileNotFoundError)."""


def save_generator(generator: torch.nn.Module, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    """Write ``path`` (.safetensors) and ``path.with_suffix('.json')`` atomically; return the path."""
    from safetensors.torch import save_file

    path = Path(path)
    kind = getattr(generator, "kind", "pixels")
    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    arch = generator.arch.to_dict()
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT, "kind": kind, "arch": json.dumps(arch)})
    info = {"format": FORMAT, "kind": kind, "arch": arch, "sha256": sha256_file(path)}
    info.update(meta or {})
    atomic_write_json(path.with_suffix(".json"), info)
    return path


def resolve_generator_path(path: str | os.PathLike | None) -> Path:
    """``None`` -> the shipped pixel generator; ``pixels`` / ``shapes`` (no such file here) -> the
    shipped one of that name; a folder -> its ``generator.safetensors``."""
    if path is None or (str(path) in SHIPPED and not Path(path).exists()):
        p = SHIPPED["pixels" if path is None else str(path)]
        if not p.exists():
            raise MissingWeightsError(f"{p}: the shipped generator weights are missing from this installation")
        return p
    p = Path(path)
    if p.is_dir():
        p = p / "generator.safetensors"
    if not p.exists():
        raise MissingWeightsError(f"{p}: generator checkpoint not found")
    return p


def what_is(path: Path) -> str:
    """A few words on what a file that is not a generator is (for one-line errors)."""
    side = path.with_suffix(".json")
    try:
        meta = json.loads(side.read_text(encoding="utf-8")) if side.exists() else None
    except (OSError, ValueError):
        meta = None
    if isinstance(meta, dict) and "spec" in meta and "info" in meta:
        return "a qdemo normaliser (pix2pix), not a generator"
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except Exception:  # noqa: BLE001 - safetensors raises several types on garbage
        return "not a safetensors file"
    if "qdemo" in header:
        try:
            name = (json.loads(header["qdemo"]).get("meta") or {}).get("name", "?")
        except (ValueError, AttributeError):
            name = "?"
        return f"a qdemo emotion model ({name}), not a generator"
    return "not a qdemo generator (no generator description)"


def _read_meta(p: Path) -> dict[str, Any]:
    meta_file = p.with_suffix(".json")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if p.suffix == ".safetensors" and what_is(p).startswith(("a qdemo", "not a safetensors")):
            raise CheckpointError(f"{p}: {what_is(p)}") from None
        raise CheckpointError(f"{meta_file}: missing (the generator's architecture file beside {p.name})") from None
    except ValueError as exc:
        raise CheckpointError(f"{meta_file}: not a qdemo generator description ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{p}: {what_is(p)}")
    return meta


def _build(meta: dict[str, Any], p: Path) -> torch.nn.Module:
    kind = meta.get("kind", "pixels")  # files written before the kinds say nothing: pixels
    try:
        if kind == "pixels":
            from qdemo.generator.models import Generator, GeneratorArch

            return Generator(GeneratorArch.from_dict(meta["arch"]))
        if kind == "rendered":
            from qdemo.generator.rendered import RenderedArch, RenderedGenerator

            return RenderedGenerator(RenderedArch.from_dict(meta["arch"]), check=False)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{p.with_suffix('.json')}: not a qdemo generator description ({exc})") from None
    except ConfigError as exc:
        raise CheckpointError(f"{p}: {exc}") from None
    raise CheckpointError(f"{p}: generator of unknown kind {kind!r} (expected pixels or rendered)")


def kind_label(meta: dict[str, Any]) -> str:
    """``pixels`` or the renderer's name (``shapes``) of a generator description."""
    if meta.get("kind", "pixels") == "pixels":
        return "pixels"
    return str((meta.get("arch") or {}).get("renderer", "?"))


def load_generator(path: str | os.PathLike | None = None, *, device: Any = "cpu",
                   expect: Optional[str] = None) -> torch.nn.Module:
    """Load a generator (eval mode, frozen) from a safetensors file, a run folder, a shipped
    name (``pixels``, ``shapes``) or None (the shipped pixel generator).

    ``expect``: ``pixels`` or a renderer name; a generator of another kind or for another
    renderer is a one-line :class:`CheckpointError` naming the file and what it is."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    p = resolve_generator_path(path)
    meta = _read_meta(p)
    label = kind_label(meta)
    if expect is not None and label != expect:
        what = "a pixel generator" if label == "pixels" else f"a generator for the {label!r} renderer"
        want = "a pixel generator" if expect == "pixels" else f"one for the {expect!r} renderer"
        raise CheckpointError(f"{p}: is {what}, not {want}")
    generator = _build(meta, p)
    try:
        state = load_file(str(p), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{p}: corrupt or not a safetensors file ({exc})") from None
    try:
        generator.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{p}: weights do not match the architecture in {p.with_suffix('.json').name} "
                              f"({str(exc)[:300]})") from None
    generator.meta = meta  # type: ignore[attr-defined]
    generator.path = p  # type: ignore[attr-defined]
    generator = generator.to(device).eval()
    for q in generator.parameters():
        q.requires_grad_(False)
    return generator


def check_generator_judge(generator: torch.nn.Module, current: dict[str, Any], *, strict: bool = False,
                          warn=None) -> Optional[str]:
    """Warn (or, ``strict``, refuse) when ``generator`` was trained against another judge than ``current``."""
    from qdemo.emotion.judge import check_judge

    meta = getattr(generator, "meta", {}) or {}
    where = getattr(generator, "path", "generator")
    return check_judge(meta.get("judge"), current, what=f"{where}: {kind_label(meta)} generator",
                       strict=strict, warn=warn)


__all__ = ["DEFAULT_WEIGHTS", "FORMAT", "MissingWeightsError", "SHIPPED", "WEIGHTS_DIR", "check_generator_judge",
           "kind_label", "load_generator", "resolve_generator_path", "save_generator", "what_is"]
