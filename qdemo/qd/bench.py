"""``qdemo evolve-bench throughput|qd|scaling``: measured figures for the explorer.

Benchmarks are commands that print figures (medians and ratios measured in one run),
never timed tests. Each mode writes ``<out>/<mode>.json`` and ``<out>/<mode>.md`` (and
``qd.png`` for the QD comparison):

- **throughput**: end-to-end scored images/s (render -> searcher -> objective and
  measures, one batched :meth:`Scorer.score` call) against (a) the bare searcher forward
  pass on already-rendered images of the same batch size and resolution (target ratio
  >= 0.85) and (b) scoring the same solutions one at a time (target >= 20x).
- **qd**: seeds x emitters at a fixed evaluation budget on one renderer, each run a Ray
  task via :func:`qdemo.parallel.run_tasks` (cached per task, so an interrupted benchmark
  resumes; ``--ray-address`` joins a cluster). Normalised QD score and coverage mean +- sd,
  the ratios best/random and best/map-elites, VA-grid coverage against the coverage of real
  photos scored by the same searcher, and the critic-confirmed fractions.
- **scaling**: wall time and peak memory of a short run as the grid grows (10^3, 20^3,
  30^3 cells) and as the batch grows; each configuration runs in a fresh process so the
  peak RSS (``resource.getrusage``) belongs to it alone; ``tracemalloc`` gives the peak of
  Python/numpy allocations (the archive lives there; torch tensors are not traced).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from qdemo.errors import QdemoError

QD_EMITTERS = ("random", "map-elites", "cma-me", "cma-mae", "cma-mega", "cma-maega")
"""Emitters compared by the qd benchmark by default (random sampling is the baseline)."""

TARGETS = {
    "throughput_vs_forward": 0.85,
    "throughput_vs_single": 20.0,
    "qd_best_vs_random": 2.0,
    "qd_best_vs_map_elites": 1.3,
    "va_coverage_vs_dataset": 3.0,
    "critic_within_one_cell": 0.60,
}
"""Targets from the issue (ratios are >=)."""


# --------------------------------------------------------------------------- shared helpers

def _sync_for(device: Any) -> Callable[[], None]:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def _env(device: Any) -> dict[str, Any]:
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


def _load_searcher(spec: str, device: Any, role: str = "searcher"):
    from qdemo.emotion.zoo import load_emotion_model

    return load_emotion_model(spec, role=role, device=device)


def _fmt(x: Any, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _write_outputs(out_dir: Path, mode: str, result: dict[str, Any], markdown: str) -> dict[str, Path]:
    from qdemo.io import atomic_write_json, atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{mode}.json", "md": out_dir / f"{mode}.md"}
    atomic_write_json(paths["json"], result)
    atomic_write_text(paths["md"], markdown + "\n")
    return paths


def _set_threads(threads: Optional[int]) -> None:
    if threads:
        import torch

        torch.set_num_threads(int(threads))


# --------------------------------------------------------------------------- throughput

@dataclass
class ThroughputConfig:
    """Options of ``qdemo evolve-bench throughput``."""

    searcher: str = "searcher"
    """Model scored against: 'searcher' (shipped), 'critic', 'tiny' or a weights file."""
    renderer: str = "pixels"
    """Renderer that turns solutions into images."""
    resolution: int = 64
    """Rendered image side in pixels (the searcher resizes to its own input size)."""
    batch_sizes: list[int] = field(default_factory=lambda: [1, 16, 64, 256])
    """Batch sizes to measure."""
    repeats: int = 5
    """Timed repetitions per measurement (the median is reported), after one warm-up."""
    single_images: int = 8
    """How many solutions are scored one at a time (one call each) per repeat, for the
    per-image baseline."""
    grad: bool = True
    """Also time the scoring call with Jacobians (what CMA-MEGA asks for)."""
    device: str = "cpu"
    """cpu | cuda | auto."""
    threads: Optional[int] = None
    """torch CPU threads (None: torch's default)."""
    seed: int = 0
    """Seed of the renderer and of the random solutions."""


def _paired_times(fns: dict[str, Callable[[], Any]], *, repeats: int, sync: Callable[[], None]
                  ) -> dict[str, dict[str, list[float]]]:
    """Time several functions interleaved: each repeat runs every one once (in a rotating
    order), so on a shared machine they see the same contention and per-repeat ratios
    are fair. Returns ``name -> {"wall": [...], "cpu": [...]}`` (seconds; CPU = this
    process, all threads). One untimed warm-up call of each first."""
    for fn in fns.values():
        fn()
    sync()
    names = list(fns)
    out: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in names}
    for r in range(max(1, repeats)):
        order = names[r % len(names):] + names[: r % len(names)]
        for n in order:
            t0, c0 = time.perf_counter(), time.process_time()
            fns[n]()
            sync()
            out[n]["wall"].append(time.perf_counter() - t0)
            out[n]["cpu"].append(time.process_time() - c0)
    return out


def _median_ratio(num: list[float], den: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(num, den) if b > 0)


