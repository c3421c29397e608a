"""The lambda_emo sweep of the emotional pix2pix as a Ray experiment grid (one run per lambda)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from qdemo.config import from_dict, to_dict
from qdemo.io import atomic_write_json

from qdemo.normalise.config import NormaliseConfig
from qdemo.normalise.train import Trainer


def train_task(shine_dir: str, out: str, cfg_dict: dict[str, Any], device: str) -> dict[str, Any]:
    """Ray task: one run of the sweep (resumes from its own checkpoint if interrupted)."""
    cfg = from_dict(NormaliseConfig, cfg_dict)
    return Trainer(shine_dir, out, cfg, device=device, progress=False).run()


def run_sweep(shine_dir: str | Path, out: str | Path, cfg: NormaliseConfig, lambdas: Sequence[float], *,
              device: str = "cpu", address: str | None = None, backend: str = "ray",
              cpus_per_task: float = 1.0) -> dict[str, Any]:
    """The lambda_emo sweep as a Ray experiment grid: one task per lambda, in ``out/lambda_emo=L``."""
    from qdemo.parallel import run_tasks

    out = Path(out)
    tasks = {}
    for lam in lambdas:
        c = from_dict(NormaliseConfig, to_dict(cfg))
        c.train.lambda_emo = float(lam)
        if c.train.threads == 0:
            c.train.threads = max(1, int(cpus_per_task))
        key = f"lambda_emo={float(lam):g}"
        tasks[key] = (str(shine_dir), str(out / key), to_dict(c), device)
    results = run_tasks(train_task, tasks, cache_dir=out / "cache", address=address, backend=backend,
                        cpus_per_task=cpus_per_task, max_retries=1, desc="lambda_emo sweep")
    atomic_write_json(out / "sweep.json", {"shine": str(shine_dir), "runs": results})
    return results


def default_lambdas() -> list[float]:
    """Zhang & Kim's sweep."""
    return [0.0, 10.0, 20.0, 100.0]


__all__ = ["default_lambdas", "run_sweep", "train_task"]
