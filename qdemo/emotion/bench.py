"""``qdemo regressor bench``: images per second of the searcher and critic.

For each role, resolution and batch size: one warm-up call, then ``repeats`` timed calls of
``model.predict`` on random images already at the model's resolution (so only the network
is timed) under ``torch.no_grad``; the median is reported. A second table times the
gradient w.r.t. the input (what gradient emitters pay), at one batch size.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_model(model, *, batch: int, resolution: int, repeats: int = 5, grad: bool = False,
               seed: int = 0) -> dict[str, float]:
    """Median and spread of images/s for one (batch, resolution)."""
    device = next(model.parameters()).device
    old = model.resolution
    model.resolution = resolution
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 3, resolution, resolution, generator=gen).to(device)
    times = []
    try:
        for i in range(repeats + 1):
            _sync(device)
            t = time.perf_counter()
            if grad:
                xi = x.clone().requires_grad_(True)
                model(xi).sum().backward()
            else:
                with torch.no_grad():
                    model.predict(x)
            _sync(device)
            if i:  # first call is warm-up
                times.append(time.perf_counter() - t)
    finally:
        model.resolution = old
    med = statistics.median(times)
    return {"batch": batch, "resolution": resolution, "images_per_s": batch / med, "median_s": med,
            "min_s": min(times), "max_s": max(times), "repeats": repeats}


def run_bench(models: dict[str, Any], *, batches=(1, 16, 64, 256), resolutions: dict[str, list[int]] | None = None,
              repeats: int = 5, grad_batch: int = 16, progress: bool = True) -> dict[str, Any]:
    """Time every model at every (resolution, batch); ``resolutions[role]`` defaults to its own."""
    rows = []
    for role, model in models.items():
        res_list = (resolutions or {}).get(role) or [model.resolution]
        for r in res_list:
            for b in batches:
                row = {"role": role, "model": model.info.name, "mode": "predict",
                       **time_model(model, batch=b, resolution=r, repeats=repeats)}
                rows.append(row)
                if progress:
                    print(format_row(row), flush=True)
            if grad_batch:
                row = {"role": role, "model": model.info.name, "mode": "predict+input-grad",
                       **time_model(model, batch=grad_batch, resolution=r, repeats=repeats, grad=True)}
                rows.append(row)
                if progress:
                    print(format_row(row), flush=True)
    return {"threads": torch.get_num_threads(), "rows": rows}


def format_row(row: dict) -> str:
    return (f"{row['role']:<9} {row['mode']:<18} {row['resolution']:>4} px  batch {row['batch']:>4}  "
            f"{row['images_per_s']:>9.1f} img/s  (median {row['median_s'] * 1e3:.1f} ms of {row['repeats']}, "
            f"min {row['min_s'] * 1e3:.1f}, max {row['max_s'] * 1e3:.1f})")


def format_table(result: dict) -> str:
    lines = [f"torch threads: {result['threads']}; device: {result.get('device', '?')}",
             f"{'role':<9} {'mode':<18} {'res':>6}  {'batch':>5}  {'img/s (median)':>15}"]
    for r in result["rows"]:
        lines.append(f"{r['role']:<9} {r['mode']:<18} {r['resolution']:>4}px  {r['batch']:>5}  "
                     f"{r['images_per_s']:>15.1f}")
    return "\n".join(lines)


__all__ = ["format_table", "run_bench", "time_model"]