def bench_throughput(cfg: ThroughputConfig, *, progress: bool = True) -> dict[str, Any]:
    """Measure scored images/s; returns the result dict (see module docstring).

    For every batch size B, each repeat times (interleaved): the bare searcher forward on
    B rendered images, the end-to-end scoring call on B solutions, optionally the call with
    Jacobians, and ``single_images`` solutions scored one call each. Images/s are medians
    over repeats; ratios are medians of the per-repeat ratios (paired, so a busy machine
    slows both sides alike). CPU-time ratios are given too: they do not depend on how
    much of a shared machine the process got.
    """
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from qdemo.device import resolve_device
    from qdemo.qd.config import ObjectiveConfig
    from qdemo.qd.scoring import Scorer
    from qdemo.render import make_renderer

    _set_threads(cfg.threads)
    if not cfg.batch_sizes or any(b < 1 for b in cfg.batch_sizes):
        raise QdemoError(f"--batch-sizes {cfg.batch_sizes}: give positive integers")
    device = resolve_device(cfg.device)
    sync = _sync_for(device)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    searcher = _load_searcher(cfg.searcher, device)
    renderer = make_renderer(cfg.renderer, resolution=cfg.resolution, seed=cfg.seed).to(device).eval()
    ranges = np.asarray([[-1.0, 1.0]] * 3)
    rng = np.random.default_rng(cfg.seed)
    x0 = renderer.initial_solution()

    def solutions(n: int) -> np.ndarray:
        return x0 + 0.5 * rng.standard_normal((n, renderer.solution_dim))  # (n, dim)

    n1 = max(1, cfg.single_images)
    single_scorer = Scorer(renderer, searcher, objective=ObjectiveConfig(), ranges=ranges, chunk=1)
    sols1 = solutions(n1)

    def one_by_one() -> None:
        for i in range(n1):
            single_scorer.score(sols1[i:i + 1])

    rows = []
    singles_wall: list[float] = []
    bar = tqdm(cfg.batch_sizes, desc="throughput", disable=not progress, leave=False)
    for b in bar:
        scorer = Scorer(renderer, searcher, objective=ObjectiveConfig(), ranges=ranges, chunk=b)
        sols = solutions(b)
        images = scorer.render(sols)  # (b, 3, R, R)

        def bare() -> None:
            with torch.no_grad():
                searcher(images)

        fns: dict[str, Callable[[], Any]] = {"forward": bare, "e2e": lambda: scorer.score(sols),
                                             "single": one_by_one}
        if cfg.grad:
            fns["grad"] = lambda: scorer.score(sols, grad=True)
        t = _paired_times(fns, repeats=cfg.repeats, sync=sync)
        med = {k: statistics.median(v["wall"]) for k, v in t.items()}
        # per-image seconds of the one-at-a-time baseline, scaled to the batch: (n1 calls) -> b images
        single_b = {k: [x * b / n1 for x in t["single"][k]] for k in ("wall", "cpu")}
        singles_wall += [n1 / x for x in t["single"]["wall"]]
        row = {
            "batch": b,
            "forward_img_s": b / med["forward"],
            "end_to_end_img_s": b / med["e2e"],
            "single_img_s": n1 / med["single"],
            "ratio_vs_forward": _median_ratio(t["forward"]["wall"], t["e2e"]["wall"]),
            "ratio_vs_single": _median_ratio(single_b["wall"], t["e2e"]["wall"]),
            "cpu_ratio_vs_forward": _median_ratio(t["forward"]["cpu"], t["e2e"]["cpu"]),
            "cpu_ratio_vs_single": _median_ratio(single_b["cpu"], t["e2e"]["cpu"]),
            "forward_ms": 1e3 * med["forward"],
            "end_to_end_ms": 1e3 * med["e2e"],
            # images per CPU-second of this process: what the hardware does, however busy the machine
            "forward_img_per_cpu_s": b / max(1e-9, statistics.median(t["forward"]["cpu"])),
            "end_to_end_img_per_cpu_s": b / max(1e-9, statistics.median(t["e2e"]["cpu"])),
            "single_img_per_cpu_s": n1 / max(1e-9, statistics.median(t["single"]["cpu"])),
        }
        if cfg.grad:
            row["grad_img_s"] = b / med["grad"]
        rows.append(row)
    multi = [r for r in rows if r["batch"] > 1] or rows
    best = max(rows, key=lambda r: r["end_to_end_img_s"])
    env = _env(device)
    env["load_average_before"] = load_before
    env["load_average_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "mode": "throughput",
        "config": cfg.__dict__,
        "env": env,
        "searcher": {"name": searcher.info.name, "resolution": int(searcher.resolution)},
        "renderer": renderer.describe(),
        "rows": rows,
        "single_img_s": statistics.median(singles_wall),
        "summary": {
            "best_batch": best["batch"],
            "best_end_to_end_img_s": best["end_to_end_img_s"],
            "min_ratio_vs_forward": min(r["ratio_vs_forward"] for r in multi),
            "best_ratio_vs_single": max(r["ratio_vs_single"] for r in rows),
            "target_ratio_vs_forward": TARGETS["throughput_vs_forward"],
            "target_ratio_vs_single": TARGETS["throughput_vs_single"],
        },
    }


