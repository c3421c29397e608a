"""Which emotion model a trained model was trained against (its *judge*), and checking it.

A generator or a pix2pix normaliser is trained against a frozen emotion model (the
searcher): its weights only make sense for that model. Each one records the judge in its
metadata as a plain dict, ``{"role", "name", "sha256"}``, where ``sha256`` is the same key
run manifests record for their models (``models.searcher.sha256``,
:func:`qdemo.emotion.zoo.model_sha256`: the weights file's SHA-256). Commands that use such
a model with a judge of their own (compare, generator sample, evolve --renderer generator,
normalise apply) call :func:`check_judge`: a one-line warning when the two differ, an error
with ``strict``.

    record = judge_record(searcher)                   # what a training run writes
    now = judge_of_spec("searcher")                   # the judge of a command, without loading it
    check_judge(meta.get("judge"), now, what=f"{path}: generator", strict=False)
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Optional

from qdemo.errors import ConfigError

JUDGE_KEYS = ("role", "name", "sha256")
"""The fields of a judge record."""


def judge_record(model: Any, *, role: str = "searcher") -> dict[str, str]:
    """``{"role", "name", "sha256"}`` of a loaded emotion model (the key run manifests use)."""
    from qdemo.emotion.zoo import model_sha256

    info = getattr(model, "info", None)
    return {"role": role, "name": str(getattr(info, "name", type(model).__name__)), "sha256": model_sha256(model)}


def judge_of_spec(spec: str | os.PathLike | None, *, role: str = "searcher") -> dict[str, str]:
    """The judge record of the model a spec names (``searcher``, ``shipped``, a weights file:
    read from the file's header and hash, without building the network; ``tiny[:SEED]``: built)."""
    from qdemo.emotion.specs import parse_model_spec
    from qdemo.emotion.zoo import load_emotion_model, read_metadata, shipped_path
    from qdemo.io import sha256_file

    kind, what = parse_model_spec(spec, role)
    if kind == "tiny":
        return judge_record(load_emotion_model(spec, role=role), role=role)
    path = shipped_path(str(what)) if kind == "shipped" else what
    meta = read_metadata(path)  # CheckpointError naming a missing or foreign file
    name = (meta.get("meta") or {}).get("name") or "+".join(
        str((p.get("meta") or {}).get("name", "?")) for p in meta.get("parts", [])) or path.stem
    return {"role": role, "name": str(name), "sha256": sha256_file(path)}


def shipped_judge() -> dict[str, str]:
    """The judge record of the shipped searcher."""
    return judge_of_spec("searcher")


def judge_mismatch(recorded: Optional[dict[str, Any]], current: dict[str, Any]) -> Optional[str]:
    """Why ``recorded`` (a model's metadata) is not ``current`` (the judge now); None when it is."""
    if not isinstance(recorded, dict) or not recorded.get("sha256"):
        return f"it records no judge (trained before judges were recorded), judging now: {describe_judge(current)}"
    if recorded["sha256"] != current.get("sha256"):
        return f"trained against {describe_judge(recorded)}, judging now: {describe_judge(current)}"
    return None


def describe_judge(record: Optional[dict[str, Any]]) -> str:
    """``name (sha256 0123456789ab)`` of a judge record."""
    if not record:
        return "unknown"
    return f"{record.get('name', '?')} (sha256 {str(record.get('sha256', ''))[:12] or '?'})"


def check_judge(recorded: Optional[dict[str, Any]], current: dict[str, Any], *, what: str, strict: bool = False,
                warn: Optional[Callable[[str], None]] = None) -> Optional[str]:
    """Compare a model's recorded judge with the judge now.

    ``what`` names the model (``"PATH: generator"``). On a mismatch: with ``strict`` raise
    :class:`ConfigError`, else print one warning line (to stderr, or through ``warn``) and
    return it. None when they agree."""
    why = judge_mismatch(recorded, current)
    if why is None:
        return None
    line = f"{what}: {why}"
    if strict:
        raise ConfigError(f"{line} (--strict refuses; retrain it against this judge)")
    line = f"warning: {line} (retrain it, or --strict to refuse)"
    (warn or (lambda s: print(s, file=sys.stderr)))(line)
    return line


__all__ = ["JUDGE_KEYS", "check_judge", "describe_judge", "judge_mismatch", "judge_of_spec", "judge_record",
           "shipped_judge"]
