"""``qdemo evolve-bench throughput``: scored images/s of the explorer's scoring call.

End-to-end scored images/s (render -> searcher -> objective and measures, one batched
:meth:`Scorer.score` call) against (a) the bare searcher forward pass on already-rendered
images of the same batch size and resolution (target ratio >= 0.85) and (b) scoring the
same solutions one at a time (target >= 20x).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from qdemo.errors import QdemoError
from qdemo.bench.common import (
    TARGETS, env_info, load_average, md_table, set_threads, sync_for,
)


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


def paired_times(fns: dict[str, Callable[[], Any]], *, repeats: int, sync: Callable[[], None]
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


def median_ratio(num: list[float], den: list[float]) -> float:
    """Median of the per-repeat ratios ``num / den``."""
    return statistics.median(a / b for a, b in zip(num, den) if b > 0)


def _row(b: int, n1: int, t: dict[str, dict[str, list[float]]], grad: bool) -> dict[str, Any]:
    """The figures of batch size ``b`` from the paired timings ``t``."""
    med = {k: statistics.median(v["wall"]) for k, v in t.items()}
    # per-image seconds of the one-at-a-time baseline, scaled to the batch: (n1 calls) -> b images
    single_b = {k: [x * b / n1 for x in t["single"][k]] for k in ("wall", "cpu")}
    cpu = {k: max(1e-9, statistics.median(t[k]["cpu"])) for k in ("forward", "e2e", "single")}
    row = {
        "batch": b,
        "forward_img_s": b / med["forward"],
        "end_to_end_img_s": b / med["e2e"],
        "single_img_s": n1 / med["single"],
        "ratio_vs_forward": median_ratio(t["forward"]["wall"], t["e2e"]["wall"]),
        "ratio_vs_single": median_ratio(single_b["wall"], t["e2e"]["wall"]),
        "cpu_ratio_vs_forward": median_ratio(t["forward"]["cpu"], t["e2e"]["cpu"]),
        "cpu_ratio_vs_single": median_ratio(single_b["cpu"], t["e2e"]["cpu"]),
        "forward_ms": 1e3 * med["forward"],
        "end_to_end_ms": 1e3 * med["e2e"],
        # images per CPU-second of this process: what the hardware does, however busy the machine
        "forward_img_per_cpu_s": b / cpu["forward"],
        "end_to_end_img_per_cpu_s": b / cpu["e2e"],
        "single_img_per_cpu_s": n1 / cpu["single"],
    }
    if grad:
        row["grad_img_s"] = b / med["grad"]
    return row


class _Bench:
    """The searcher, renderer and seeded solutions of one throughput benchmark."""

    def __init__(self, cfg: ThroughputConfig) -> None:
        import numpy as np

        from qdemo.device import resolve_device
        from qdemo.emotion.zoo import load_emotion_model
        from qdemo.measure_space import MeasureSpace
        from qdemo.render import make_renderer

        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.sync = sync_for(self.device)
        self.searcher = load_emotion_model(cfg.searcher, role="searcher", device=self.device)
        self.renderer = make_renderer(cfg.renderer, resolution=cfg.resolution, seed=cfg.seed).to(self.device).eval()
        self.space = MeasureSpace.grid([[-1.0, 1.0]] * 3, [1, 1, 1])
        self.rng = np.random.default_rng(cfg.seed)
        self.x0 = self.renderer.initial_solution()
        self.n1 = max(1, cfg.single_images)
        self.single_scorer = self.scorer(1)
        self.sols1 = self.solutions(self.n1)

    def scorer(self, chunk: int):
        from qdemo.qd.config import ObjectiveConfig
        from qdemo.qd.scoring import Scorer

        return Scorer(self.renderer, self.searcher, objective=ObjectiveConfig(), space=self.space, chunk=chunk)

    def solutions(self, n: int):
        return self.x0 + 0.5 * self.rng.standard_normal((n, self.renderer.solution_dim))  # (n, dim)

    def one_by_one(self) -> None:
        for i in range(self.n1):
            self.single_scorer.score(self.sols1[i:i + 1])

    def timings(self, b: int) -> dict[str, dict[str, list[float]]]:
        """Paired timings of batch size ``b``: bare forward, end to end, one at a time (, grad)."""
        import torch

        scorer = self.scorer(b)
        sols = self.solutions(b)
        images = scorer.render(sols)  # (b, 3, R, R)

        def bare() -> None:
            with torch.no_grad():
                self.searcher(images)

        fns: dict[str, Callable[[], Any]] = {"forward": bare, "e2e": lambda: scorer.score(sols),
                                             "single": self.one_by_one}
        if self.cfg.grad:
            fns["grad"] = lambda: scorer.score(sols, grad=True)
        return paired_times(fns, repeats=self.cfg.repeats, sync=self.sync)


def bench_throughput(cfg: ThroughputConfig, *, progress: bool = True) -> dict[str, Any]:
    """Measure scored images/s; returns the result dict (see module docstring).

    For every batch size B, each repeat times (interleaved): the bare searcher forward on
    B rendered images, the end-to-end scoring call on B solutions, optionally the call with
    Jacobians, and ``single_images`` solutions scored one call each. Images/s are medians
    over repeats; ratios are medians of the per-repeat ratios (paired, so a busy machine
    slows both sides alike). CPU-time ratios are given too: they do not depend on how
    much of a shared machine the process got.
    """
    from tqdm.auto import tqdm

    set_threads(cfg.threads)
    if not cfg.batch_sizes or any(b < 1 for b in cfg.batch_sizes):
        raise QdemoError(f"--batch-sizes {cfg.batch_sizes}: give positive integers")
    load_before = load_average()
    bench = _Bench(cfg)
    rows, singles_wall = [], []
    for b in tqdm(cfg.batch_sizes, desc="throughput", disable=not progress, leave=False):
        t = bench.timings(b)
        singles_wall += [bench.n1 / x for x in t["single"]["wall"]]
        rows.append(_row(b, bench.n1, t, cfg.grad))
    env = env_info(bench.device)
    env["load_average_before"] = load_before
    env["load_average_after"] = load_average()
    return {
        "mode": "throughput",
        "config": asdict(cfg),
        "env": env,
        "searcher": {"name": bench.searcher.info.name, "resolution": int(bench.searcher.resolution)},
        "renderer": bench.renderer.describe(),
        "rows": rows,
        "single_img_s": statistics.median(singles_wall),
        "summary": _summary(rows),
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    multi = [r for r in rows if r["batch"] > 1] or rows
    best = max(rows, key=lambda r: r["end_to_end_img_s"])
    return {
        "best_batch": best["batch"],
        "best_end_to_end_img_s": best["end_to_end_img_s"],
        "min_ratio_vs_forward": min(r["ratio_vs_forward"] for r in multi),
        "best_ratio_vs_single": max(r["ratio_vs_single"] for r in rows),
        "target_ratio_vs_forward": TARGETS["throughput_vs_forward"],
        "target_ratio_vs_single": TARGETS["throughput_vs_single"],
    }


def throughput_markdown(res: dict[str, Any]) -> str:
    """The benchmark as a Markdown section: one row per batch size and the targets."""
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
        md_table(header, body),
        "",
        f"One image at a time: {res['single_img_s']:.1f} img/s ({res['config']['single_images']} calls per repeat). "
        f"Images/s: medians of {res['config']['repeats']} interleaved repeats after a warm-up; ratios: medians of "
        f"the per-repeat ratios.{load}",
        f"Smallest end-to-end/forward ratio (batch > 1): {s['min_ratio_vs_forward']:.2f} "
        f"(target ≥ {s['target_ratio_vs_forward']}); best end-to-end/one-at-a-time: "
        f"{s['best_ratio_vs_single']:.1f}× (target ≥ {s['target_ratio_vs_single']:.0f}×).",
    ])