def throughput_markdown(res: dict[str, Any]) -> str:
    rows = res["rows"]
    header = ["batch", "searcher forward img/s", "end-to-end img/s", "e2e / forward", "e2e / one-at-a-time",
              "CPU-time e2e / forward", "CPU-time e2e / one-at-a-time"]
    if rows and "grad_img_s" in rows[0]:
        header.append("with Jacobian img/s")
    body = []
    for r in rows:
        line = [str(r["batch"]), r["forward_img_s"], r["end_to_end_img_s"], r["ratio_vs_forward"],
                r["ratio_vs_single"], r["cpu_ratio_vs_forward"], r["cpu_ratio_vs_single"]]
        if "grad_img_s" in r:
            line.append(r["grad_img_s"])
        body.append(line)
    s = res["summary"]
    env = res["env"]
    load = ""
    if env.get("load_average_before") is not None:
        load = f" Machine load average {env['load_average_before']:.1f} before, {env['load_average_after']:.1f} after."
    return "\n".join([
        f"### Throughput — searcher `{res['searcher']['name']}` ({res['searcher']['resolution']} px input), "
        f"renderer `{res['renderer']['name']}` ({res['renderer']['resolution']} px, dim {res['renderer']['solution_dim']}), "
        f"device {env['device']}{' ' + env['gpu'] if 'gpu' in env else ''}, {env['torch_threads']} torch threads",
        "",
        _md_table(header, body),
        "",
        f"One image at a time: {res['single_img_s']:.1f} img/s ({res['config']['single_images']} calls per repeat). "
        f"Images/s: medians of {res['config']['repeats']} interleaved repeats after a warm-up; ratios: medians of "
        f"the per-repeat ratios.{load}",
        f"Smallest end-to-end/forward ratio (batch > 1): {s['min_ratio_vs_forward']:.2f} "
        f"(target ≥ {s['target_ratio_vs_forward']}); best end-to-end/one-at-a-time: "
        f"{s['best_ratio_vs_single']:.1f}× (target ≥ {s['target_ratio_vs_single']:.0f}×).",
    ])


# --------------------------------------------------------------------------- qd comparison

@dataclass
class QDBenchConfig:
    """Options of ``qdemo evolve-bench qd``."""

    emitters: list[str] = field(default_factory=lambda: list(QD_EMITTERS))
    """Emitters compared (random is the baseline; map-elites the second reference)."""
    seeds: int = 5
    """Seeds per emitter (first_seed .. first_seed + seeds - 1)."""
    first_seed: int = 0
    """First seed: settings are tuned on other seeds (e.g. 100 ..) than the ones reported (0 ..)."""
    budget: int = 2048
    """Evaluations per run: iterations = budget // batch_size (CMA-MEGA's gradient
    evaluations, one per emitter per iteration, come on top and are reported)."""
    batch_size: int = 32
    """Solutions per iteration."""
    overrides: list[str] = field(default_factory=list)
    """Extra EvolveConfig overrides ``key=value`` applied to every run (e.g. grid.cells=[8,8,4])."""
    searcher: str = "searcher"
    """Searcher model spec (see ``qdemo evolve``); 'tiny' for a smoke test."""
    critic: str = "critic"
    """Critic model spec, or 'none' to skip confirmation."""
    renderer: str = "pixels"
    """The one renderer every method uses."""
    dataset: Optional[str] = None
    """Photos for the reference coverage (e.g. ../shared/datasets/oasis); None: skipped."""
    dataset_max_images: int = 400
    """At most this many reference photos (seeded subset)."""
    device: str = "cpu"
    """Device of each run (cpu here; cuda when there is one)."""
    threads: int = 1
    """torch threads inside each Ray task (tasks run side by side, one per core)."""
    ray_address: Optional[str] = None
    """Join this Ray cluster; None: start Ray locally with this machine's cores."""
    backend: str = "ray"
    """'ray' or 'serial' (in-process, for debugging)."""
    num_cpus: Optional[int] = None
    """Local Ray: CPUs to use (None: all)."""


def _va_coverage_of_cells(cells_v: Sequence[int], cells_a: Sequence[int], nv: int, na: int) -> float:
    pairs = {(int(v), int(a)) for v, a in zip(cells_v, cells_a)}
    return len(pairs) / float(nv * na)


def _cells_of(values: Sequence[float], lo: float, hi: float, n: int) -> list[int]:
    out = []
    for x in values:
        i = int(math.floor((float(x) - lo) / (hi - lo) * n))
        out.append(min(n - 1, max(0, i)))
    return out


def _va_coverage_of_run(run_dir: Path, cells: Sequence[int], ranges: Sequence[Sequence[float]]) -> float:
    """Fraction of the run's valence x arousal cells holding at least one elite (any dominance)."""
    path = run_dir / "archive.csv"
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return 0.0
    nv, na = int(cells[0]), int(cells[1])
    if "cell_v" in rows[0] and "cell_a" in rows[0] and rows[0]["cell_v"] != "":
        cv = [int(float(r["cell_v"])) for r in rows]
        ca = [int(float(r["cell_a"])) for r in rows]
    else:  # CVT: bin the measures on the V-A grid
        cv = _cells_of([r["valence"] for r in rows], *ranges[0], nv)
        ca = _cells_of([r["arousal"] for r in rows], *ranges[1], na)
    return _va_coverage_of_cells(cv, ca, nv, na)


def _at_budget(run_dir: Path, budget: int) -> dict[str, float]:
    """The run's normalised QD score and coverage at the last iteration whose evaluations
    (gradient evaluations included) do not exceed ``budget``: the equal-budget comparison.
    Empty when the run folder has no metrics.csv."""
    path = run_dir / "metrics.csv"
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.DictReader(f) if float(r["evaluations"]) <= budget]
    if not rows:
        return {"qd_score_normalised_at_budget": 0.0, "coverage_at_budget": 0.0, "evaluations_at_budget": 0.0}
    last = rows[-1]
    return {"qd_score_normalised_at_budget": float(last["qd_score_normalised"]),
            "coverage_at_budget": float(last["coverage"]), "evaluations_at_budget": float(last["evaluations"])}


