"""Explorer elites versus generator samples, cell by cell, as Ray tasks.

For every occupied cell of each archive: the elite, and ``samples_per_cell`` generator
images conditioned on the cell centre. Each is scored by the critic (VAD + features) and
the searcher (VAD). The work is split into chunks of cells, one Ray task each (retried if
it fails, cached in ``OUT/cache/`` so a re-run only computes what is missing); the driver
then assembles the CSVs, heatmaps, sheets, ``summary.json`` and ``report.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from pathlib import Path
from typing import Any, Callable, Sequence

from qdemo import DIMS
from qdemo.compare.archive_io import ArchiveRun, read_archive
from qdemo.compare.config import CompareConfig
from qdemo.compare.metrics import FeatureSpace, cell_error, within
from qdemo.compare.report import write_outputs
from qdemo.config import to_dict
from qdemo.errors import QdemoError


def _cell_seed(seed: int, archive: str, index: int) -> int:
    return zlib.crc32(f"{seed}|{archive}|{index}".encode()) & 0x7FFFFFFF


def compare_chunk(
    archive_name: str, cells: list[dict[str, Any]], cfg: dict[str, Any], generator_path: str | None,
    space_file: str, out_dir: str,
) -> list[dict[str, Any]]:
    """Ray task: score the elites and K generator samples of ``cells``; write sample PNGs.

    ``cells``: dicts with ``index``, ``target`` (3 floats), ``image`` (elite path). Returns one
    dict per cell with critic/searcher VAD and PCA-projected critic features (JSON).
    """
    import torch

    from qdemo.device import resolve_device
    from qdemo.generator.sample import generate
    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.generator.weights_io import load_generator
    from qdemo.io import load_image, save_png

    torch.set_num_threads(max(1, int(os.environ.get("QDEMO_TASK_THREADS", "1"))))
    device = resolve_device(cfg["device"])
    critic = load_emotion_model(cfg["critic"], role="critic", device=device)
    searcher = load_emotion_model(cfg["searcher"], role="searcher", device=device)
    gen = load_generator(generator_path, device=device)
    space = FeatureSpace.load(space_file)
    k = int(cfg["samples_per_cell"])
    out = Path(out_dir)
    results = []
    with torch.no_grad():
        for cell in cells:
            elite = load_image(cell["image"])  # (3, H, W)
            z = gen.sample_z(k, generator=torch.Generator().manual_seed(_cell_seed(cfg["seed"], archive_name, cell["index"])))
            samples = generate(gen, [cell["target"]] * k, z=z)  # (K, 3, R, R)
            rel = []
            for j, img in enumerate(samples):
                r = f"samples/{archive_name}/cell_{cell['index']}_k{j}.png"
                save_png(img, out / r)
                rel.append(r)
            res = elite.shape[-1]
            if samples.shape[-1] != res:  # score both sources at the elite's resolution
                samples = torch.nn.functional.interpolate(samples, size=(res, res), mode="bilinear",
                                                          align_corners=False, antialias=True)
            batch = torch.cat([elite[None], samples]).to(device)  # (1+K, 3, H, W)
            c_pred, c_f = critic.predict_with_features(batch)
            c_vad = c_pred.mean.cpu().numpy()
            c_feat = space.project(c_f.cpu().numpy())
            s_vad = searcher(batch).cpu().numpy()
            results.append({
                "index": int(cell["index"]), "target": list(map(float, cell["target"])), "elite_image": cell["image"],
                "elite_critic": c_vad[0].tolist(), "elite_searcher": s_vad[0].tolist(), "elite_feat": c_feat[0].tolist(),
                "gen_critic": c_vad[1:].tolist(), "gen_searcher": s_vad[1:].tolist(), "gen_feat": c_feat[1:].tolist(),
                "gen_images": rel,
            })
    return results


def build_feature_space(cfg: CompareConfig, out: Path, *, progress: bool = True) -> Path:
    """Critic features of the real photos -> PCA space saved as ``OUT/real_features.npz``."""
    from qdemo.device import resolve_device
    from qdemo.compare.metrics import real_feature_space
    from qdemo.generator.data import load_photo_tensor
    from qdemo.emotion.zoo import load_emotion_model

    device = resolve_device(cfg.device)
    critic = load_emotion_model(cfg.critic, role="critic", device=device)
    photos, _ = load_photo_tensor(cfg.photos, cfg.photo_resolution, cache_dir=cfg.cache_dir, progress=progress)
    space = real_feature_space(photos, critic, n=cfg.realism_photos, seed=0, dim=cfg.pca_dim, cache_dir=cfg.cache_dir,
                               tag=f"{cfg.photo_resolution}", progress=progress)
    path = out / "real_features.npz"
    space.save(path)
    return path


def plan_tasks(runs: Sequence[ArchiveRun], cfg: CompareConfig, generator_path: str | None, space_file: Path,
               out: Path) -> dict[str, tuple]:
    """``key -> args`` of :func:`compare_chunk`; keys change when anything they depend on changes."""
    from qdemo.generator.weights_io import resolve_generator_path
    from qdemo.io import sha256_file

    gen_sha = sha256_file(resolve_generator_path(generator_path))
    cdict = to_dict(cfg)
    task_cfg = {k: cdict[k] for k in ("critic", "searcher", "samples_per_cell", "seed", "device")}
    tasks: dict[str, tuple] = {}
    for run in runs:
        ident = json.dumps([task_cfg, gen_sha, run.table_sha256, sha256_file(space_file)], sort_keys=True)
        h = hashlib.sha256(ident.encode()).hexdigest()[:10]
        cells = [{"index": c.index, "target": list(c.target), "image": str(c.image)} for c in run.cells]
        for ci, start in enumerate(range(0, len(cells), cfg.cells_per_task)):
            key = f"{run.name}-{ci:04d}-{h}"
            tasks[key] = (run.name, cells[start:start + cfg.cells_per_task], task_cfg, generator_path,
                          str(space_file), str(out))
    return tasks


def run_compare(
    archives: Sequence[str | os.PathLike], cfg: CompareConfig, out: str | os.PathLike, *,
    address: str | None = None, num_cpus: int | None = None, backend: str = "ray",
    task_fn: Callable[..., Any] = compare_chunk, progress: bool = True,
) -> dict[str, Any]:
    """Compare every archive with the generator; write everything to ``out``; return the summary."""
    from qdemo.config import save_config

    if not archives:
        raise QdemoError("compare: give at least one archive run folder")
    if cfg.samples_per_cell < 1:
        raise QdemoError("compare: samples_per_cell must be >= 1")
    runs = [read_archive(a) for a in archives]  # also checks every elite image is there
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise QdemoError(f"compare: archive folder names must differ (got {names})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    space_file = build_feature_space(cfg, out, progress=progress)
    tasks = plan_tasks(runs, cfg, cfg.generator, space_file, out)
    from qdemo.parallel import run_tasks

    results = run_tasks(task_fn, tasks, cache_dir=out / "cache", address=address, num_cpus=num_cpus,
                        max_retries=cfg.max_retries, backend=backend, desc="compare")
    by_run: dict[str, list[dict[str, Any]]] = {r.name: [] for r in runs}
    for key, rows in results.items():
        by_run[tasks[key][0]].extend(rows)
    return write_outputs(runs, by_run, cfg, FeatureSpace.load(space_file), out)


__all__ = ["CompareConfig", "compare_chunk", "run_compare", "plan_tasks", "build_feature_space", "cell_error", "within",
           "DIMS"]
