"""``qdemo regressor train``: fit the configured roles, save the weights, evaluate.

What one run does, for each role (searcher, critic):

1. Loads the configured rated sets (OASIS, Emotion6, BASS, a CSV; :mod:`.data`), fills
   dominance with the word-norm proxy (:mod:`qdemo.emotion.proxies`; flagged as proxy everywhere).
2. Extracts the model's pooled multi-level backbone features for ``views`` augmented views
   of every image (:mod:`qdemo.emotion.features`; view 0 = the image, 1 = mirrored, 2+ =
   seeded random crops), cached on disk under ``cache_dir``.
3. Splits the data into K joint folds: each set split on its own (OASIS grouped by theme, BASS
   by image stem, Emotion6 stratified by folder). Member k of the ensemble is a ridge head
   fitted on all folds but k (:class:`qdemo.emotion.ridge.RidgeFitter`: feature
   standardisation and the ridge penalty, chosen by leaving each of those folds out in turn,
   both from those folds only). Member k's predictions on fold k are therefore honest
   out-of-fold predictions: the evaluation comes for free.
4. Fits the 7-way emotion-distribution head (multinomial logistic regression) on Emotion6.
5. With ``model.train_from`` set, fine-tunes each member after that (LP-FT, :mod:`.finetune`).
   With ``fuse``, trains every further architecture the same way and joins them (late fusion),
   then fits the calibration on the out-of-fold predictions (:mod:`.fusion`).
6. Saves ``<role>.safetensors`` (+ ``.json``) and, with ``evaluate``, the metrics
   (:mod:`qdemo.emotion.evaluate`) and the model card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from qdemo.emotion.train.config import RegressorConfig
from qdemo.emotion.train.data import load_training_data
from qdemo.emotion.train.fusion import train_full_role
from qdemo.emotion.train.role import RoleResult
from qdemo.errors import DataError


def _write_evaluation(cfg: RegressorConfig, data, results: dict, written: dict, out: Path,
                      progress: bool) -> dict[str, Any]:
    """metrics.json and MODEL_CARD.md of the run (atomic writes)."""
    from qdemo.emotion.card import write_model_card
    from qdemo.emotion.evaluate import evaluate_training
    from qdemo.io import atomic_write_json

    report = evaluate_training(cfg, data, results, written, progress=progress)
    atomic_write_json(out / "metrics.json", report)
    notes = None
    if cfg.card_notes:
        p = Path(cfg.card_notes)
        if not p.exists():
            raise DataError(f"card_notes: {p} not found")
        notes = p.read_text(encoding="utf-8")
    write_model_card(report, out / "MODEL_CARD.md", notes=notes)
    return report


def train_regressor(cfg: RegressorConfig, *, progress: bool = True) -> dict[str, Any]:
    """Run ``qdemo regressor train``: fit the configured roles, save weights, evaluate."""
    from qdemo.config import save_config
    from qdemo.device import resolve_device
    from qdemo.emotion.zoo import save_model

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_training_data(cfg)
    if progress:
        print(data.rated.summary())
    results: dict[str, RoleResult] = {}
    written = {}
    for role in cfg.roles:
        if role not in ("searcher", "critic"):
            raise DataError(f"roles: unknown role {role!r} (expected searcher and/or critic)")
        res = train_full_role(role, getattr(cfg, role), data, k=cfg.folds, seed=cfg.seed, cache_dir=cfg.cache_dir,
                         device=device, progress=progress)
        res.model.to("cpu")
        written[role] = save_model(res.model, out / f"{role}.safetensors")
        results[role] = res
        if progress:
            print(f"{role}: wrote {out / (role + '.safetensors')} ({written[role]['bytes'] / 1e6:.2f} MB) "
                  f"in {res.seconds:.0f} s")
    save_config(cfg, out / "regressor-config.yaml")
    if cfg.evaluate:
        return _write_evaluation(cfg, data, results, written, out, progress)
    return {"written": written}


__all__ = ["train_regressor"]