def qd_run_task(cfg_dict: dict[str, Any], run_dir: str, device: str, threads: int) -> dict[str, Any]:
    """One benchmark run (a Ray task): evolve with ``cfg_dict``, return its metrics."""
    _set_threads(threads)
    from qdemo.config import from_dict
    from qdemo.qd.config import EvolveConfig
    from qdemo.qd.explorer import Explorer

    out = Path(run_dir)
    cfg = from_dict(EvolveConfig, cfg_dict, "evolve-bench qd")
    t0, c0 = time.perf_counter(), time.process_time()
    result = None
    if (out / "checkpoint").exists():  # interrupted before its result was cached: continue it
        try:
            result = Explorer(cfg, device=device).run(out_dir=out, progress=False, resume=True)
        except QdemoError:
            result = None  # unusable checkpoint: start the run again below
    if result is None:
        if out.exists():
            shutil.rmtree(out)
        result = Explorer(cfg, device=device).run(out_dir=out, progress=False)
    wall = time.perf_counter() - t0
    metrics = {k: (float(v) if isinstance(v, (int, float)) and v is not None else v)
               for k, v in dict(result.metrics).items()}
    metrics["va_coverage"] = _va_coverage_of_run(Path(result.out_dir), cfg.grid.cells, cfg.grid.ranges)
    metrics.update(_at_budget(Path(result.out_dir), cfg.iterations * cfg.batch_size))
    metrics["wall_s"] = wall
    metrics["cpu_s"] = time.process_time() - c0  # this process, all threads
    return metrics


def qd_reference_task(dataset: str, max_images: int, searcher: str, device: str, threads: int,
                      cells: list[int], ranges: list[list[float]], resolution: int) -> dict[str, Any]:
    """Score the reference photos with the searcher; coverage of the VA and VAD grids. For a
    rated set also the VA coverage of the photos' human ratings (valence and arousal are
    human-rated): how much of the grid real pictures occupy by people's judgement."""
    _set_threads(threads)
    import numpy as np

    from qdemo.device import resolve_device
    from qdemo.qd.config import DatasetConfig, ObjectiveConfig
    from qdemo.qd.reference import reference_set, score_reference
    from qdemo.qd.scoring import Scorer
    from qdemo.render.base import Renderer

    dev = resolve_device(device)
    model = _load_searcher(searcher, dev)
    files, ratings = reference_set(DatasetConfig(path=dataset, max_images=max_images), seed=0)

    class _NoRender(Renderer):  # the scorer needs a renderer; photos are scored as images
        name, solution_dim = "none", 1

        def __init__(self) -> None:
            super().__init__()
            self.resolution = resolution

    scorer = Scorer(_NoRender(), model, objective=ObjectiveConfig(), ranges=np.asarray(ranges), chunk=32)
    # photos go to the searcher at its own input size, as `qdemo evolve` scores them
    ref = score_reference(files, scorer, resolution=max(int(model.resolution), 32), ratings=ratings)
    vad = ref.vad  # (N, 3)
    human_cov, n_rated = None, 0
    if ref.human is not None:
        rated = np.isfinite(ref.human[:, :2]).all(axis=1)
        n_rated = int(rated.sum())
        if n_rated:
            hv, ha = ref.human[rated, 0], ref.human[rated, 1]
            human_cov = _va_coverage_of_cells(_cells_of(hv, *ranges[0], cells[0]), _cells_of(ha, *ranges[1], cells[1]),
                                              cells[0], cells[1])
    cv = _cells_of(vad[:, 0], *ranges[0], cells[0])
    ca = _cells_of(vad[:, 1], *ranges[1], cells[1])
    vad_cov = None
    if len(cells) >= 3 and len(ranges) >= 3:
        cd = _cells_of(vad[:, 2], *ranges[2], cells[2])
        vad_cov = len(set(zip(cv, ca, cd))) / float(cells[0] * cells[1] * cells[2])
    return {
        "n_photos": int(len(vad)),
        "skipped": len(ref.skipped),
        "va_coverage": _va_coverage_of_cells(cv, ca, cells[0], cells[1]),
        "vad_coverage": vad_cov,
        "vad_mean": vad.mean(axis=0).tolist(),
        "vad_sd": vad.std(axis=0).tolist(),
        "human_va_coverage": human_cov,
        "n_rated": n_rated,
    }


