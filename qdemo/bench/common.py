"""Helpers shared by the explorer benchmarks: environment, threads, tables, outputs.

Models load through :func:`qdemo.emotion.zoo.load_emotion_model` and points find their cells
through :class:`qdemo.measure_space.MeasureSpace`, as everywhere else."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import statistics
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

TARGETS = {
    "throughput_vs_forward": 0.85,
    "throughput_vs_single": 20.0,
    "qd_best_vs_random": 2.5,
    "qd_best_vs_map_elites": 1.5,
    "va_coverage_vs_dataset": 3.0,
    "critic_within_one_cell": 0.70,
}
"""Targets from the issue (ratios are >=)."""


def sync_for(device: Any) -> Callable[[], None]:
    """A function that waits for the device's queued work (a no-op off CUDA)."""
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def env_info(device: Any) -> dict[str, Any]:
    """Versions, machine, threads and device of this benchmark process."""
    import numpy as np
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
        "machine": platform.machine(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if getattr(device, "type", "") == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    try:
        import ribs
        info["ribs"] = ribs.__version__
    except ImportError:  # pragma: no cover
        pass
    return info


def load_average() -> Optional[float]:
    """The 1-minute load average (None where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def set_threads(threads: Optional[int]) -> None:
    """Set torch's CPU threads (None or 0: leave torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample SD of the finite values (NaN, NaN when there are none)."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def cache_key(name: str, payload: Any) -> str:
    """``name`` plus a fingerprint of everything the task computes from, for the on-disk cache.

    A benchmark re-run with other settings (``--set``, another budget, dataset or model) then
    gets new cache entries instead of silently reusing results of the old settings.
    """
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return f"{name}-{hashlib.sha256(blob).hexdigest()[:10]}"


def fmt(x: Any, nd: int = 2) -> str:
    """A table cell: floats to ``nd`` decimals, missing or non-finite as a dash."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; non-string cells through :func:`fmt`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write_outputs(out_dir: Path, mode: str, result: dict[str, Any], markdown: str) -> dict[str, Path]:
    """Write ``<out_dir>/<mode>.json`` and ``<mode>.md`` atomically; their paths."""
    from qdemo.io import atomic_write_json, atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{mode}.json", "md": out_dir / f"{mode}.md"}
    atomic_write_json(paths["json"], result)
    atomic_write_text(paths["md"], markdown + "\n")
    return paths
