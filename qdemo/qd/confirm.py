"""``qdemo confirm RUN``: re-score a finished run's elites with the critic, on demand."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Optional

import numpy as np

from qdemo import DIMS
from qdemo.config import load_config
from qdemo.device import resolve_device
from qdemo.emotion.base import EmotionModel
from qdemo.errors import DataError
from qdemo.io import atomic_write_json, atomic_write_text
from qdemo.qd.archive import build_archives, cell_agreement
from qdemo.qd.config import EvolveConfig
from qdemo.emotion.zoo import describe_model, load_emotion_model
from qdemo.runfolder import read_csv_table


def confirm_run(run_dir: str | Path, *, critic: Optional[str | EmotionModel] = None,
                device: str = "auto", chunk: int = 64) -> dict[str, Any]:
    """Fill the critic columns of ``run_dir/archive.csv`` and the manifest's critic metrics.

    ``critic``: a model, a spec ('critic', 'tiny:1', a path) or None for the run's config.
    Returns the updated manifest metrics.
    """
    from qdemo.qd.explorer import build_renderer, critic_vad

    run_dir = Path(run_dir)
    for name in ("config.yaml", "manifest.json", "archive.csv", "solutions.npy"):
        if not (run_dir / name).exists():
            raise DataError(f"{run_dir / name}: missing (is {run_dir} a finished qdemo evolve run?)")
    cfg = load_config(EvolveConfig, run_dir / "config.yaml")
    dev = resolve_device(device)
    spec = critic if isinstance(critic, str) else cfg.critic
    if isinstance(critic, EmotionModel):
        model = critic.to(dev).eval()
    else:
        if str(spec).lower() == "none":
            spec = "critic"
        model = load_emotion_model(spec, role="critic", device=dev)
    # the shared run-folder reader: BOM, line endings, ragged rows and missing columns are clear errors
    table = read_csv_table(run_dir / "archive.csv",
                           required=("index", "critic_valence", "critic_same_cell", "critic_within_one"))
    fields = [h for h in table.header if h]
    rows = table.dicts()
    try:
        idx = np.asarray([int(r["index"]) for r in rows], dtype=np.int64)
    except ValueError as exc:
        raise DataError(f"{run_dir / 'archive.csv'}: column 'index' must hold integers ({exc})") from None
    try:
        sols = np.load(run_dir / "solutions.npy", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{run_dir / 'solutions.npy'}: unreadable ({exc})") from None
    if len(sols) != len(rows):
        raise DataError(f"{run_dir / 'solutions.npy'}: {len(sols)} rows but archive.csv has {len(rows)}")
    renderer = build_renderer(cfg).to(dev)
    if sols.ndim != 2 or sols.shape[1] != renderer.solution_dim:
        raise DataError(f"{run_dir / 'solutions.npy'}: shape {sols.shape} does not fit the "
                        f"{cfg.renderer.name} renderer ({renderer.solution_dim} parameters)")
    # geometry only: the same archive the run used (CVT centroids are seeded)
    archive = build_archives(cfg.grid, renderer.solution_dim, seed=cfg.seed).archive
    vad = critic_vad(renderer.eval(), model, sols.astype(np.float32), chunk=chunk)
    same, within = cell_agreement(archive, idx, vad[:, : cfg.grid.measure_dim])
    for i, r in enumerate(rows):
        for d, dim in enumerate(DIMS):
            r[f"critic_{dim}"] = f"{vad[i, d]:.6f}"
        r["critic_same_cell"] = int(same[i])
        r["critic_within_one"] = int(within[i])
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(run_dir / "archive.csv", buf.getvalue())
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    metrics = manifest.setdefault("metrics", {})
    metrics["critic_confirmed"] = float(same.mean()) if len(same) else None
    metrics["critic_within_one_cell"] = float(within.mean()) if len(within) else None
    manifest.setdefault("models", {})["critic"] = describe_model(model, str(spec))
    atomic_write_json(run_dir / "manifest.json", manifest)
    return metrics
