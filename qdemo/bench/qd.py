"""``qdemo evolve-bench qd``: emitters x seeds at a fixed evaluation budget on one renderer.

Each run is a Ray task via :func:`qdemo.parallel.run_tasks` (cached per task, so an
interrupted benchmark resumes; ``--ray-address`` joins a cluster). Normalised QD score and
coverage mean +- sd, the ratios best/random and best/map-elites, VA-grid coverage against
the coverage of real photos scored by the same searcher, and the critic-confirmed fractions.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from qdemo.errors import QdemoError
from qdemo.bench.common import TARGETS, cache_key, env_info, md_table, mean_sd
from qdemo.bench.qd_tasks import at_budget, qd_reference_task, qd_run_task

QD_EMITTERS = ("random", "map-elites", "cma-me", "cma-mae", "cma-mega", "cma-maega")
"""Emitters compared by the qd benchmark by default (random sampling is the baseline)."""


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


def _check(cfg: QDBenchConfig) -> None:
    """Raise QdemoError for emitters, renderer, seeds or budget no benchmark can use."""
    from qdemo.qd.config import EMITTERS
    from qdemo.render.base import RENDERERS

    unknown = [e for e in cfg.emitters if e not in EMITTERS]
    if unknown:
        raise QdemoError(f"--emitters: unknown {', '.join(unknown)}; valid emitters: {', '.join(EMITTERS)}")
    if cfg.renderer not in RENDERERS:
        raise QdemoError(f"--renderer {cfg.renderer!r}: unknown renderer; valid renderers: {', '.join(sorted(RENDERERS))}")
    if cfg.seeds < 1 or cfg.budget < cfg.batch_size:
        raise QdemoError(f"--seeds {cfg.seeds} / --budget {cfg.budget}: need >= 1 seed and a budget of "
                         f"at least one batch ({cfg.batch_size})")
    if cfg.first_seed < 0:
        raise QdemoError(f"--first-seed {cfg.first_seed}: must be >= 0")


def run_configs(cfg: QDBenchConfig) -> dict[str, tuple[str, Any]]:
    """``cache key -> ("<emitter>-s<seed>", EvolveConfig)`` of every run of the grid; the
    key fingerprints the run's config, so other settings never reuse old results."""
    from qdemo.config import load_config, parse_override, to_dict
    from qdemo.qd.config import EvolveConfig

    iterations = cfg.budget // cfg.batch_size
    base = {
        "iterations": iterations, "batch_size": cfg.batch_size, "searcher": cfg.searcher,
        "critic": cfg.critic, "device": cfg.device, "renderer.name": cfg.renderer,
        "checkpoint_every": max(1, iterations // 4), "save_elite_images": False,
    }
    user = dict(parse_override(o) for o in cfg.overrides)  # applied to every run; they win
    out: dict[str, tuple[str, Any]] = {}
    for emitter in cfg.emitters:
        for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
            ev = load_config(EvolveConfig, None, {**base, "seed": seed, "emitter.name": emitter, **user})
            ev.validate()
            name = f"{ev.emitter.name}-s{ev.seed}"
            out[cache_key(name, [to_dict(ev), cfg.device])] = (name, ev)
    return out


def bench_qd(cfg: QDBenchConfig, *, out_dir: Path, progress: bool = True) -> dict[str, Any]:
    """Run the emitter x seed grid (cached Ray tasks) and summarise."""
    from qdemo.config import to_dict
    from qdemo.parallel import run_tasks

    _check(cfg)
    runs = run_configs(cfg)
    runs_dir = out_dir / "runs"
    tasks = {key: (to_dict(ev), str(runs_dir / key), cfg.device, cfg.threads) for key, (_, ev) in runs.items()}
    any_cfg = next(iter(runs.values()))[1]
    cells = list(any_cfg.grid.cells[:3])
    ranges = [list(map(float, r)) for r in any_cfg.grid.ranges[:3]]
    ray = {"cache_dir": out_dir / "cache", "address": cfg.ray_address, "num_cpus": cfg.num_cpus, "backend": cfg.backend}
    t0 = time.perf_counter()
    results = run_tasks(qd_run_task, tasks, cpus_per_task=1.0, desc="qd runs", **ray)
    for key, res in results.items():  # results cached before the equal-budget figures existed
        if "qd_score_normalised_at_budget" not in res:
            ev = runs[key][1]
            res.update(at_budget(runs_dir / key, ev.iterations * ev.batch_size))
    results = {runs[k][0]: v for k, v in results.items()}
    reference = None
    if cfg.dataset:
        ref_args = (cfg.dataset, cfg.dataset_max_images, cfg.searcher, cfg.device, cfg.threads,
                    cells, ranges, any_cfg.renderer.resolution)
        ref_key = cache_key("reference", [str(Path(cfg.dataset).resolve()), *ref_args[1:], "human-coverage"])
        reference = run_tasks(qd_reference_task, {ref_key: ref_args}, desc="reference", **ray)[ref_key]
    return summarise_qd(cfg, results, reference=reference, iterations=cfg.budget // cfg.batch_size, cells=cells,
                        grid_name=any_cfg.grid.name, wall_s=time.perf_counter() - t0, renderer=cfg.renderer)


METRIC_KEYS = ("qd_score_normalised", "coverage", "va_coverage", "best", "qd_score", "evaluations",
               "critic_confirmed", "critic_within_one_cell", "wall_s", "cpu_s",
               "qd_score_normalised_at_budget", "coverage_at_budget")


def _per_emitter(cfg: QDBenchConfig, results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``emitter -> metric -> {mean, sd, values}`` over the seeds."""
    per_emitter: dict[str, dict[str, Any]] = {}
    for emitter in cfg.emitters:
        runs = [results[f"{emitter}-s{s}"] for s in range(cfg.first_seed, cfg.first_seed + cfg.seeds)]
        stats = {}
        for key in METRIC_KEYS:
            vals = [r.get(key) for r in runs]
            vals = [float(v) for v in vals if isinstance(v, (int, float))]
            m, sd = mean_sd(vals)
            stats[key] = {"mean": m, "sd": sd, "values": vals}
        per_emitter[emitter] = stats
    return per_emitter


def summarise_qd(cfg: QDBenchConfig, results: dict[str, dict[str, Any]], *, reference: Optional[dict[str, Any]],
                 iterations: int, cells: list[int], grid_name: str, wall_s: float, renderer: str) -> dict[str, Any]:
    """The result dict of the benchmark: per-emitter statistics, the best method and its ratios."""
    per_emitter = _per_emitter(cfg, results)
    # ratios at an equal number of evaluations: the gradient emitters' extra evaluations count
    # (their runs end past the budget; their score at the budget is read from metrics.csv)
    # (all emitters at the budget, or, when some old cached run lacks it, all at their end)
    same_budget = all(len(per_emitter[e]["qd_score_normalised_at_budget"]["values"]) == cfg.seeds
                      for e in cfg.emitters)
    qkey = "qd_score_normalised_at_budget" if same_budget else "qd_score_normalised"
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
        "at_budget": same_budget,
        "compared_at": ("equal evaluations (the budget; gradient evaluations counted)" if same_budget else
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
        "config": asdict(cfg),
        "env": env_info(cfg.device),
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
    """The benchmark as a Markdown section: one row per emitter (mean ± sd over seeds) and notes."""
    cfg = res["config"]
    pe = res["per_emitter"]

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
        md_table(["emitter", f"QD score at {cfg['budget']} evaluations (normalised)", "QD score at the end",
                   "coverage %", "VA coverage %", "best objective",
                   "evaluations", "critic same cell %", "critic within one %", "wall s"], rows),
        "",
    ]
    return "\n".join(lines + _qd_notes(res))


def _qd_notes(res: dict[str, Any]) -> list[str]:
    """The sentences under the QD table: best ratios, the dataset reference, the critic, time."""
    cfg, s = res["config"], res["summary"]
    lines = []

    def r(x: Any, nd: int = 2) -> str:
        return "–" if x is None else f"{x:.{nd}f}"

    where = (f"at {cfg['budget']} evaluations (gradient evaluations counted)" if s.get("at_budget")
             else "at the end of each run (some cached runs lack the at-budget figure)")
    lines.append(f"Best method: `{s['best_method']}`; normalised QD score {where} best/random = "
                 f"{r(s['best_vs_random'])}× (target ≥ {TARGETS['qd_best_vs_random']:g}), best/map-elites = "
                 f"{r(s['best_vs_map_elites'])}× (target ≥ {TARGETS['qd_best_vs_map_elites']:g}). The other columns are at the end of each run; gradient emitters end past the "
                 f"budget by their gradient evaluations.")
    ref = res.get("reference")
    if ref:
        lines.append(f"Dataset reference: {ref['n_photos']} photos scored by the same searcher cover "
                     f"{100 * ref['va_coverage']:.1f}% of the VA grid"
                     + (f" ({100 * ref['vad_coverage']:.1f}% of the VAD grid)" if ref.get("vad_coverage") is not None else "")
                     + f"; best method / dataset VA coverage = {r(s.get('va_coverage_vs_dataset'))}× "
                     f"(target ≥ {TARGETS['va_coverage_vs_dataset']:g}).")
        if ref.get("human_va_coverage") is not None:
            lines.append(f"By their human ratings the same {ref['n_rated']} photos cover "
                         f"{100 * ref['human_va_coverage']:.1f}% of the VA grid: the searcher compresses them "
                         f"towards neutral, and a critic-confirmed elite outside the rated region has no human "
                         f"rating behind it.")
    if s.get("best_critic_within_one_cell") is not None and math.isfinite(s["best_critic_within_one_cell"]):
        lines.append(f"Critic places {100 * s['best_critic_within_one_cell']:.0f}% of the best method's elites within "
                     f"one cell (target ≥ {100 * TARGETS['critic_within_one_cell']:.0f}%), {100 * s['best_critic_confirmed']:.0f}% in the same cell.")
    lines.append(f"Total wall time {res['wall_s']:.0f} s (this invocation; cached tasks cost nothing), "
                 f"CPU time of the runs {res.get('cpu_s_total', float('nan')) / 60:.1f} min.")
    return lines
