"""``qdemo evolve-bench reach``: how much of the valence x arousal grid can ANY image reach?

The explorer's coverage is bounded by what the searcher can be made to say. This benchmark
measures that bound without a renderer: one free image per VA cell, its pixels optimised
directly (Adam on per-pixel logits at the searcher's input resolution) to bring the
searcher's (valence, arousal) to the cell's centre. Free pixels are the most expressive
renderer there is, so the cells these images reach are an upper bound for every renderer and
emitter at that searcher (up to the optimiser finding them). The images are adversarial by
construction; the critic's reading of them is reported too, to show how much of the reached
area another model would confirm.

    qdemo evolve-bench reach --cells 10,10 --steps 200 --critic critic
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from qdemo.bench.common import env_info, set_threads
from qdemo.emotion.specs import is_none
from qdemo.errors import QdemoError
from qdemo.measure_space import MeasureSpace


@dataclass
class ReachConfig:
    """Options of ``qdemo evolve-bench reach``."""

    searcher: str = "searcher"
    """Model whose outputs are driven: 'searcher' (shipped), 'critic', 'tiny' or a weights file."""
    critic: str = "none"
    """Model that re-reads the optimised images ('critic', 'tiny', a file or 'none')."""
    cells: list[int] = field(default_factory=lambda: [10, 10])
    """Valence x arousal cells (the explorer's VA grid)."""
    ranges: list[list[float]] = field(default_factory=lambda: [[-1.0, 1.0], [-1.0, 1.0]])
    """Valence and arousal ranges of the grid."""
    steps: int = 200
    """Adam steps per image."""
    lr: float = 0.05
    """Adam learning rate on the pixel logits."""
    chunk: int = 25
    """Images optimised together (memory)."""
    seed: int = 0
    """Seed of the starting images (grey plus noise)."""
    device: str = "cpu"
    """cpu | cuda | auto."""
    threads: Optional[int] = None
    """torch CPU threads (None: torch's default)."""


def _check(cfg: ReachConfig) -> None:
    if len(cfg.cells) != 2 or min(cfg.cells) < 1:
        raise QdemoError(f"--cells {cfg.cells}: give two positive numbers (valence, arousal)")
    (vlo, vhi), (alo, ahi) = cfg.ranges
    if not (vlo < vhi and alo < ahi):
        raise QdemoError(f"ranges {cfg.ranges}: each needs low < high")
    if min(vlo, alo) < -1.0 or max(vhi, ahi) > 1.0:
        raise QdemoError(f"ranges {cfg.ranges}: must lie within [-1, 1], the scale the emotion models output")
    if cfg.steps < 1 or cfg.chunk < 1:
        raise QdemoError("steps and chunk must be at least 1")


def _optimise(model: Any, targets: Any, cfg: ReachConfig, dev: Any, progress: bool) -> tuple[Any, list[Any]]:
    """Adam on per-pixel logits, ``cfg.chunk`` images at a time, each towards its target VA.
    Returns the searcher's final VA (N, 2) and the images, chunk by chunk (n, 3, R, R), on the CPU."""
    import torch

    res = int(getattr(model, "resolution", 96))
    gen = torch.Generator().manual_seed(cfg.seed)
    finals, images = [], []
    chunks = list(range(0, len(targets), cfg.chunk))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(chunks) * cfg.steps, desc="reach", unit="step")
    for start in chunks:
        tgt = targets[start:start + cfg.chunk].to(dev)  # (n, 2)
        logits = (0.3 * torch.randn(len(tgt), 3, res, res, generator=gen)).to(dev).requires_grad_(True)
        opt = torch.optim.Adam([logits], lr=cfg.lr)
        for _ in range(cfg.steps):
            opt.zero_grad(set_to_none=True)
            va = model(torch.sigmoid(logits))[:, :2]  # (n, 2)
            loss = ((va - tgt) ** 2).sum()
            loss.backward()
            opt.step()
            if bar is not None:
                bar.update(1)
        with torch.no_grad():
            x = torch.sigmoid(logits)  # (n, 3, R, R)
            finals.append(model(x)[:, :2].cpu())
            images.append(x.cpu())
    if bar is not None:
        bar.close()
    return torch.cat(finals), images


