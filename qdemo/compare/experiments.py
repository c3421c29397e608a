"""Evaluating a generator against the critic, and lambda_emo x seed experiment grids on Ray.

``evaluate_generator`` draws ``per_target`` samples for every target of an evenly spread
grid over [-1, 1]^3 (the centres of a ``n x n x n`` grid: for n = 5, -0.8 ... 0.8) and
reports the critic's (and searcher's) mean absolute error to the requested valence,
arousal and dominance, plus FID-like realism in the critic's feature space.

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

import numpy as np

from qdemo.compare.metrics import FeatureSpace, mean_pairwise_distance, real_feature_space
from qdemo.errors import QdemoError
from qdemo.io import atomic_write_text


def grid_targets(n: int = 5) -> np.ndarray:
    """(n^3, 3) cell centres of an n x n x n grid over [-1, 1]^3."""
    c = -1 + (np.arange(n) + 0.5) * 2 / n
    v, a, d = np.meshgrid(c, c, c, indexing="ij")
    return np.stack([v.ravel(), a.ravel(), d.ravel()], axis=1)


def photo_reference(photo_vad: np.ndarray, targets: np.ndarray, *, central: float = 0.95) -> dict[str, Any]:
    """How well the critic's outputs ON REAL PHOTOS can match the targets at all.

    ``photo_vad`` (N, 3): the critic's VAD of real photos; ``targets`` (T, 3). Returns the
    critic's range on the photos (min..max and the central ``central`` fraction), per
    dimension the mean distance of the targets to the photos' min..max (``range_floor_*``: the
    error of images the critic rates like the most extreme photos), and
    ``photo_oracle_error_va``: for each target the real photo whose critic (V, A) is nearest
    in mean absolute error, averaged over the targets (the error of answering every request
    with the best-matching photo). A target is ``in_photo_range`` when its valence and
    arousal both lie within the photos' min..max (the central range of the critic's arousal on
    photos can be narrower than the nearest targets, +-0.25).
    """
    pv = np.asarray(photo_vad, dtype=np.float64)  # (N, 3)
    t = np.asarray(targets, dtype=np.float64)  # (T, 3)
    lo_q, hi_q = (1 - central) / 2, 1 - (1 - central) / 2
    lo, hi = pv.min(axis=0), pv.max(axis=0)  # (3,)
    qlo, qhi = np.quantile(pv, lo_q, axis=0), np.quantile(pv, hi_q, axis=0)
    floor = np.maximum(lo - t, 0) + np.maximum(t - hi, 0)  # (T, 3) distance to the photos' range
    va_err = np.abs(pv[None, :, :2] - t[:, None, :2]).mean(axis=2)  # (T, N)
    inside = ((t[:, :2] >= lo[:2]) & (t[:, :2] <= hi[:2])).all(axis=1)  # (T,)
    return {
        "photos": int(len(pv)), "central": central,
        "critic_photo_range": [[float(lo[j]), float(hi[j])] for j in range(3)],
        "critic_photo_central_range": [[float(qlo[j]), float(qhi[j])] for j in range(3)],
        "range_floor_valence": float(floor[:, 0].mean()), "range_floor_arousal": float(floor[:, 1].mean()),
        "range_floor_va": float(floor[:, :2].mean()),
        "photo_oracle_error_va": float(va_err.min(axis=1).mean()),
        "in_photo_range": inside,
    }


def evaluate_generator(generator, critic, searcher, space: FeatureSpace | None, *, targets_per_axis: int = 5,
                       per_target: int = 4, seed: int = 0, batch_size: int = 50,
                       photo_vad: np.ndarray | None = None) -> dict[str, Any]:
    """Critic/searcher error to requested VAD over a spread grid of targets, and realism.

    With ``photo_vad`` (the critic's VAD of real photos, (N, 3)) the result also holds
    ``photo_reference`` (see :func:`photo_reference`) and, as an extra view beside the
    standard numbers, the critic error restricted to the targets whose valence and arousal lie
    inside the photos' min..max (``critic_error_*_in_photo_range``).
    """
    import torch

    from qdemo.generator.sample import generate

    targets = grid_targets(targets_per_axis)  # (T, 3)
    cond = np.repeat(targets, per_target, axis=0)  # (T*K, 3)
    images = generate(generator, cond, seed=seed)  # (T*K, 3, R, R)
    dev = next(critic.parameters()).device
    crit, feats, srch = [], [], []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].to(dev)
            pred, f = critic.predict_with_features(x)
            crit.append(pred.mean.cpu().numpy())
            feats.append(f.cpu().numpy())
            srch.append(searcher(x).cpu().numpy() if searcher is not None else np.full((len(x), 3), np.nan))
    crit_a, srch_a, feat_a = np.concatenate(crit), np.concatenate(srch), np.concatenate(feats)
    err = np.abs(crit_a - cond)  # (N, 3)
    serr = np.abs(srch_a - cond)
    out: dict[str, Any] = {
        "targets": int(len(targets)), "per_target": per_target, "images": int(len(images)),
        "critic_error_valence": float(err[:, 0].mean()), "critic_error_arousal": float(err[:, 1].mean()),
        "critic_error_dominance": float(err[:, 2].mean()), "critic_error_va": float(err[:, :2].mean()),
        "searcher_error_valence": float(serr[:, 0].mean()), "searcher_error_arousal": float(serr[:, 1].mean()),
        "searcher_error_dominance": float(serr[:, 2].mean()), "searcher_error_va": float(serr[:, :2].mean()),
        # How much the critic's output follows the request at all (1 = perfectly ordered).
        "critic_corr_valence": float(np.corrcoef(crit_a[:, 0], cond[:, 0])[0, 1]),
        "critic_corr_arousal": float(np.corrcoef(crit_a[:, 1], cond[:, 1])[0, 1]),
        "critic_range": [[float(crit_a[:, j].min()), float(crit_a[:, j].max())] for j in range(3)],
    }
    if photo_vad is not None:
        ref = photo_reference(photo_vad, targets)
        mask = np.repeat(ref.pop("in_photo_range"), per_target)  # (T*K,)
        out["photo_reference"] = ref
        out["targets_in_photo_range"] = int(mask.sum() // per_target)
        if mask.any():
            out["critic_error_valence_in_photo_range"] = float(err[mask, 0].mean())
            out["critic_error_arousal_in_photo_range"] = float(err[mask, 1].mean())
            out["critic_error_va_in_photo_range"] = float(err[mask, :2].mean())
    if space is not None:
        proj = space.project(feat_a)
        pick = np.arange(0, len(proj), per_target)  # one per target, like the comparison
        out["realism_fid"] = space.fid(proj)
        out["realism_fid_one_per_target"] = space.fid(proj[pick])
        out["diversity"] = mean_pairwise_distance(proj[pick])
        out["nearest_photo_distance"] = float(space.nearest_real(proj).mean())
    return out


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
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SWEEP_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{r[k]:.4f}" if isinstance(r.get(k), float) else r.get(k, "")) for k in SWEEP_COLUMNS})
    atomic_write_text(out / "sweep.csv", buf.getvalue())
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
