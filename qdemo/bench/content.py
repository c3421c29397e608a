"""``qdemo evolve-bench content``: the image statistics of real rated images, and of renders.

Measures what :mod:`qdemo.qd.content` needs and checks that its score separates content from
flat fields and noise:

1. each statistic's 2nd-98th percentile over the rated sets (all of them together, and per
   set): the numbers :data:`qdemo.qd.content.CONTENT_RANGES` holds;
2. the content score of random solutions of each renderer, of near-uniform fields and of
   pixel noise (the explorer's starting points and the two degenerate images).

    qdemo evolve-bench content --datasets ../shared/datasets/oasis,../shared/datasets/bass
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from qdemo.bench.common import env_info, fmt, md_table, set_threads


@dataclass
class ContentConfig:
    """Options of ``qdemo evolve-bench content``."""

    datasets: list[str] = field(default_factory=lambda: [
        "../shared/datasets/oasis", "../shared/datasets/emotion6", "../shared/datasets/bass"])
    """Rated sets (folders in any format qdemo reads) whose statistics define the range."""
    renderers: list[str] = field(default_factory=lambda: ["shapes", "cppn", "fourier", "pixels"])
    """Renderers whose random solutions are scored."""
    samples: int = 256
    """Random solutions per renderer (and flat / noise images)."""
    resolution: int = 128
    """Render resolution."""
    sigma: float = 0.5
    """Spread of the random solutions around each renderer's initial solution (the emitters' sigma0)."""
    low: float = 2.0
    """Lower percentile of the range."""
    high: float = 98.0
    """Upper percentile of the range."""
    seed: int = 0
    """Seed of the random solutions."""
    threads: Optional[int] = None
    """torch CPU threads (None: torch's default)."""


def _score_summary(scores) -> dict[str, float]:
    import numpy as np

    s = np.asarray(scores, dtype=np.float64)
    return {"mean": float(s.mean()), "median": float(np.median(s)), "above_half": float((s > 0.5).mean())}


def _degenerate(n: int, res: int, seed: int) -> dict[str, Any]:
    """Near-uniform colour fields (grey sd < 0.05) and uniform pixel noise."""
    import torch

    g = torch.Generator().manual_seed(seed)
    flat = torch.rand(n, 3, 1, 1, generator=g) + 0.03 * torch.randn(n, 3, res, res, generator=g)
    noise = torch.rand(n, 3, res, res, generator=g)
    return {"flat": flat.clamp(0, 1), "noise": noise}


def _renders(cfg: ContentConfig) -> dict[str, Any]:
    import numpy as np
    import torch

    from qdemo.render.base import make_renderer

    out: dict[str, Any] = {}
    rng = np.random.default_rng(cfg.seed)
    for name in cfg.renderers:
        r = make_renderer(name, resolution=cfg.resolution, seed=cfg.seed)
        x0 = r.initial_solution()
        sols = x0[None] + cfg.sigma * rng.standard_normal((cfg.samples, x0.size))
        with torch.no_grad():
            out[name] = r(torch.as_tensor(sols, dtype=torch.float32)).clamp(0, 1)
    return out


def bench_content(cfg: ContentConfig, *, progress: bool = True) -> dict[str, Any]:
    """Ranges over the rated sets; content scores of rated images, renders, flat fields and noise."""
    import torch

    from qdemo.emotion.datasets.dispatch import load_dataset
    from qdemo.qd.content import content_score, is_near_uniform, measure_content_ranges

    set_threads(cfg.threads)
    sets = {}
    for path in cfg.datasets:
        rs = load_dataset(path)
        sets[rs.name] = [str(p) for p in rs.paths]
    everything = [p for paths in sets.values() for p in paths]
    measured = measure_content_ranges(everything, low=cfg.low, high=cfg.high, progress=progress)
    per_set = {name: measure_content_ranges(paths, low=cfg.low, high=cfg.high, progress=False)
               for name, paths in sets.items()}
    ranges = {k: measured[k] for k in ("log_contrast", "log_edges", "slope")}
    images = {**_renders(cfg), **_degenerate(cfg.samples, cfg.resolution, cfg.seed)}
    scores = {}
    for name, x in images.items():
        scores[name] = {**_score_summary(content_score(x, ranges).numpy()),
                        "near_uniform": float(is_near_uniform(x).float().mean())}
    return {"config": asdict(cfg), "env": env_info(torch.device("cpu")), "ranges": measured, "per_set": per_set,
            "scores": scores}


def content_markdown(res: dict[str, Any]) -> str:
    """Tables: the ranges (all sets and per set), then the content score of each kind of image."""
    stats = ("log_contrast", "log_edges", "slope")
    lo, hi = res["ranges"]["percentiles"]
    rows = [["all rated", res["ranges"]["n"]] + [f"{fmt(res['ranges'][k][0])} .. {fmt(res['ranges'][k][1])}"
                                                   for k in stats]]
    rows += [[name, m["n"]] + [f"{fmt(m[k][0])} .. {fmt(m[k][1])}" for k in stats]
             for name, m in res["per_set"].items()]
    out = [f"## Image statistics of the rated images ({lo:g}th-{hi:g}th percentile, 64 px grey)", "",
           md_table(["set", "images", *stats], rows), "",
           "## Content score (1 inside the range of every statistic, -> 0 outside)", "",
           md_table(["images", "mean", "median", "share > 0.5", "near-uniform (grey sd < 0.05)"],
                    [[name, fmt(s["mean"], 3), fmt(s["median"], 3), fmt(s["above_half"]), fmt(s["near_uniform"])]
                     for name, s in res["scores"].items()])]
    return "\n".join(out)


__all__ = ["ContentConfig", "bench_content", "content_markdown"]
