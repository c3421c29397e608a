"""Evaluating a conditional generator against the critic (``qdemo generator evaluate``).

``evaluate_generator`` draws ``per_target`` samples for every target of an evenly spread
grid over [-1, 1]^3 (the centres of a ``n x n x n`` grid: for n = 5, -0.8 ... 0.8) and
reports the critic's (and searcher's) mean absolute error to the requested valence,
arousal and dominance, plus FID-like realism in the critic's feature space.
``run_generator_evaluation`` is the whole command: load the models and photos, evaluate,
write ``evaluation.json``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qdemo.compare.metrics import FeatureSpace, mean_pairwise_distance, photo_subset, real_feature_space

DEFAULT_PHOTOS = ("../shared/datasets/oasis/images", "../shared/datasets/emotion6/images")
"""Real photos that define realism when none are given (OASIS + Emotion6)."""


def grid_targets(n: int = 5) -> np.ndarray:
    """(n^3, 3) cell centres of an n x n x n grid over [-1, 1]^3."""
    c = -1 + (np.arange(n) + 0.5) * 2 / n
    v, a, d = np.meshgrid(c, c, c, indexing="ij")
    return np.stack([v.ravel(), a.ravel(), d.ravel()], axis=1)


def plane_targets(n: int = 5, extent: float = 0.9) -> np.ndarray:
    """(n^2, 3) targets spread over the valence x arousal plane, corners at +-``extent``
    included (linspace), dominance 0: the protocol of the pixel generator's target."""
    c = np.linspace(-extent, extent, n)
    v, a = np.meshgrid(c, c, indexing="ij")
    return np.stack([v.ravel(), a.ravel(), np.zeros(n * n)], axis=1)


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


def evaluate_generator(generator, critic, searcher, space: FeatureSpace | None, *, targets_per_axis: int = 5,  # long: one report
                       per_target: int = 4, seed: int = 0, batch_size: int = 50,
                       photo_vad: np.ndarray | None = None, plane: int = 0, select_from: int = 0) -> dict[str, Any]:
    """Critic/searcher error to requested VAD over a spread grid of targets, and realism.

    With ``photo_vad`` (the critic's VAD of real photos, (N, 3)) the result also holds
    ``photo_reference`` (see :func:`photo_reference`) and, as an extra view beside the
    standard numbers, the critic error restricted to the targets whose valence and arousal lie
    inside the photos' min..max (``critic_error_*_in_photo_range``). ``plane`` > 0 uses
    :func:`plane_targets` (``plane`` x ``plane`` over the valence x arousal plane, corners at
    +-0.9, dominance 0) instead of the cube's cell centres. ``within_cell_diversity`` is the mean
    pairwise critic-feature distance among the samples of one target (mode collapse: far below
    ``diversity``, the distance among one sample per target). ``select_from`` > ``per_target``:
    each target's samples are kept from that many draws by ``searcher``
    (:func:`qdemo.generator.sample.generate_selected`, over valence and arousal on the plane, all
    three dimensions in the cube).
    """
    import torch

    from qdemo.generator.sample import generate, generate_selected

    targets = plane_targets(plane) if plane > 0 else grid_targets(targets_per_axis)  # (T, 3)
    cond = np.repeat(targets, per_target, axis=0)  # (T*K, 3)
    if select_from > per_target:
        dims = (0, 1) if plane > 0 else (0, 1, 2)
        from qdemo.qd.content import content_score

        images = torch.cat([generate_selected(generator, t, per_target, judge=searcher, select_from=select_from,
                                              seed=seed + i, dims=dims, content=content_score)[0]
                            for i, t in enumerate(targets)])
    else:
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
        "targets": int(len(targets)), "protocol": f"plane {plane}x{plane}, corners +-0.9, D 0" if plane > 0
        else f"cube {targets_per_axis}^3 cell centres", "per_target": per_target, "images": int(len(images)),
        "select_from": max(int(select_from), per_target),
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
        if per_target > 1:
            out["within_cell_diversity"] = float(np.mean([mean_pairwise_distance(proj[i:i + per_target])
                                                          for i in range(0, len(proj), per_target)]))
            out["within_over_across"] = out["within_cell_diversity"] / out["diversity"]
        out["nearest_photo_distance"] = float(space.nearest_real(proj).mean())
    return out


def run_generator_evaluation(
    generator: str | None, *, critic: str = "shipped", searcher: str = "shipped",
    photos: Sequence[str | os.PathLike] | None = None, cache_dir: str | os.PathLike | None = "../cache/generator",
    targets_per_axis: int = 5, per_target: int = 4, realism_photos: int = 600, seed: int = 0,
    device: str = "auto", out: str | os.PathLike | None = None, plane: int = 0, strict: bool = False,
    select_from: int = 0,
) -> dict[str, Any]:
    """``qdemo generator evaluate``: :func:`evaluate_generator` with the critic's photo range.

    ``generator``: weights (.safetensors or run folder), None = the shipped one. ``photos``
    (default :data:`DEFAULT_PHOTOS`) define realism and the critic's range on real photos.
    With ``out`` the result is also written to ``out/evaluation.json``. ``plane`` > 0: N x N targets
    over the valence x arousal plane instead of the grid; ``strict``: refuse a generator trained
    against another searcher than ``searcher`` (else a warning, recorded as ``stale``).
    """
    from qdemo.device import resolve_device
    from qdemo.generator.data import load_photo_tensor, score_photos
    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.generator.weights_io import load_generator
    from qdemo.io import atomic_write_json

    dev = resolve_device(device)
    gen = load_generator(generator, device=dev)
    crit = load_emotion_model(critic, role="critic", device=dev)
    srch = load_emotion_model(searcher, role="searcher", device=dev)
    from qdemo.emotion.judge import judge_record
    from qdemo.generator.weights_io import check_generator_judge

    stale = check_generator_judge(gen, judge_record(srch), strict=strict)
    photos_src = photos or list(DEFAULT_PHOTOS)
    photo_t, _ = load_photo_tensor(photos_src, gen.resolution, cache_dir=cache_dir)
    space = real_feature_space(photo_t, crit, n=realism_photos, cache_dir=cache_dir, tag=f"{gen.resolution}")
    # The critic's VAD of the same real photos: how much of [-1, 1] photos occupy at all.
    subset, tag = photo_subset(photo_t, realism_photos, 0, f"{gen.resolution}")
    photo_vad = score_photos(subset, crit, cache_dir=cache_dir, tag=tag, what="vad").numpy()
    res = evaluate_generator(gen, crit, srch, space, targets_per_axis=targets_per_axis,
                             per_target=per_target, seed=seed, photo_vad=photo_vad, plane=plane,
                             select_from=select_from)
    res["judge"] = getattr(gen, "meta", {}).get("judge")
    res["stale"] = stale
    if out:
        atomic_write_json(Path(out) / "evaluation.json", res)
    return res


__all__ = ["DEFAULT_PHOTOS", "evaluate_generator", "grid_targets", "plane_targets", "photo_reference", "run_generator_evaluation"]
