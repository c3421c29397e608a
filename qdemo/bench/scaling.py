"""``qdemo evolve-bench scaling``: wall time and peak memory as the grid and the batch grow.

A short run per configuration (10^3, 20^3, 30^3 cells; several batch sizes); each runs in a
fresh process so the peak RSS (``resource.getrusage``) belongs to it alone; ``tracemalloc``
gives the peak of Python/numpy allocations (the archive lives there; torch tensors are not
traced).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from qdemo.errors import QdemoError
from qdemo.bench.common import env_info, md_table, set_threads


@dataclass
class ScalingConfig:
    """Options of ``qdemo evolve-bench scaling``."""

    grid_sizes: list[int] = field(default_factory=lambda: [10, 20, 30])
    """Cells per measure of the 3-D grid (n -> n^3 cells)."""
    batch_sizes: list[int] = field(default_factory=lambda: [16, 64, 256])
    """Batch sizes measured at the smallest grid."""
    batch_size: int = 32
    """Batch size of the grid-size series."""
    iterations: int = 10
    """Iterations of each short run."""
    emitter: str = "cma-me"
    """Emitter of every run."""
    renderer: str = "pixels"
    """Renderer of every run."""
    searcher: str = "searcher"
    """Searcher model spec ('tiny' for a smoke test)."""
    critic: str = "none"
    """Critic spec for the runs ('none' isolates the search and the archive)."""
    device: str = "cpu"
    """Device of the runs."""
    threads: Optional[int] = None
    """torch threads in each run (None: torch's default)."""
    tracemalloc: bool = True
    """Trace Python/numpy allocations (slows pure-Python parts a little)."""
    isolate: bool = True
    """Run each configuration in a fresh process, so its peak RSS is its own (False: in
    this process, one after another; the peak RSS is then cumulative)."""


def scaling_task(cfg_dict: dict[str, Any], run_dir: str, device: str, threads: Optional[int],
                 trace: bool, isolate: bool = True) -> dict[str, Any]:
    """Run one short evolve in a fresh Python process; its wall time and memory peaks."""
    if not isolate:
        return _scaling_child(cfg_dict, run_dir, device, threads, trace)
    import subprocess
    import sys
    import tempfile

    from qdemo.io import atomic_write_json

    with tempfile.TemporaryDirectory(prefix="qdemo-scaling-") as tmp:
        spec, result = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        atomic_write_json(spec, {"cfg": cfg_dict, "run_dir": run_dir, "device": device, "threads": threads,
                                 "trace": trace, "result": str(result)})
        proc = subprocess.run([sys.executable, "-m", "qdemo.bench.scaling", "scaling-child", str(spec)],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not result.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise QdemoError(f"scaling run {Path(run_dir).name} failed (exit {proc.returncode}): " + " | ".join(tail))
        return json.loads(result.read_text(encoding="utf-8"))


def _rss_mb() -> float:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return float("nan")


def _warm_up(cfg: Any, device: str) -> float:
    """A 2-iteration run on a 2x2x2 grid: compiles pyribs' numba kernels (~10 s once per
    process) and fills torch's caches, so the measured run is steady state. Its seconds."""
    import copy
    import tempfile

    from qdemo.runfolder.runner import run_evolve

    warm = copy.deepcopy(cfg)
    warm.iterations, warm.grid.cells, warm.critic, warm.save_elite_images = 2, [2, 2, 2], "none", False
    warm.checkpoint_every = 2
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qdemo-warm-") as tmp:
        run_evolve(warm, device=device, out_dir=Path(tmp) / "warm", progress=False)
    return time.perf_counter() - t0


def _scaling_child(cfg_dict: dict[str, Any], run_dir: str, device: str, threads: Optional[int],
                   trace: bool) -> dict[str, Any]:
    """One measured run in this process (after a warm-up): wall and CPU time, memory peaks."""
    import tracemalloc

    set_threads(threads)
    from qdemo.config import from_dict
    from qdemo.qd.config import EvolveConfig
    from qdemo.qd.build import build_search
    from qdemo.runfolder.runner import run_evolve

    out = Path(run_dir)
    if out.exists():
        shutil.rmtree(out)
    cfg = from_dict(EvolveConfig, cfg_dict, "evolve-bench scaling")
    t_warm = _warm_up(cfg, device)
    search = build_search(cfg, device=device)  # models and renderer load here
    rss_start = _current_rss_mb()
    if trace:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_evolve(cfg, search=search, out_dir=out, progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    if trace:
        tracemalloc.stop()
    m = result.metrics
    n_cells = 1
    for c in cfg.grid.cells[: cfg.grid.measure_dim]:
        n_cells *= int(c)
    return {
        "cells": n_cells,
        "batch_size": cfg.batch_size,
        "iterations": cfg.iterations,
        "wall_s": wall,
        "s_per_iteration": wall / max(1, cfg.iterations),
        "warmup_s": t_warm,
        "tracemalloc_peak_mb": traced,
        "rss_after_load_mb": rss_start,
        "rss_peak_mb": _rss_mb(),
        "rss_growth_mb": _rss_mb() - rss_start,
        "cpu_s": cpu,
        "elites": int(round(float(m.get("coverage") or 0.0) * n_cells)),
        "coverage": m.get("coverage"),
    }


def bench_scaling(cfg: ScalingConfig, *, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Short runs over the grid sizes (batch fixed) and the batch sizes (smallest grid)."""
    from qdemo.config import load_config, to_dict
    from qdemo.parallel import run_tasks
    from qdemo.qd.config import EMITTERS, EvolveConfig

    if cfg.emitter not in EMITTERS:
        raise QdemoError(f"--emitter {cfg.emitter!r}: unknown; valid emitters: {', '.join(EMITTERS)}")
    if not cfg.grid_sizes or any(g < 1 for g in cfg.grid_sizes) or any(b < 1 for b in cfg.batch_sizes):
        raise QdemoError("--grid-sizes / --batch-sizes: give positive integers")
    base = {"iterations": cfg.iterations, "searcher": cfg.searcher, "critic": cfg.critic, "device": cfg.device,
            "renderer.name": cfg.renderer, "emitter.name": cfg.emitter, "checkpoint_every": max(1, cfg.iterations),
            "grid.name": "vad"}
    tasks: dict[str, tuple] = {}
    series: dict[str, str] = {}
    for g in cfg.grid_sizes:
        ev = load_config(EvolveConfig, None, dict(base, **{"grid.cells": [g, g, g], "batch_size": cfg.batch_size}))
        ev.validate()
        key = f"grid{g}-b{cfg.batch_size}"
        tasks[key] = (to_dict(ev), str(out_dir / "runs" / key), cfg.device, cfg.threads, cfg.tracemalloc,
                      cfg.isolate)
        series[key] = "grid"
    g0 = min(cfg.grid_sizes)
    for b in cfg.batch_sizes:
        key = f"grid{g0}-b{b}"
        ev = load_config(EvolveConfig, None, dict(base, **{"grid.cells": [g0, g0, g0], "batch_size": b}))
        ev.validate()
        tasks.setdefault(key, (to_dict(ev), str(out_dir / "runs" / key), cfg.device, cfg.threads, cfg.tracemalloc,
                               cfg.isolate))
        series[key] = "grid+batch" if series.get(key) == "grid" else "batch"
    t0 = time.perf_counter()
    results = run_tasks(scaling_task, tasks, cache_dir=out_dir / "cache", backend="serial", desc="scaling runs")
    rows = []
    for key, r in results.items():
        rows.append(dict(r, key=key, series=series[key]))
    return {"mode": "scaling", "config": asdict(cfg), "env": env_info(cfg.device), "rows": rows,
            "wall_s": time.perf_counter() - t0}


def scaling_markdown(res: dict[str, Any]) -> str:
    """The benchmark as a Markdown section: a table per series (grid size, batch size)."""
    cfg = res["config"]
    header = ["cells", "batch", "iterations", "wall s", "s / iteration", "elites", "tracemalloc peak MB",
              "RSS after load MB", "peak RSS MB", "RSS growth MB"]

    def row(r: dict[str, Any]) -> list[Any]:
        return [str(r["cells"]), str(r["batch_size"]), str(r["iterations"]), r["wall_s"], r["s_per_iteration"],
                str(r["elites"]), r["tracemalloc_peak_mb"], r["rss_after_load_mb"], r["rss_peak_mb"],
                r["rss_growth_mb"]]

    grid_rows = sorted((r for r in res["rows"] if "grid" in r["series"].split("+")), key=lambda r: r["cells"])
    batch_rows = sorted((r for r in res["rows"] if "batch" in r["series"].split("+")), key=lambda r: r["batch_size"])
    return "\n".join([
        f"### Scaling — emitter `{cfg['emitter']}`, renderer `{cfg['renderer']}`, searcher `{cfg['searcher']}`, "
        f"critic `{cfg['critic']}`, {cfg['iterations']} iterations per run, device {res['env']['device']}, "
        f"{'each run in a fresh process' if cfg.get('isolate', True) else 'all runs in one process'} "
        f"after a 2-iteration warm-up (pyribs' numba JIT); tracemalloc "
        f"{'on' if cfg['tracemalloc'] else 'off'}. RSS growth = peak RSS - RSS after the models loaded.",
        "",
        "Grid size (batch fixed):",
        "",
        md_table(header, [row(r) for r in grid_rows]),
        "",
        "Batch size (smallest grid):",
        "",
        md_table(header, [row(r) for r in batch_rows]),
    ])



if __name__ == "__main__":  # the fresh process of one scaling run
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "scaling-child":
        from qdemo.io import atomic_write_json

        _spec = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
        _res = _scaling_child(_spec["cfg"], _spec["run_dir"], _spec["device"], _spec["threads"], _spec["trace"])
        atomic_write_json(_spec["result"], _res)
    else:
        raise SystemExit("usage: python -m qdemo.bench.scaling scaling-child SPEC.json (internal)")
