"""The tasks of ``qdemo evolve-bench qd``: one evolve run, and the reference photos' coverage.

Each is a Ray task (:func:`qdemo.parallel.run_tasks`) whose result is cached on disk.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Sequence

from qdemo.errors import QdemoError
from qdemo.bench.common import set_threads
from qdemo.measure_space import MeasureSpace
from qdemo.runfolder.reader import read_history, read_run
from qdemo.runfolder.schema import CHECKPOINT


def va_coverage_of_run(run_dir: Path, cells: Sequence[int], ranges: Sequence[Sequence[float]]) -> float:
    """Fraction of the run's valence x arousal cells holding at least one elite (any dominance)."""
    run = read_run(run_dir)
    if not run.n:
        return 0.0
    va = MeasureSpace.grid(ranges[:2], cells[:2])
    if run.grid.name in ("vad", "va") and list(run.grid.cells[:2]) == list(va.cells):  # the elites' own cells
        filled = {tuple(c[:2]) for c in run.coords}
    else:  # CVT (or another grid): bin the measures on the V-A grid
        filled = set(map(tuple, va.grid_coords(va.clip(list(zip(run.columns["valence"], run.columns["arousal"]))))
                         .tolist()))
    return len(filled) / float(va.size)


def at_budget(run_dir: Path, budget: int) -> dict[str, float]:
    """The run's normalised QD score and coverage at the last iteration whose evaluations
    (gradient evaluations included) do not exceed ``budget``: the equal-budget comparison.
    Empty when the run folder has no metrics.csv."""
    history = read_history(run_dir, missing_ok=True)
    if history is None:
        return {}
    within = [i for i, e in enumerate(history["evaluations"]) if e <= budget]
    if not within:
        return {"qd_score_normalised_at_budget": 0.0, "coverage_at_budget": 0.0, "evaluations_at_budget": 0.0}
    last = within[-1]
    return {"qd_score_normalised_at_budget": float(history["qd_score_normalised"][last]),
            "coverage_at_budget": float(history["coverage"][last]),
            "evaluations_at_budget": float(history["evaluations"][last])}


def qd_run_task(cfg_dict: dict[str, Any], run_dir: str, device: str, threads: int) -> dict[str, Any]:
    """One benchmark run (a Ray task): evolve with ``cfg_dict``, return its metrics."""
    set_threads(threads)
    from qdemo.config import from_dict
    from qdemo.qd.config import EvolveConfig
    from qdemo.runfolder.runner import run_evolve

    out = Path(run_dir)
    cfg = from_dict(EvolveConfig, cfg_dict, "evolve-bench qd")
    t0, c0 = time.perf_counter(), time.process_time()
    result = None
    if (out / CHECKPOINT).exists():  # interrupted before its result was cached: continue it
        try:
            result = run_evolve(cfg, device=device, out_dir=out, progress=False, resume=True)
        except QdemoError:
            result = None  # unusable checkpoint: start the run again below
    if result is None:
        if out.exists():
            shutil.rmtree(out)
        result = run_evolve(cfg, device=device, out_dir=out, progress=False)
    wall = time.perf_counter() - t0
    metrics = {k: (float(v) if isinstance(v, (int, float)) and v is not None else v)
               for k, v in dict(result.metrics).items()}
    metrics["va_coverage"] = va_coverage_of_run(Path(result.out_dir), cfg.grid.cells, cfg.grid.ranges)
    metrics.update(at_budget(Path(result.out_dir), cfg.iterations * cfg.batch_size))
    metrics["wall_s"] = wall
    metrics["cpu_s"] = time.process_time() - c0  # this process, all threads
    return metrics


def qd_reference_task(dataset: str, max_images: int, searcher: str, device: str, threads: int,
                      cells: list[int], ranges: list[list[float]], resolution: int) -> dict[str, Any]:
    """Score the reference photos with the searcher; coverage of the VA and VAD grids. For a
    rated set also the VA coverage of the photos' human ratings (valence and arousal are
    human-rated): how much of the grid real pictures occupy by people's judgement."""
    set_threads(threads)
    import numpy as np

    from qdemo.device import resolve_device
    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.qd.config import DatasetConfig, ObjectiveConfig
    from qdemo.qd.reference import reference_set, score_reference
    from qdemo.qd.scoring import Scorer
    from qdemo.render.base import Renderer

    dev = resolve_device(device)
    model = load_emotion_model(searcher, role="searcher", device=dev)
    files, ratings = reference_set(DatasetConfig(path=dataset, max_images=max_images), seed=0)

    class _NoRender(Renderer):  # the scorer needs a renderer; photos are scored as images
        name, solution_dim = "none", 1

        def __init__(self) -> None:
            super().__init__()
            self.resolution = resolution

    n = min(len(cells), len(ranges), 3)
    vad_space = MeasureSpace.grid(ranges[:n], cells[:n])
    scorer = Scorer(_NoRender(), model, objective=ObjectiveConfig(), space=vad_space, chunk=32)
    # photos go to the searcher at its own input size, as `qdemo evolve` scores them
    ref = score_reference(files, scorer, resolution=max(int(model.resolution), 32), ratings=ratings)
    vad = ref.vad  # (N, 3)
    human_cov, n_rated = _human_va_coverage(ref.human, cells, ranges)
    va_space = MeasureSpace.grid(ranges[:2], cells[:2])
    vad_cov = vad_space.coverage(vad_space.measures(vad=vad))[1] if vad_space.ndim == 3 else None
    return {
        "n_photos": int(len(vad)),
        "skipped": len(ref.skipped),
        "va_coverage": va_space.coverage(va_space.measures(vad=vad))[1],
        "vad_coverage": vad_cov,
        "vad_mean": vad.mean(axis=0).tolist(),
        "vad_sd": vad.std(axis=0).tolist(),
        "human_va_coverage": human_cov,
        "n_rated": n_rated,
    }


def _human_va_coverage(human: Any, cells: list[int], ranges: list[list[float]]) -> tuple[Any, int]:
    """VA coverage of the photos' human ratings (N, 3) and how many have both V and A rated;
    (None, 0) for an unrated set."""
    import numpy as np

    if human is None:
        return None, 0
    rated = np.isfinite(human[:, :2]).all(axis=1)
    n_rated = int(rated.sum())
    if not n_rated:
        return None, 0
    va = MeasureSpace.grid(ranges[:2], cells[:2])
    return va.coverage(va.clip(human[rated, :2]))[1], n_rated
