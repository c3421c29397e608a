"""``qdemo normalise bench``: throughput of ``apply`` and of SHINE through Ray (1 vs 2 workers).

Prints medians over repeats measured in one run. SHINE runs without its cache (every
repeat does the work); "1 worker" means Ray tasks that each claim all the cores, so one
runs at a time; "N workers" means tasks claiming one core each. Ray workers run at the
driver's niceness here (``RAY_worker_niceness=0`` unless set), not Ray's default +15.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from qdemo.normalise.config import NormaliseConfig
from qdemo.normalise.data import ImageSet, load_batch, to_tensor


def bench_apply(g, images: ImageSet, *, size: int, fit: str, repeats: int, batch_size: int = 16) -> dict[str, Any]:
    """Generator throughput on CPU (images/s): forward only, and end to end (decode + G + PNG)."""
    from qdemo.normalise.apply import apply_paths

    if getattr(g, "conditioned", False):
        from qdemo.errors import QdemoError

        raise QdemoError("bench times per-image generators; a group-conditioned one (condition=group) normalises "
                         "a grouped set: time `qdemo normalise apply --model MODEL FOLDER` on a folder of groups")
    arrays, _, _ = load_batch(images.paths, size, fit, on_error="skip")
    x = to_tensor(arrays)  # (N, 3, S, S)
    fwd, e2e = [], []
    with torch.no_grad():
        g(x[:2])  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            for i in range(0, len(x), batch_size):
                g(x[i:i + batch_size])
            fwd.append(len(x) / (time.perf_counter() - t0))
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            s = apply_paths(g, images.paths, tmp, size=size, fit=fit, batch_size=batch_size,
                            on_error="skip", progress=False)
            e2e.append(s["images_per_s"])
    return {"n_images": len(x), "size": size, "forward_images_per_s": statistics.median(fwd),
            "end_to_end_images_per_s": statistics.median(e2e), "repeats": repeats,
            "torch_threads": torch.get_num_threads()}


def bench_shine(images: ImageSet, cfg: NormaliseConfig, *, repeats: int, workers: tuple[int, ...] = (1, 2),
                address: str | None = None) -> dict[str, Any]:
    """Seconds and images/s of a full SHINE run (stats + match), serial and via Ray per worker count."""
    from qdemo.parallel import init_ray
    from qdemo.normalise.shine import run_shine

    n_cpu = max(workers)
    # Ray starts its workers 15 nice levels below the driver (RAY_worker_niceness); on a shared
    # machine that alone makes them crawl next to the serial baseline. Compare like with like.
    os.environ.setdefault("RAY_worker_niceness", "0")
    init_ray(address, num_cpus=n_cpu)
    out: dict[str, Any] = {"n_images": len(images), "mode": cfg.shine.mode, "size": cfg.data.size,
                           "shard_size": cfg.shine.shard_size, "repeats": repeats}

    def timed(**kw) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_shine(images, Path(tmp) / "o", cfg, use_cache=False, **kw)
            return time.perf_counter() - t0

    runs = {"serial": lambda: timed(backend="serial")}
    for w in workers:
        runs[f"ray_{w}"] = (lambda w=w: timed(backend="ray", address=address, cpus_per_task=n_cpu / w))
    for name, fn in runs.items():
        secs = [fn() for _ in range(repeats)]
        out[name] = {"median_s": statistics.median(secs), "images_per_s": len(images) / statistics.median(secs),
                     "all_s": [round(s, 3) for s in secs]}
    if "ray_1" in out and f"ray_{n_cpu}" in out and n_cpu > 1:
        out["scaling_ratio"] = out["ray_1"]["median_s"] / out[f"ray_{n_cpu}"]["median_s"]
    out["cpu_count"] = os.cpu_count()
    return out