def _mean_sd(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def bench_qd(cfg: QDBenchConfig, *, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Run the emitter x seed grid (cached Ray tasks) and summarise."""
    from qdemo.config import load_config, parse_override, to_dict
    from qdemo.parallel import run_tasks
    from qdemo.qd.config import EMITTERS, EvolveConfig

    unknown = [e for e in cfg.emitters if e not in EMITTERS]
    if unknown:
        raise QdemoError(f"--emitters: unknown {', '.join(unknown)}; valid emitters: {', '.join(EMITTERS)}")
    from qdemo.render.base import RENDERERS

    if cfg.renderer not in RENDERERS:
        raise QdemoError(f"--renderer {cfg.renderer!r}: unknown renderer; valid renderers: {', '.join(sorted(RENDERERS))}")
    if cfg.seeds < 1 or cfg.budget < cfg.batch_size:
        raise QdemoError(f"--seeds {cfg.seeds} / --budget {cfg.budget}: need >= 1 seed and a budget of "
                         f"at least one batch ({cfg.batch_size})")
    if cfg.first_seed < 0:
        raise QdemoError(f"--first-seed {cfg.first_seed}: must be >= 0")
    iterations = cfg.budget // cfg.batch_size
    base = {
        "iterations": iterations, "batch_size": cfg.batch_size, "searcher": cfg.searcher,
        "critic": cfg.critic, "device": cfg.device, "renderer.name": cfg.renderer,
        "checkpoint_every": max(1, iterations // 4), "save_elite_images": False,
    }
    runs_dir = out_dir / "runs"
    tasks: dict[str, tuple] = {}
    configs: dict[str, Any] = {}
    names: dict[str, str] = {}  # cache key -> "<emitter>-s<seed>"
    user = dict(parse_override(o) for o in cfg.overrides)  # applied to every run; they win
    for emitter in cfg.emitters:
        for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
            ev = load_config(EvolveConfig, None, {**base, "seed": seed, "emitter.name": emitter, **user})
            ev.validate()
            name = f"{ev.emitter.name}-s{ev.seed}"
            key = _cache_key(name, [to_dict(ev), cfg.device])
            names[key] = name
            configs[key] = ev
            tasks[key] = (to_dict(ev), str(runs_dir / key), cfg.device, cfg.threads)
    any_cfg = next(iter(configs.values()))
    cells = list(any_cfg.grid.cells[:3])
    ranges = [list(map(float, r)) for r in any_cfg.grid.ranges[:3]]
    ref_task = None
    if cfg.dataset:
        ref_args = (cfg.dataset, cfg.dataset_max_images, cfg.searcher, cfg.device, cfg.threads,
                    cells, ranges, any_cfg.renderer.resolution)
        ref_key = _cache_key("reference", [str(Path(cfg.dataset).resolve()), *ref_args[1:], "human-coverage"])
        ref_task = (ref_key, ref_args)

    t0 = time.perf_counter()
    results = run_tasks(qd_run_task, tasks, cache_dir=out_dir / "cache", address=cfg.ray_address,
                        num_cpus=cfg.num_cpus, backend=cfg.backend, cpus_per_task=1.0, desc="qd runs")
    for key, res in results.items():  # results cached before the equal-budget figures existed
        if "qd_score_normalised_at_budget" not in res:
            res.update(_at_budget(runs_dir / key, configs[key].iterations * configs[key].batch_size))
    results = {names[k]: v for k, v in results.items()}
    reference = None
    if ref_task is not None:
        reference = run_tasks(qd_reference_task, {ref_task[0]: ref_task[1]}, cache_dir=out_dir / "cache",
                              address=cfg.ray_address, num_cpus=cfg.num_cpus, backend=cfg.backend,
                              desc="reference")[ref_task[0]]
    wall = time.perf_counter() - t0
    return summarise_qd(cfg, results, reference=reference, iterations=iterations, cells=cells,
                        grid_name=any_cfg.grid.name, wall_s=wall, renderer=cfg.renderer)


def _cache_key(name: str, payload: Any) -> str:
    """``name`` plus a fingerprint of everything the task computes from, for the on-disk cache.

    A benchmark re-run with other settings (``--set``, another budget, dataset or model) then
    gets new cache entries instead of silently reusing results of the old settings.
    """
    import hashlib

    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return f"{name}-{hashlib.sha256(blob).hexdigest()[:10]}"


METRIC_KEYS = ("qd_score_normalised", "coverage", "va_coverage", "best", "qd_score", "evaluations",
               "critic_confirmed", "critic_within_one_cell", "wall_s", "cpu_s",
               "qd_score_normalised_at_budget", "coverage_at_budget")


def summarise_qd(cfg: QDBenchConfig, results: dict[str, dict[str, Any]], *, reference: Optional[dict[str, Any]],
                 iterations: int, cells: list[int], grid_name: str, wall_s: float, renderer: str) -> dict[str, Any]:
    per_emitter: dict[str, dict[str, Any]] = {}
    for emitter in cfg.emitters:
        runs = [results[f"{emitter}-s{s}"] for s in range(cfg.first_seed, cfg.first_seed + cfg.seeds)]
        stats = {}
        for key in METRIC_KEYS:
            vals = [r.get(key) for r in runs]
            vals = [float(v) for v in vals if isinstance(v, (int, float))]
            m, sd = _mean_sd(vals)
            stats[key] = {"mean": m, "sd": sd, "values": vals}
        per_emitter[emitter] = stats
    # ratios at an equal number of evaluations: the gradient emitters' extra evaluations count
    # (their runs end past the budget; their score at the budget is read from metrics.csv)
    # (all emitters at the budget, or, when some old cached run lacks it, all at their end)
    at_budget = all(len(per_emitter[e]["qd_score_normalised_at_budget"]["values"]) == cfg.seeds
                    for e in cfg.emitters)
    qkey = "qd_score_normalised_at_budget" if at_budget else "qd_score_normalised"
    q = {e: per_emitter[e][qkey]["mean"] for e in cfg.emitters}
    finite = {e: v for e, v in q.items() if math.isfinite(v)}
    best = max(finite, key=finite.get) if finite else None

    def ratio(a: Optional[str], b: str) -> Optional[float]:
        if a is None or b not in q or not math.isfinite(q[b]) or q[b] <= 0:
            return None
        return q[a] / q[b]

    summary: dict[str, Any] = {
        "best_method": best,
        "best_vs_random": ratio(best, "random"),
        "best_vs_map_elites": ratio(best, "map-elites"),
        "at_budget": at_budget,
        "compared_at": ("equal evaluations (the budget; gradient evaluations counted)" if at_budget else
                        "the end of each run (some cached runs lack the at-budget figure)"),
        "targets": {k: v for k, v in TARGETS.items() if not k.startswith("throughput")},
    }
    if best is not None:
        summary["best_va_coverage"] = per_emitter[best]["va_coverage"]["mean"]
        summary["best_critic_within_one_cell"] = per_emitter[best]["critic_within_one_cell"]["mean"]
        summary["best_critic_confirmed"] = per_emitter[best]["critic_confirmed"]["mean"]
    if reference is not None and best is not None:
        ref_cov = reference["va_coverage"]
        summary["dataset_va_coverage"] = ref_cov
        summary["va_coverage_vs_dataset"] = (per_emitter[best]["va_coverage"]["mean"] / ref_cov
                                             if ref_cov > 0 else None)
    return {
        "mode": "qd",
        "config": cfg.__dict__,
        "env": _env(cfg.device),
        "grid": {"name": grid_name, "cells": cells},
        "renderer": renderer,
        "iterations": iterations,
        "per_emitter": per_emitter,
        "reference": reference,
        "summary": summary,
        "wall_s": wall_s,
        "cpu_s_total": sum(float(r.get("cpu_s") or 0.0) for r in results.values()),
    }


def _seed_span(cfg: dict[str, Any]) -> str:
    first = int(cfg.get("first_seed", 0) or 0)
    return f" ({first}–{first + int(cfg['seeds']) - 1})" if first else ""


def qd_markdown(res: dict[str, Any]) -> str:
    cfg = res["config"]
    pe = res["per_emitter"]
    s = res["summary"]

    def ms(stats: dict[str, Any], scale: float = 1.0, nd: int = 2) -> str:
        m, sd = stats["mean"], stats["sd"]
        if not math.isfinite(m):
            return "–"
        return f"{m * scale:.{nd}f} ± {sd * scale:.{nd}f}"

    rows = []
    for e, st in pe.items():
        rows.append([f"`{e}`", ms(st["qd_score_normalised_at_budget"]), ms(st["qd_score_normalised"]),
                     ms(st["coverage"], 100, 1),
                     ms(st["va_coverage"], 100, 1), ms(st["best"], 1, 1), ms(st["evaluations"], 1, 0),
                     ms(st["critic_confirmed"], 100, 0), ms(st["critic_within_one_cell"], 100, 0),
                     ms(st["wall_s"], 1, 0)])
    grid = res["grid"]
    lines = [
        f"### QD efficiency — grid `{grid['name']}` {'×'.join(map(str, grid['cells']))}, renderer "
        f"`{res['renderer']}`, searcher `{cfg['searcher']}`, critic `{cfg['critic']}`, "
        f"budget {cfg['budget']} evaluations ({res['iterations']} iterations × {cfg['batch_size']}), "
        f"{cfg['seeds']} seeds{_seed_span(cfg)} (mean ± sd)",
        "",
        _md_table(["emitter", f"QD score at {cfg['budget']} evaluations (normalised)", "QD score at the end",
                   "coverage %", "VA coverage %", "best objective",
                   "evaluations", "critic same cell %", "critic within one %", "wall s"], rows),
        "",
    ]

    def r(x: Any, nd: int = 2) -> str:
        return "–" if x is None else f"{x:.{nd}f}"

    where = (f"at {cfg['budget']} evaluations (gradient evaluations counted)" if s.get("at_budget")
             else "at the end of each run (some cached runs lack the at-budget figure)")
    lines.append(f"Best method: `{s['best_method']}`; normalised QD score {where} best/random = "
                 f"{r(s['best_vs_random'])}× (target ≥ 2), best/map-elites = {r(s['best_vs_map_elites'])}× "
                 f"(target ≥ 1.3). The other columns are at the end of each run; gradient emitters end past the "
                 f"budget by their gradient evaluations.")
    ref = res.get("reference")
    if ref:
        lines.append(f"Dataset reference: {ref['n_photos']} photos scored by the same searcher cover "
                     f"{100 * ref['va_coverage']:.1f}% of the VA grid"
                     + (f" ({100 * ref['vad_coverage']:.1f}% of the VAD grid)" if ref.get("vad_coverage") is not None else "")
                     + f"; best method / dataset VA coverage = {r(s.get('va_coverage_vs_dataset'))}× "
                     f"(target ≥ 3).")
        if ref.get("human_va_coverage") is not None:
            lines.append(f"By their human ratings the same {ref['n_rated']} photos cover "
                         f"{100 * ref['human_va_coverage']:.1f}% of the VA grid: the searcher compresses them "
                         f"towards neutral, and a critic-confirmed elite outside the rated region has no human "
                         f"rating behind it.")
    if s.get("best_critic_within_one_cell") is not None and math.isfinite(s["best_critic_within_one_cell"]):
        lines.append(f"Critic places {100 * s['best_critic_within_one_cell']:.0f}% of the best method's elites within "
                     f"one cell (target ≥ 60%), {100 * s['best_critic_confirmed']:.0f}% in the same cell.")
    lines.append(f"Total wall time {res['wall_s']:.0f} s (this invocation; cached tasks cost nothing), "
                 f"CPU time of the runs {res.get('cpu_s_total', float('nan')) / 60:.1f} min.")
    return "\n".join(lines)


def qd_plot(res: dict[str, Any], path: Path) -> Path:
    """Bar chart with error bars (sd over seeds): normalised QD score and coverage per emitter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qdemo.io import atomic_path

    pe = res["per_emitter"]
    names = list(pe)
    at = bool(res["summary"].get("at_budget"))
    qkey = "qd_score_normalised_at_budget" if at else "qd_score_normalised"
    panels = [(qkey, "normalised QD score" + (" at the budget" if at else ""), 1.0), ("coverage", "coverage (%)", 100.0),
              ("va_coverage", "VA-grid coverage (%)", 100.0)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8))
    colors = plt.get_cmap("tab10").colors
    for ax, (key, label, scale) in zip(axes, panels):
        means = [pe[n][key]["mean"] * scale for n in names]
        sds = [pe[n][key]["sd"] * scale for n in names]
        ax.bar(range(len(names)), [m if math.isfinite(m) else 0 for m in means],
               yerr=[s if math.isfinite(s) else 0 for s in sds], capsize=4,
               color=[colors[i % 10] for i in range(len(names))])
        for i, n in enumerate(names):
            for v in pe[n][key]["values"]:
                ax.plot(i + 0.22, v * scale, "k.", ms=3, alpha=0.6)
        if key == "va_coverage" and res.get("reference"):
            ref = res["reference"]["va_coverage"] * scale
            ax.axhline(ref, color="#d7301f", ls="--", lw=1)
            ax.text(-0.45, ref, "real photos (same searcher)", color="#d7301f", fontsize=7, va="bottom",
                    ha="left", bbox=dict(fc="white", ec="none", alpha=0.8, pad=1))
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=25, fontsize=8)
        ax.set_title(label, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    cfg = res["config"]
    fig.suptitle(f"QD efficiency at {cfg['budget']} evaluations, {cfg['seeds']} seeds (mean ± sd; dots = seeds) — "
                 f"renderer {res['renderer']}, searcher {cfg['searcher']}", fontsize=9)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
    finally:
        plt.close(fig)
    return path


# --------------------------------------------------------------------------- scaling

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
        proc = subprocess.run([sys.executable, "-m", "qdemo.qd.bench", "scaling-child", str(spec)],
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


def _scaling_child(cfg_dict: dict[str, Any], run_dir: str, device: str, threads: Optional[int],
                   trace: bool) -> dict[str, Any]:
    import tracemalloc

    _set_threads(threads)
    from qdemo.config import from_dict
    from qdemo.qd.config import EvolveConfig
    from qdemo.qd.explorer import Explorer

    out = Path(run_dir)
    if out.exists():
        shutil.rmtree(out)
    cfg = from_dict(EvolveConfig, cfg_dict, "evolve-bench scaling")
    # Warm-up: a 2-iteration run on a 2x2x2 grid compiles pyribs' numba kernels (~10 s
    # once per process) and fills torch's caches, so the measured run is steady state.
    import copy
    import tempfile

    warm = copy.deepcopy(cfg)
    warm.iterations, warm.grid.cells, warm.critic, warm.save_elite_images = 2, [2, 2, 2], "none", False
    warm.checkpoint_every = 2
    t_warm = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qdemo-warm-") as tmp:
        Explorer(warm, device=device).run(out_dir=Path(tmp) / "warm", progress=False)
    t_warm = time.perf_counter() - t_warm
    explorer = Explorer(cfg, device=device)  # models and renderer load here
    rss_start = _current_rss_mb()
    if trace:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    result = explorer.run(out_dir=out, progress=False)
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
    return {"mode": "scaling", "config": cfg.__dict__, "env": _env(cfg.device), "rows": rows,
            "wall_s": time.perf_counter() - t0}


def scaling_markdown(res: dict[str, Any]) -> str:
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
        _md_table(header, [row(r) for r in grid_rows]),
        "",
        "Batch size (smallest grid):",
        "",
        _md_table(header, [row(r) for r in batch_rows]),
    ])


