"""``shine.scope=group``: between-group equalisation, one Ray task per group and pass.

Groups are measured (:func:`group_stats_task`), their statistics reduced to set-wide
targets, then each group is equalised towards them (:func:`group_match_task`); both
passes are cached like the image scope. With ``shine.group_by`` beyond the folder the
groupings overlap and the set is equalised in one process (:func:`_run_groupings`).
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

from qdemo.errors import DataError, QdemoError
from qdemo.io import atomic_path, atomic_write_json

from qdemo.normalise.config import NormaliseConfig, ShineConfig
from qdemo.normalise.data import ImageSet, check_same_size, load_batch
from qdemo.normalise.shine_files import check_written, digest, output_names, refuse_unreadable, write_manifest


def group_stats_task(paths: Sequence[str], size: int | None, fit: str) -> dict[str, Any]:
    """Ray task: statistics of one group (:func:`qdemo.normalise.groupwise.group_stats`)."""
    from qdemo.normalise.groupwise import group_stats

    arrays, ok, skipped = load_batch(paths, size, fit, on_error="skip")  # the driver refuses them unless --skip-bad
    if arrays:
        check_same_size(arrays, [paths[i] for i in ok])
    return {"ok": [paths[i] for i in ok], "skipped": skipped,
            "stats": group_stats(arrays) if arrays else None}


def group_match_task(paths: Sequence[str], outs: Sequence[str], size: int | None, fit: str,
                     targets: dict[str, Any], iterations: int, seed: int) -> dict[str, Any]:
    """Ray task: equalise one group towards the set-wide targets and write PNGs (atomically)."""
    from PIL import Image

    from qdemo.normalise.groupwise import equalise_group

    arrays, ok, _ = load_batch(paths, size, fit, on_error="skip")
    written: list[str] = []
    if not arrays:  # every file of the group became unreadable since it was measured
        return {"written": written}
    for i, im in zip(ok, equalise_group(arrays, targets, iterations, seed)):
        with atomic_path(outs[i]) as tmp:
            Image.fromarray(im, "RGB").save(tmp, format="PNG")
        written.append(outs[i])
    return {"written": written}


def _check_group_config(s: ShineConfig) -> None:
    """The group scope's own steps need mode full, colour luminance and a valid ``group_by``."""
    from qdemo.normalise.groupwise import check_group_by

    if s.mode != "full" or s.color != "luminance":
        raise QdemoError(f"shine.scope=group runs its own luminance steps (radial spectrum, contrast, tone curve): "
                         f"use mode full and color luminance, not mode {s.mode} / color {s.color}")
    if s.group_iterations < 1:
        raise QdemoError(f"shine.group_iterations={s.group_iterations}: must be at least 1")
    try:
        check_group_by(s.group_by)
    except ValueError as exc:
        raise QdemoError(str(exc)) from None


def _group_targets(images: ImageSet, paths: dict[str, list[str]], cfg: NormaliseConfig, run: Callable[..., dict]
                   ) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]], dict[str, Any]]:
    """Pass 1: measure every group (one cached task each). Returns (per-group results,
    skipped files, set-wide targets); refuses unreadable files unless ``data.on_error=skip``."""
    from qdemo.normalise.groupwise import set_targets

    d = cfg.data
    key_of = {g: f"gstats-{digest(p, d.size, d.fit)}-{digest(g)}" for g, p in paths.items()}  # names: any text
    tasks = {key_of[g]: (p, d.size, d.fit) for g, p in paths.items()}
    res = run(group_stats_task, tasks, desc="group stats")
    by_group = {g: res[key_of[g]] for g in paths}
    skipped = [tuple(x) for r in by_group.values() for x in r["skipped"]]
    refuse_unreadable(skipped, d.on_error)  # in the driver: a cached --skip-bad result must not pass
    empty = [g for g, r in by_group.items() if r["stats"] is None]
    if empty:
        raise DataError(f"{images.root}: group(s) {', '.join(empty)} have no readable image")
    try:
        targets = set_targets([r["stats"] for r in by_group.values()], list(by_group))
    except ValueError as exc:
        raise DataError(f"{images.root}: {exc}; pass --size to work at one size") from None
    return by_group, skipped, targets


