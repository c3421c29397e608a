"""What ``manifest.json`` of an explorer run says (keys: docs/formats.md), built from the search itself.

Every entry is read from the objects that ran: the renderer describes itself, the models
their weights, the objective its terms (:meth:`qdemo.qd.objective.Objective.describe`).
"""

from __future__ import annotations

import datetime as _dt
import platform
from typing import Any, Optional

import numpy as np
import torch

import qdemo
from qdemo.emotion.base import EmotionModel
from qdemo.qd.build import Search, effective_emitter
from qdemo.qd.explorer import Explorer
from qdemo.emotion.zoo import describe_model
from qdemo.runfolder.schema import METRIC_KEYS, STATUSES


def now() -> str:
    """The time now, UTC, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    """Versions of the libraries the result depends on."""
    import ribs

    return {"python": platform.python_version(), "torch": torch.__version__, "ribs": ribs.__version__,
            "numpy": np.__version__}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: Any) -> dict[str, Any]:
    """What decides the floating-point arithmetic of a run: a seed reproduces a run on one machine
    with these settings, not across CPUs (float differences steer CMA-ES elsewhere)."""
    import os

    out = {"platform": platform.platform(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "device": str(device)}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(torch.device(str(device)))
    return out


def empty_metrics() -> dict[str, Any]:
    """Every metric of :data:`~qdemo.runfolder.schema.METRIC_KEYS`, not computed yet (None)."""
    return {k: None for k in METRIC_KEYS}


def search_metrics(explorer: Explorer) -> dict[str, Any]:
    """The search's metrics now (critic and reference-photo metrics None)."""
    m = empty_metrics()
    row = explorer.stats()
    m.update({k: row[k] for k in ("qd_score", "qd_score_normalised", "coverage", "best")})
    m["evaluations"] = explorer.evaluations
    return m


def _emitter_settings(search: Search) -> dict[str, Any]:
    cfg = search.config
    steps = cfg.emitter.gradient_steps(cfg.renderer.name) if search.explorer.dqd else ()
    out = {"num_emitters": cfg.emitter.num_emitters, "batch_size": cfg.batch_size, "sigma": cfg.emitter.sigma,
           "archive_learning_rate": search.learning_rate, **dict(zip(("grad_lr", "grad_sigma"), steps))}
    restart = effective_emitter(cfg).restart_rule
    if restart != cfg.emitter.restart_rule:  # a grid's own default (emotions)
        out["restart_rule"] = restart
    return out


def build_manifest(search: Search, *, status: str, metrics: dict[str, Any], critic: Optional[EmotionModel],
                   created: Optional[str], command: str, notes: list[str],
                   emotions: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """manifest.json of ``search`` now; ``critic`` None until one is loaded; ``emotions``: an
    emotions archive's report (:func:`qdemo.runfolder.confirm.emotion_report`)."""
    if status not in STATUSES:
        raise ValueError(f"status {status!r}: one of {', '.join(STATUSES)}")
    cfg, ex = search.config, search.explorer
    out = {
        "qdemo_version": qdemo.__version__,
        "versions": versions(),
        "created": created,
        "updated": now(),
        "status": status,
        "seed": cfg.seed,
        "command": command,
        "grid": search.space.to_manifest(),
        "renderer": search.renderer.describe(),
        "emitter": cfg.emitter.name,
        "emitter_settings": _emitter_settings(search),
        "models": {"searcher": describe_model(search.searcher, cfg.searcher),
                   "critic": describe_model(critic, cfg.critic)},
        "objective": search.scorer.describe_objective(),
        "views": search.scorer.views.describe(),
        "device": str(search.device),
        "machine": machine(search.device),
        "iterations": ex.iteration,
        "wall_s": round(ex.wall_s, 2),
        "metrics": metrics,
        "notes": list(notes),
    }
    if emotions is not None:
        out["emotions"] = emotions
    return out