# --------------------------------------------------------------------------- CLI

def _int_list(text: str) -> list[int]:
    try:
        vals = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers, e.g. 1,16,64") from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return vals


def _str_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def register_bench(subparsers: Any) -> None:
    """Add ``qdemo evolve-bench throughput|qd|scaling|reach`` to the top-level parser."""
    p = subparsers.add_parser(
        "evolve-bench", help="measure the explorer: throughput, QD efficiency, scaling",
        description="Benchmarks of the explorer. Each prints a table and writes <out>/<mode>.json and .md.")
    modes = p.add_subparsers(dest="bench_mode", metavar="MODE")
    modes.required = True

    def common(q: argparse.ArgumentParser, out: str) -> None:
        q.add_argument("--out", default=out, help=f"output folder (default {out})")
        q.add_argument("--searcher", default="searcher", help="searcher model: searcher (shipped), critic, tiny, or a file")
        q.add_argument("--renderer", default="pixels", help="renderer name (default pixels)")
        q.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")
        q.add_argument("--no-progress", action="store_true", help="no progress bars")

    t = modes.add_parser("throughput", help="scored images/s: end-to-end vs bare forward vs one at a time")
    common(t, "archives/_bench")
    t.add_argument("--resolution", type=int, default=64)
    t.add_argument("--batch-sizes", type=_int_list, default=[1, 16, 64, 256])
    t.add_argument("--repeats", type=int, default=5)
    t.add_argument("--single-images", type=int, default=8, help="one-at-a-time calls per repeat")
    t.add_argument("--no-grad", action="store_true", help="skip timing the Jacobian call")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    t.set_defaults(func=_cmd_throughput)

    q = modes.add_parser("qd", help="emitters x seeds at a fixed evaluation budget (Ray tasks, cached)")
    common(q, "archives/_bench")
    q.add_argument("--critic", default="critic", help="critic model (or none)")
    q.add_argument("--emitters", type=_str_list, default=list(QD_EMITTERS))
    q.add_argument("--seeds", type=int, default=5)
    q.add_argument("--first-seed", type=int, default=0,
                   help="seeds first-seed .. first-seed+seeds-1 (tune settings on seeds other than the reported 0..)")
    q.add_argument("--budget", type=int, default=2048, help="evaluations per run")
    q.add_argument("--batch-size", type=int, default=32)
    q.add_argument("--dataset", default=None, help="photos for the reference coverage, e.g. ../shared/datasets/oasis")
    q.add_argument("--dataset-max-images", type=int, default=400)
    q.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="EvolveConfig override for every run (repeatable), e.g. grid.cells=[8,8,4]")
    q.add_argument("--threads", type=int, default=1, help="torch threads per task")
    q.add_argument("--ray-address", default=None, help="join this Ray cluster")
    q.add_argument("--num-cpus", type=int, default=None, help="local Ray: CPUs to use")
    q.add_argument("--serial", action="store_true", help="run in this process instead of Ray tasks")
    q.set_defaults(func=_cmd_qd)

    s = modes.add_parser("scaling", help="wall time and peak memory vs grid size and batch size")
    common(s, "archives/_bench")
    s.add_argument("--critic", default="none")
    s.add_argument("--emitter", default="cma-me")
    s.add_argument("--grid-sizes", type=_int_list, default=[10, 20, 30], help="n for n^3 cells")
    s.add_argument("--batch-sizes", type=_int_list, default=[16, 64, 256])
    s.add_argument("--batch-size", type=int, default=32, help="batch of the grid-size series")
    s.add_argument("--iterations", type=int, default=10)
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--no-tracemalloc", action="store_true")
    s.set_defaults(func=_cmd_scaling)

    r = modes.add_parser("reach", help="how much of the VA grid any image can reach: free pixels optimised "
                                       "against the searcher (an upper bound on coverage)")
    common(r, "archives/_bench")
    r.add_argument("--critic", default="none", help="model that re-reads the images (critic, tiny, file, none)")
    r.add_argument("--cells", type=_int_list, default=[10, 10], help="valence,arousal cells (default 10,10)")
    r.add_argument("--steps", type=int, default=200, help="Adam steps per image")
    r.add_argument("--lr", type=float, default=0.05)
    r.add_argument("--chunk", type=int, default=25, help="images optimised together")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--threads", type=int, default=None)
    r.set_defaults(func=_cmd_reach)