def _critic_reading(cfg: ReachConfig, dev: Any, images: list[Any], hit: list[tuple[int, int]], cells) -> dict[str, Any]:
    """The critic's VA of the same images: its coverage and agreement with the searcher's cells."""
    import torch

    from qdemo.emotion.zoo import load_emotion_model

    nv, na = cfg.cells
    critic = load_emotion_model(cfg.critic, role="critic", device=dev)
    with torch.no_grad():
        cva = torch.cat([critic(x.to(dev))[:, :2].cpu() for x in images]).tolist()
    chit = cells(cva)
    within = MeasureSpace.within_one(chit, hit).tolist()
    return {"critic": getattr(getattr(critic, "info", None), "name", cfg.critic),
            "critic_va_coverage": len(set(chit)) / float(nv * na),
            "critic_within_one_cell": sum(within) / float(len(within)),
            "critic_valence_range": [min(v for v, _ in cva), max(v for v, _ in cva)],
            "critic_arousal_range": [min(a for _, a in cva), max(a for _, a in cva)],
            "critic_va": cva}


def bench_reach(cfg: ReachConfig, *, progress: bool = True) -> dict[str, Any]:
    """Optimise one image per VA cell; returns coverage figures and every image's VA."""
    import torch

    from qdemo.emotion.zoo import load_emotion_model

    _check(cfg)
    nv, na = cfg.cells
    space = MeasureSpace.grid(cfg.ranges, cfg.cells)

    def cells(points: list[list[float]]) -> list[tuple[int, int]]:  # clipped into the edge cells, as the archive does
        return list(map(tuple, space.grid_coords(space.clip(points)).tolist()))

    set_threads(cfg.threads)
    dev = torch.device(cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    model = load_emotion_model(cfg.searcher, role="searcher", device=dev)
    targets = torch.tensor([space.centre(space.unravel(i)) for i in range(space.size)],
                           dtype=torch.float32)  # (nv*na, 2)
    va_t, images = _optimise(model, targets, cfg, dev, progress)
    if not torch.isfinite(va_t).all():
        raise QdemoError(f"searcher {cfg.searcher!r} returned non-finite valence / arousal while being optimised; "
                         f"lower --lr")
    va = va_t.tolist()  # values beyond the ranges count in the edge cells, as the archive clips them
    hit = cells(va)
    own = [tuple(space.unravel(i)) for i in range(len(targets))]  # target i is the centre of cell i
    out: dict[str, Any] = {
        "config": asdict(cfg), "env": env_info(dev),
        "searcher": getattr(getattr(model, "info", None), "name", cfg.searcher),
        "cells_total": nv * na,
        "cells_reached": len(set(hit)),
        "va_coverage": len(set(hit)) / float(nv * na),
        "own_target_reached": sum(h == o for h, o in zip(hit, own)) / float(len(own)),
        "mean_distance_to_target": float(torch.linalg.norm(torch.tensor(va) - targets, dim=1).mean()),
        "valence_range": [min(v for v, _ in va), max(v for v, _ in va)],
        "arousal_range": [min(a for _, a in va), max(a for _, a in va)],
        "images": [{"target": t, "searcher_va": p, "cell": list(h)} for t, p, h in
                   zip(targets.tolist(), va, hit)],
    }
    if not is_none(cfg.critic):
        critic = _critic_reading(cfg, dev, images, hit, cells)
        for rec, c in zip(out["images"], critic.pop("critic_va")):
            rec["critic_va"] = c
        out.update(critic)
    return out


def reach_markdown(res: dict[str, Any]) -> str:
    """The benchmark as a Markdown section: a table of figures."""
    c = res["config"]
    lines = [f"# Reachable valence x arousal cells ({res['searcher']})", "",
             f"One free image per cell of a {c['cells'][0]}x{c['cells'][1]} VA grid, pixels optimised by Adam "
             f"({c['steps']} steps, lr {c['lr']}) towards the cell's centre. Valence and arousal are the "
             f"human-rated dimensions the models were trained on.", "",
             "| figure | value |", "|---|---|",
             f"| VA cells the searcher was driven into | {res['cells_reached']} / {res['cells_total']} "
             f"({100 * res['va_coverage']:.0f} %) |",
             f"| images that reached their own target cell | {100 * res['own_target_reached']:.0f} % |",
             f"| mean distance to the target (VA) | {res['mean_distance_to_target']:.3f} |",
             f"| searcher valence range reached | {res['valence_range'][0]:.2f} .. {res['valence_range'][1]:.2f} |",
             f"| searcher arousal range reached | {res['arousal_range'][0]:.2f} .. {res['arousal_range'][1]:.2f} |"]
    if "critic" in res:
        lines += [f"| critic ({res['critic']}): VA cells of the same images | {100 * res['critic_va_coverage']:.0f} % |",
                  f"| critic within one cell of the searcher | {100 * res['critic_within_one_cell']:.0f} % |",
                  f"| critic valence / arousal range | {res['critic_valence_range'][0]:.2f} .. "
                  f"{res['critic_valence_range'][1]:.2f} / {res['critic_arousal_range'][0]:.2f} .. "
                  f"{res['critic_arousal_range'][1]:.2f} |"]
    return "\n".join(lines)