def run_shine_groups(images: ImageSet, out: Path, cfg: NormaliseConfig, *, address: str | None = None,
                     backend: str = "ray", num_cpus: int | None = None, cpus_per_task: float = 1.0,
                     use_cache: bool = True) -> dict[str, Any]:
    """``shine.scope=group``: between-group equalisation, one Ray task per group and pass
    (measure, then equalise), cached like the image scope. Same output folder layout.
    With ``shine.group_by`` beyond the folder, :func:`_run_groupings` (one process)."""
    from qdemo.config import to_dict
    from qdemo.normalise.data import group_indices
    from qdemo.parallel import run_tasks

    d, s = cfg.data, cfg.shine
    _check_group_config(s)
    if tuple(s.group_by) != ("folder",):
        return _run_groupings(images, out, cfg)
    groups = group_indices(images.groups)
    if len(groups) < 2:
        raise DataError(f"{images.root}: shine.scope=group needs at least two groups (folders / categories); "
                        f"found {len(groups)} ({', '.join(groups) or 'none'})")
    out.mkdir(parents=True, exist_ok=True)
    run = partial(run_tasks, cache_dir=out / "cache" if use_cache else None, address=address, backend=backend,
                  num_cpus=num_cpus, cpus_per_task=cpus_per_task)
    paths = {g: [str(images.paths[i]) for i in idx] for g, idx in groups.items()}
    t0 = time.perf_counter()
    by_group, skipped, targets = _group_targets(images, paths, cfg, run)
    t_stats = time.perf_counter() - t0
    ok_paths = {p for r in by_group.values() for p in r["ok"]}
    ok = [i for i, p in enumerate(images.paths) if str(p) in ok_paths]
    names = output_names(images, ok)
    tag = digest(targets, s.group_iterations, s.seed)
    tasks = {}
    for g, idx in groups.items():
        keep = [i for i in idx if i in names]
        sp = [str(images.paths[i]) for i in keep]
        so = [str(out / "images" / names[i]) for i in keep]
        tasks[f"gmatch-{tag}-{digest(sp, d.size, d.fit)}-{digest(g)}"] = (sp, so, d.size, d.fit, targets,
                                                                   s.group_iterations, s.seed)
    t1 = time.perf_counter()
    results = run(group_match_task, tasks, desc="group equalise")
    t_match = time.perf_counter() - t1
    check_written(results, names, out, "group equalisation")
    write_manifest(images, ok, names, out)
    (out / "targets.npz").unlink(missing_ok=True)  # an image-scope run's targets; not this run's
    summary = {
        "mode": "full", "scope": "group", "group_by": ["folder"],
        "steps": ["radial spectrum", "contrast", "tone curve"], "iterations": s.group_iterations,
        "color": s.color, "n_images": len(ok), "n_groups": len(groups),
        "n_skipped": len(skipped), "skipped": [{"file": f, "reason": r} for f, r in skipped],
        "size": d.size, "fit": d.fit, "data_root": str(images.root), "set": images.name,
        "targets": {"contrast": targets["contrast"], "n_images": targets["n_images"]},
        "shards": len(tasks), "seconds": {"stats": t_stats, "match": t_match},
        "config": {"data": to_dict(d), "shine": to_dict(s)},
    }
    atomic_write_json(out / "shine.json", summary)
    return summary


def _run_groupings(images: ImageSet, out: Path, cfg: NormaliseConfig) -> dict[str, Any]:
    """``shine.group_by`` beyond the folder: several groupings equalised at once. Their groups
    overlap, so the set is equalised in one process (seconds for hundreds of small images),
    not in one Ray task per group; an interrupted run starts again, and no output is written
    before every image is equalised."""
    from PIL import Image

    from qdemo.config import to_dict
    from qdemo.normalise.groupwise import equalise_partitions, groupings_of

    d, s = cfg.data, cfg.shine
    t0 = time.perf_counter()
    arrays, ok, skipped = load_batch(images.paths, d.size, d.fit, on_error="skip")
    refuse_unreadable(skipped, d.on_error)
    check_same_size(arrays, [images.paths[i] for i in ok])
    ratings = images.targets[ok] if images.targets is not None else None
    t_load = time.perf_counter() - t0
    try:
        parts = groupings_of([images.groups[i] for i in ok], ratings, s.group_by, where=str(images.root))
        eq = equalise_partitions(arrays, parts, s.group_iterations, s.seed, names=list(s.group_by))
    except ValueError as exc:
        raise DataError(f"{images.root}: {exc}") from None
    t_match = time.perf_counter() - t0 - t_load
    names = output_names(images, ok)
    out.mkdir(parents=True, exist_ok=True)
    for i, im in zip(ok, eq):
        with atomic_path(out / "images" / names[i]) as tmp:
            Image.fromarray(im, "RGB").save(tmp, format="PNG")
    write_manifest(images, ok, names, out)
    (out / "targets.npz").unlink(missing_ok=True)  # an image-scope run's targets; not this run's
    sizes = {name: {g: sum(1 for x in labels if x == g) for g in sorted({x for x in labels if x is not None})}
             for name, labels in zip(s.group_by, parts)}
    summary = {
        "mode": "full", "scope": "group", "group_by": list(s.group_by), "group_sizes": sizes,
        "steps": ["radial spectrum", "contrast", "tone curve"], "iterations": s.group_iterations,
        "color": s.color, "n_images": len(ok), "n_groups": sum(len(v) for v in sizes.values()),
        "n_skipped": len(skipped), "skipped": [{"file": f, "reason": r} for f, r in skipped],
        "size": d.size, "fit": d.fit, "data_root": str(images.root), "set": images.name,
        "shards": 1, "seconds": {"stats": t_load, "match": t_match},  # stats: loading; equalising measures too
        "config": {"data": to_dict(d), "shine": to_dict(s)},
    }
    atomic_write_json(out / "shine.json", summary)
    return summary


__all__ = ["group_match_task", "group_stats_task", "run_shine_groups"]
