"""lambda_emo x seed experiment grids of the conditional generator, on Ray.

``run_lambda_sweep`` trains one generator per (lambda_emo, seed) as a Ray task (each with
the same budget), evaluates it, caches each finished result in ``OUT/cache/`` and writes
``sweep.csv`` and ``sweep.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from qdemo.compare.generator_eval import evaluate_generator, grid_targets, photo_reference
from qdemo.compare.metrics import FeatureSpace, real_feature_space
from qdemo.errors import QdemoError
from qdemo.io import atomic_write_text
from qdemo.tables import table_text


def train_and_evaluate(run_cfg: dict[str, Any], critic: str, space_file: str, targets_per_axis: int,
                       per_target: int) -> dict[str, Any]:
    """Ray task: train one generator with ``run_cfg`` (a GeneratorConfig dict), then evaluate it."""
    import torch

    from qdemo.config import from_dict
    from qdemo.generator.train import GeneratorConfig, train
    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.generator.weights_io import load_generator

    torch.set_num_threads(max(1, int(os.environ.get("QDEMO_TASK_THREADS", "1"))))
    cfg = from_dict(GeneratorConfig, run_cfg, "sweep run")
    ckpt = Path(cfg.out) / "checkpoint" / "train_state.pt"
    # A retried task continues from its own checkpoint instead of starting over.
    path = train(cfg, resume=ckpt.exists(), progress=False)
    gen = load_generator(path, device=cfg.device if cfg.device != "auto" else "cpu")
    dev = next(gen.parameters()).device
    crit = load_emotion_model(critic, role="critic", device=dev)
    srch = load_emotion_model(cfg.searcher, role="searcher", device=dev)
    space = FeatureSpace.load(space_file) if space_file else None
    result = evaluate_generator(gen, crit, srch, space, targets_per_axis=targets_per_axis, per_target=per_target,
                                seed=cfg.seed)
    result.update({"lambda_emo": cfg.lambda_emo, "seed": cfg.seed, "steps": cfg.steps,
                   "train_seconds": json.loads(path.with_suffix(".json").read_text())["train_seconds"],
                   "weights": str(path)})
    return result


SWEEP_COLUMNS = ["lambda_emo", "seed", "steps", "train_seconds", "critic_error_valence", "critic_error_arousal",
                 "critic_error_va", "critic_error_dominance", "searcher_error_va", "critic_corr_valence",
                 "critic_corr_arousal", "realism_fid", "realism_fid_one_per_target", "diversity",
                 "nearest_photo_distance"]


def run_lambda_sweep(
    config: str | os.PathLike | None, out: Path, *, lambdas: Sequence[float], seeds: Sequence[int] = (0,),
    overrides: dict[str, Any] | None = None, critic: str = "shipped", targets_per_axis: int = 5, per_target: int = 4,
    address: str | None = None, num_cpus: int | None = None, backend: str = "ray",
    task_fn: Callable[..., Any] = train_and_evaluate, progress: bool = True, realism_photos: int = 600,
) -> str:
    """Train + evaluate every (lambda, seed) as a task; write sweep.csv / sweep.md; return the table."""
    from qdemo.config import load_config, to_dict
    from qdemo.generator.data import load_photo_tensor, score_photos
    from qdemo.generator.train import GeneratorConfig
    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.parallel import run_tasks

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = load_config(GeneratorConfig, config, dict(overrides or {}))
    # Shared preparation, once: photo cache, searcher labels, the critic's feature space.
    photos, _ = load_photo_tensor(base.photos, base.resolution, cache_dir=base.cache_dir, progress=progress)
    searcher = load_emotion_model(base.searcher, role="searcher", device="cpu")
    score_photos(photos, searcher, cache_dir=base.cache_dir, tag=f"{base.resolution}", progress=progress)
    crit = load_emotion_model(critic, role="critic", device="cpu")
    space_file = out / "real_features.npz"
    real_feature_space(photos, crit, n=realism_photos, cache_dir=base.cache_dir, tag=f"{base.resolution}",
                       progress=progress).save(space_file)
    del searcher, crit
    tasks: dict[str, tuple] = {}
    for lam in lambdas:
        for seed in seeds:
            d = to_dict(base)
            d.update({"lambda_emo": float(lam), "seed": int(seed), "device": "cpu",
                      "out": str(out / "runs" / f"lam{lam:g}_seed{seed}")})
            h = hashlib.sha256(json.dumps([d, critic, targets_per_axis, per_target], sort_keys=True).encode()).hexdigest()[:8]
            tasks[f"lam{lam:g}_seed{seed}_{h}"] = (d, critic, str(space_file), targets_per_axis, per_target)
    results = run_tasks(task_fn, tasks, cache_dir=out / "cache", address=address, num_cpus=num_cpus,
                        backend=backend, desc="lambda sweep")
    rows = [results[k] for k in tasks]
    if not rows:
        raise QdemoError("sweep: no runs")
    table = ([f"{r[k]:.4f}" if isinstance(r.get(k), float) else r.get(k, "") for k in SWEEP_COLUMNS] for r in rows)
    atomic_write_text(out / "sweep.csv", table_text(SWEEP_COLUMNS, table))
    md = ["| lambda_emo | seed | steps | train s | critic err V | critic err A | critic err V+A | critic err D (proxy) "
          "| searcher err V+A | FID-like | diversity |", "|" + "---:|" * 11]
    for r in rows:
        md.append(f"| {r['lambda_emo']:g} | {r['seed']} | {r['steps']} | {r['train_seconds']:.0f} | "
                  f"{r['critic_error_valence']:.3f} | {r['critic_error_arousal']:.3f} | {r['critic_error_va']:.3f} | "
                  f"{r['critic_error_dominance']:.3f} | {r['searcher_error_va']:.3f} | {r.get('realism_fid', float('nan')):.2f} | "
                  f"{r.get('diversity', float('nan')):.2f} |")
    table = "\n".join(md)
    note = (f"\n\nTargets: {targets_per_axis}^3 cell centres over [-1, 1]^3, {per_target} samples each. Valence and "
            "arousal of the critic are trained on human ratings; dominance is a word-norm proxy. Realism: FID-like "
            "Fréchet distance in a 64-d PCA subspace of the critic's features of the training photos.\n")
    atomic_write_text(out / "sweep.md", table + note)
    return table


__all__ = ["SWEEP_COLUMNS", "evaluate_generator", "grid_targets", "photo_reference", "run_lambda_sweep",
           "train_and_evaluate"]
