"""SHINE-style low-level equalisation with ``shinier``, sharded over Ray tasks.

SHINE equalises across the whole SET: the target luminance mean/contrast, histogram and
amplitude spectrum are averages over all images. So the work is done in two sharded
passes: (1) every shard measures its images (sums of histograms and spectra, per-image
luminance moments) in exactly the colour space shinier works in; the driver reduces them
to set-wide targets once; (2) every shard runs shinier's own matching
(:class:`shinier.ImageProcessor`) on its images against those explicit targets. Because
the targets are explicit and per-image steps do not look at other images (shinier's
set-level options — rescaling to the set's min/max, set-wide gamut constraints — are not
used), a shard's output does not depend on how the set was cut into shards. Each shard's
result is cached, so an interrupted run redoes only the shards that had not finished.

    summary = run_shine(images, out_dir, cfg)   # writes images/, manifest.csv, shine.json
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from qdemo.errors import DataError
from qdemo.io import atomic_write_json

from qdemo.normalise.config import NormaliseConfig
from qdemo.normalise.data import ImageSet, check_same_size
from qdemo.normalise.shine_files import (
    ShineOutput, check_written, digest, out_name, output_names, refuse_unreadable, shards, write_manifest,
)
from qdemo.normalise.shine_groups import group_match_task, group_stats_task, run_shine_groups
from qdemo.normalise.shine_match import (
    MODE_STEPS, ShineTargets, forward_buffer, match_arrays, reduce_targets, safe_lum_target, shine_match_shard,
    shine_stats_shard, steps_for, to_b64,
)


def compute_targets(images: ImageSet, cfg: NormaliseConfig, cache: Path | None, *, address: str | None = None,
                    backend: str = "ray", num_cpus: int | None = None, cpus_per_task: float = 1.0
                    ) -> tuple[ShineTargets, list[int], list[tuple[str, str]]]:
    """Pass 1: set-wide targets. Returns (targets, indices of readable images, skipped)."""
    from qdemo.parallel import run_tasks

    d, s = cfg.data, cfg.shine
    paths = [str(p) for p in images.paths]
    tasks = {}
    for k, idx in enumerate(shards(len(paths), s.shard_size)):
        sp = [paths[i] for i in idx]
        tasks[f"stats-{digest(sp, d.size, d.fit, s.color)}-{k:04d}"] = (sp, d.size, d.fit, s.color, d.on_error)
    results = run_tasks(shine_stats_shard, tasks, cache_dir=cache, address=address, backend=backend,
                        num_cpus=num_cpus, cpus_per_task=cpus_per_task, desc="SHINE stats")
    res = list(results.values())
    skipped = [tuple(x) for r in res for x in r["skipped"]]
    refuse_unreadable(skipped, d.on_error)
    ok_paths = {p for r in res for p in r["ok"]}
    ok = [i for i, p in enumerate(paths) if p in ok_paths]
    if d.size is None:
        shapes = [tuple(s) for r in res for s in r["shapes"]]
        ok_p = [p for r in res for p in r["ok"]]
        check_same_size([np.empty(sh + (3,), np.uint8) for sh in shapes], ok_p)
    return reduce_targets(res, safe_lum=s.safe_lum), ok, skipped


def run_shine(images: ImageSet, out: str | Path, cfg: NormaliseConfig, *, address: str | None = None,
              backend: str = "ray", num_cpus: int | None = None, cpus_per_task: float = 1.0,
              use_cache: bool = True) -> dict[str, Any]:
    """Equalise ``images`` into ``out`` (``images/``, ``manifest.csv``, ``shine.json``, and for
    ``shine.scope=image`` ``targets.npz``); finished shards are reused from ``out/cache``."""
    from qdemo.config import to_dict
    from qdemo.parallel import run_tasks

    out = Path(out)
    if len(images) == 0:
        raise DataError("no images to normalise (the set or group is empty)")
    if cfg.shine.scope == "group":
        return run_shine_groups(images, out, cfg, address=address, backend=backend, num_cpus=num_cpus,
                                cpus_per_task=cpus_per_task, use_cache=use_cache)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cache" if use_cache else None
    t0 = time.perf_counter()
    targets, ok, skipped = compute_targets(images, cfg, cache, address=address, backend=backend,
                                           num_cpus=num_cpus, cpus_per_task=cpus_per_task)
    t_stats = time.perf_counter() - t0
    targets.save(out / "targets.npz")
    tdict = {"lum": list(targets.lum), "hist": to_b64(targets.hist), "spectrum": to_b64(targets.spectrum),
             "n_images": targets.n_images}
    d, s = cfg.data, cfg.shine
    scfg = to_dict(s)
    names = output_names(images, ok)
    tasks = {}
    tag = digest(targets.digest(), scfg)
    for k, idx in enumerate(shards(len(ok), s.shard_size)):
        sp = [str(images.paths[ok[j]]) for j in idx]
        so = [str(out / "images" / names[ok[j]]) for j in idx]
        tasks[f"match-{s.mode}-{tag}-{digest(sp, d.size, d.fit)}-{k:04d}"] = (sp, so, d.size, d.fit, scfg, tdict)
    t1 = time.perf_counter()
    results = run_tasks(shine_match_shard, tasks, cache_dir=cache, address=address, backend=backend,
                        num_cpus=num_cpus, cpus_per_task=cpus_per_task, desc=f"SHINE {s.mode}")
    t_match = time.perf_counter() - t1
    check_written(results, names, out, "SHINE")
    write_manifest(images, ok, names, out)
    summary = {
        "mode": s.mode, "steps": steps_for(s), "color": s.color, "n_images": len(ok),
        "n_skipped": len(skipped), "skipped": [{"file": f, "reason": r} for f, r in skipped],
        "size": d.size, "fit": d.fit, "data_root": str(images.root), "set": images.name,
        "targets": {"lum_mean": targets.lum[0], "lum_sd": targets.lum[1], "n_images": targets.n_images},
        "shards": len(tasks), "seconds": {"stats": t_stats, "match": t_match},
        "config": {"data": to_dict(d), "shine": scfg},
    }
    atomic_write_json(out / "shine.json", summary)
    return summary


__all__ = ["MODE_STEPS", "ShineOutput", "ShineTargets", "compute_targets", "forward_buffer", "group_match_task",
           "group_stats_task", "match_arrays", "out_name", "reduce_targets", "run_shine", "run_shine_groups",
           "safe_lum_target", "shine_match_shard", "shine_stats_shard", "steps_for"]