def _finish(out: Path, mode: str, res: dict[str, Any], md: str) -> int:
    paths = _write_outputs(out, mode, res, md)
    print(md)
    print(f"\nwrote {paths['json']} and {paths['md']}")
    return 0


def _cmd_throughput(args: argparse.Namespace) -> int:
    cfg = ThroughputConfig(searcher=args.searcher, renderer=args.renderer, resolution=args.resolution,
                           batch_sizes=args.batch_sizes, repeats=args.repeats, single_images=args.single_images,
                           grad=not args.no_grad, device=args.device, threads=args.threads)
    res = bench_throughput(cfg, progress=not args.no_progress)
    return _finish(Path(args.out), "throughput", res, throughput_markdown(res))


def _cmd_qd(args: argparse.Namespace) -> int:
    cfg = QDBenchConfig(emitters=args.emitters, seeds=args.seeds, first_seed=args.first_seed, budget=args.budget,
                        batch_size=args.batch_size,
                        overrides=args.overrides, searcher=args.searcher, critic=args.critic, renderer=args.renderer,
                        dataset=args.dataset, dataset_max_images=args.dataset_max_images, device=args.device,
                        threads=args.threads, ray_address=args.ray_address,
                        backend="serial" if args.serial else "ray", num_cpus=args.num_cpus)
    out = Path(args.out) / "qd"
    res = bench_qd(cfg, out_dir=out, progress=not args.no_progress)
    md = qd_markdown(res)
    png = qd_plot(res, out / "qd.png")
    rc = _finish(out, "qd", res, md)
    print(f"plot: {png}")
    return rc


