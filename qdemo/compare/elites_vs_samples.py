"""Explorer elites versus the generators' samples, cell by cell, as Ray tasks.

For every occupied cell of each archive: the elite, and ``samples_per_cell`` images of each
generator (:mod:`qdemo.compare.sources`: the shapes and the pixel generator by default)
conditioned on the cell centre. Each is scored by the critic (VAD + features) and
the searcher (VAD). The work is split into chunks of cells, one Ray task each (retried if
it fails, cached in ``OUT/cache/`` so a re-run only computes what is missing); the driver
then assembles the CSVs, heatmaps, sheets, ``summary.json`` and ``report.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zlib
from pathlib import Path
from typing import Any, Callable, Sequence

from qdemo import DIMS
from qdemo.compare.archive_io import ArchiveRun, read_archive
from qdemo.compare.config import CompareConfig
from qdemo.compare.metrics import FeatureSpace, cell_error, within
from qdemo.compare.report import CompareContext, write_outputs
from qdemo.compare.sources import GeneratorSource, check_explicit_fit, open_sources, sources_for_run
from qdemo.emotion.judge import judge_of_spec
from qdemo.config import to_dict
from qdemo.errors import QdemoError


def _cell_seed(seed: int, archive: str, index: int) -> int:
    return zlib.crc32(f"{seed}|{archive}|{index}".encode()) & 0x7FFFFFFF


def _score(critic, searcher, space: FeatureSpace, images, device) -> dict[str, Any]:
    """Critic VAD + projected features and searcher VAD of ``images`` (n, 3, H, W), as lists."""
    c_pred, c_f = critic.predict_with_features(images.to(device))
    return {"critic": c_pred.mean.cpu().numpy().tolist(), "feat": space.project(c_f.cpu().numpy()).tolist(),
            "searcher": searcher(images.to(device)).cpu().numpy().tolist()}


def _draw(gen, target, k: int, seed: int, res: int, *, select_from: int = 0, searcher=None, dims=(0, 1, 2)):
    """K samples of ``gen`` for ``target`` (kept from ``select_from`` draws by ``searcher`` when
    ``select_from`` > K, among draws with content as the explorer's objective measures it), at
    ``res`` px, and the seconds drawing (and selecting) them took."""
    import time

    import torch

    from qdemo.generator.sample import generate_selected
    from qdemo.qd.content import content_score

    t0 = time.perf_counter()
    samples, _ = generate_selected(gen, target, k, judge=searcher if select_from > k else None,
                                   select_from=select_from, seed=seed, dims=dims,
                                   content=content_score)  # (K, 3, R, R)
    seconds = time.perf_counter() - t0
    if samples.shape[-1] != res:  # scored at the elite's resolution
        samples = torch.nn.functional.interpolate(samples, size=(res, res), mode="bilinear", align_corners=False,
                                                  antialias=samples.shape[-1] > res)
    return samples, seconds


def compare_chunk(
    archive_name: str, cells: list[dict[str, Any]], cfg: dict[str, Any], generators: dict[str, str],
    space_file: str, out_dir: str,
) -> list[dict[str, Any]]:
    """Ray task: score the elites and K samples of every generator of ``cells``; write sample PNGs.

    ``cells``: dicts with ``index``, ``target`` (3 floats), ``image`` (elite path);
    ``generators``: source name -> weights path. Returns one dict per cell: the elite's critic /
    searcher VAD and PCA-projected critic features, and per source the same for its samples,
    their image paths and the seconds sampling took (JSON)."""
    import torch

    from qdemo.device import resolve_device
    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.generator.weights_io import load_generator
    from qdemo.io import load_image, save_png

    torch.set_num_threads(max(1, int(os.environ.get("QDEMO_TASK_THREADS", "1"))))
    device = resolve_device(cfg["device"])
    critic = load_emotion_model(cfg["critic"], role="critic", device=device)
    searcher = load_emotion_model(cfg["searcher"], role="searcher", device=device)
    gens = {name: load_generator(path, device=device) for name, path in generators.items()}
    space = FeatureSpace.load(space_file)
    k = int(cfg["samples_per_cell"])
    out = Path(out_dir)
    results = []
    with torch.no_grad():
        for cell in cells:
            elite = load_image(cell["image"])  # (3, H, W)
            row = {"index": int(cell["index"]), "target": list(map(float, cell["target"])),
                   "elite_image": cell["image"], "elite": _score(critic, searcher, space, elite[None], device),
                   "gen": {}}
            for name, gen in gens.items():
                seed = _cell_seed(cfg["seed"], archive_name, cell["index"])
                samples, seconds = _draw(gen, cell["target"], k, seed, elite.shape[-1],
                                         select_from=int(cfg.get("select_from", 0)), searcher=searcher,
                                         dims=cfg.get("dims", [0, 1, 2]))
                rel = [f"samples/{archive_name}/{name}/cell_{cell['index']}_k{j}.png" for j in range(k)]
                for r, img in zip(rel, samples):
                    save_png(img, out / r)
                row["gen"][name] = {**_score(critic, searcher, space, samples, device), "images": rel,
                                    "seconds": seconds}
            results.append(row)
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


def plan_tasks(runs: Sequence[ArchiveRun], cfg: CompareConfig, sources: dict[str, list[GeneratorSource]],
               space_file: Path, out: Path) -> dict[str, tuple]:
    """``key -> args`` of :func:`compare_chunk`; keys change when anything they depend on changes.
    ``sources``: run name -> the generators that join it."""
    from qdemo.io import sha256_file

    cdict = to_dict(cfg)
    base_cfg = {k: cdict[k] for k in ("critic", "searcher", "samples_per_cell", "select_from", "seed", "device")}
    tasks: dict[str, tuple] = {}
    for run in runs:
        task_cfg = {**base_cfg, "dims": list(run.dim_idx)}
        gens = {s.name: str(s.path) for s in sources[run.name]}
        shas = {name: sha256_file(path) for name, path in gens.items()}
        ident = json.dumps([task_cfg, shas, run.table_sha256, sha256_file(space_file)], sort_keys=True)
        h = hashlib.sha256(ident.encode()).hexdigest()[:10]
        cells = [{"index": c.index, "target": list(c.target), "image": str(c.image)} for c in run.cells]
        for ci, start in enumerate(range(0, len(cells), cfg.cells_per_task)):
            key = f"{run.name}-{ci:04d}-{h}"
            tasks[key] = (run.name, cells[start:start + cfg.cells_per_task], task_cfg, gens, str(space_file), str(out))
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
    if cfg.select_from < 0:
        raise QdemoError(f"compare: select_from must be >= 0 (got {cfg.select_from})")
    runs = [read_archive(a) for a in archives]  # also checks every elite image is there
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise QdemoError(f"compare: archive folder names must differ (got {names})")
    judge = judge_of_spec(cfg.searcher)
    sources = open_sources(cfg.generators, judge, strict=cfg.strict)
    per_run, left_out, notes = {}, {}, []
    for run in runs:
        per_run[run.name], left_out[run.name] = sources_for_run(sources, run.name, run.renderer, warn=notes.append)
    check_explicit_fit(sources, left_out)  # a named generator that fits no run: one error line, no notes
    for line in notes:
        print(line, file=sys.stderr)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    space_file = build_feature_space(cfg, out, progress=progress)
    tasks = plan_tasks(runs, cfg, per_run, space_file, out)
    from qdemo.parallel import run_tasks

    results = run_tasks(task_fn, tasks, cache_dir=out / "cache", address=address, num_cpus=num_cpus,
                        max_retries=cfg.max_retries, backend=backend, desc="compare")
    by_run: dict[str, list[dict[str, Any]]] = {r.name: [] for r in runs}
    for key, rows in results.items():
        by_run[tasks[key][0]].extend(rows)
    context = CompareContext(judge=judge, sources=sources, per_run=per_run, left_out=left_out)
    return write_outputs(runs, by_run, cfg, FeatureSpace.load(space_file), out, context)


__all__ = ["CompareConfig", "compare_chunk", "run_compare", "plan_tasks", "build_feature_space", "cell_error", "within",
           "DIMS"]