def _cmd_reach(args: argparse.Namespace) -> int:
    from qdemo.qd.reach import ReachConfig, bench_reach, reach_markdown, reach_plot

    cfg = ReachConfig(searcher=args.searcher, critic=args.critic, cells=args.cells, steps=args.steps, lr=args.lr,
                      chunk=args.chunk, seed=args.seed, device=args.device, threads=args.threads)
    out = Path(args.out) / "reach"
    res = bench_reach(cfg, progress=not args.no_progress)
    png = reach_plot(res, out / "reach.png")
    rc = _finish(out, "reach", res, reach_markdown(res))
    print(f"plot: {png}")
    return rc


def _cmd_scaling(args: argparse.Namespace) -> int:
    cfg = ScalingConfig(grid_sizes=args.grid_sizes, batch_sizes=args.batch_sizes, batch_size=args.batch_size,
                        iterations=args.iterations, emitter=args.emitter, renderer=args.renderer,
                        searcher=args.searcher, critic=args.critic, device=args.device, threads=args.threads,
                        tracemalloc=not args.no_tracemalloc)
    out = Path(args.out) / "scaling"
    res = bench_scaling(cfg, out_dir=out, progress=not args.no_progress)
    return _finish(out, "scaling", res, scaling_markdown(res))


if __name__ == "__main__":  # the fresh process of one scaling run
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "scaling-child":
        from qdemo.io import atomic_write_json

        _spec = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
        _res = _scaling_child(_spec["cfg"], _spec["run_dir"], _spec["device"], _spec["threads"], _spec["trace"])
        atomic_write_json(_spec["result"], _res)
    else:
        raise SystemExit("usage: python -m qdemo.qd.bench scaling-child SPEC.json (internal)")
