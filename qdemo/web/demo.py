"""Small synthetic archive / comparison / stimulus folders in the documented formats.

Used by the tests and by :mod:`qdemo.web.screenshots` when no real run is given. The
images are procedural (hue follows valence, stripe frequency follows arousal, size of the
central disc follows dominance) so that a page of them is easy to read at a glance.
Everything follows ``docs/formats.md``; nothing here is a model prediction.
"""

from __future__ import annotations

import json

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from qdemo import DIMS
from qdemo.measure_space import MeasureSpace
from qdemo.runfolder import read_run
from qdemo.tables import table_text


def procedural_image(vad: Sequence[float], size: int = 64, seed: int = 0) -> Image.Image:
    """An RGB image whose look follows ``vad`` (canonical [-1, 1])."""
    v, a, d = (list(vad) + [0.0, 0.0, 0.0])[:3]
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    hue = (0.62 - 0.5 * (v + 1) / 2) % 1.0  # blue/purple (negative) -> yellow/orange (positive)
    freq = 2 + 10 * (a + 1) / 2
    angle = rng.uniform(0, math.pi)
    stripes = 0.5 + 0.5 * np.sin(2 * math.pi * freq * (xx * math.cos(angle) + yy * math.sin(angle)))
    val = 0.45 + 0.35 * stripes * (0.3 + 0.7 * (a + 1) / 2)
    sat = np.full_like(val, 0.35 + 0.5 * abs(v))
    r = np.hypot(xx - 0.5, yy - 0.5)
    disc = r < 0.12 + 0.2 * (d + 1) / 2
    val = np.where(disc, np.clip(val + 0.25, 0, 1), val)
    hsv = np.stack([np.full_like(val, hue), sat, val], -1)
    return Image.fromarray((hsv * 255).astype(np.uint8), "HSV").convert("RGB")


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    from qdemo.io import atomic_write_text  # torch: only when a demo folder is written

    atomic_write_text(path, table_text(header, rows))


def make_demo_archive(
    out: str | Path,
    *,
    cells: Sequence[int] = (6, 6, 3),
    fill: float = 0.7,
    seed: int = 0,
    critic: bool = True,
    reference: int = 12,
    image_size: int = 48,
    status: str = "complete",
) -> Path:
    """Write a run folder ``out`` (format of ``qdemo evolve``) with seeded fake elites.

    Every file goes through the run-folder writer (:mod:`qdemo.runfolder.writer`), so the
    columns are the explorer's and every write is atomic.
    """
    from qdemo.qd.config import EvolveConfig
    from qdemo.runfolder.writer import (ArchiveTable, prepare_run_dir, write_archive, write_config,
                                        write_elite_images, write_manifest, write_solutions)

    out = prepare_run_dir(out, force=True)
    rng = np.random.default_rng(seed)
    cells = [int(c) for c in cells]
    ndim = len(cells)
    space = MeasureSpace.grid([[-1.0, 1.0]] * ndim, cells)
    el: dict[str, list] = {k: [] for k in ("index", "cells", "objective", "vad", "sd", "critic", "same", "within",
                                           "images", "sols")}
    for coords in np.ndindex(*cells):
        if rng.random() > fill:
            continue
        idx = space.ravel(coords)
        centre = space.centre(coords)
        vad = [float(np.clip(x + rng.normal(0, 0.05), -1, 1)) for x in centre] + [float(rng.uniform(-.5, .5))] * (3 - ndim)
        el["sd"].append([float(rng.uniform(0.01, 0.2)) for _ in range(3)])
        el["objective"].append(float(np.clip(100 - 60 * rng.random() ** 2, 0, 100)))
        if critic:
            cv = [float(np.clip(x + rng.normal(0, 0.25), -1, 1)) for x in vad]
            same, within = space.agreement([idx], vad=[cv])  # where the grid places the critic's reading
            el["critic"].append(cv)
            el["same"].append(bool(same[0]))
            el["within"].append(bool(within[0]))
        el["index"].append(idx)
        el["cells"].append(list(coords))
        el["vad"].append(vad)
        el["images"].append(procedural_image(vad, image_size, seed=idx))
        el["sols"].append(rng.normal(size=8))
    n = len(el["index"])
    images = write_elite_images(out, el["index"], el["images"])
    write_archive(out, ArchiveTable(
        index=np.asarray(el["index"], dtype=np.int64), cells=np.asarray(el["cells"], dtype=np.int64).reshape(n, ndim),
        objective=np.asarray(el["objective"]), vad=np.asarray(el["vad"]).reshape(n, 3),
        vad_sd=np.asarray(el["sd"]).reshape(n, 3), critic_vad=np.asarray(el["critic"]).reshape(n, 3) if critic else None,
        critic_same_cell=np.asarray(el["same"]) if critic else None,
        critic_within_one=np.asarray(el["within"]) if critic else None, image=images))
    write_solutions(out, np.asarray(el["sols"], dtype=np.float32).reshape(n, 8))
    write_manifest(out, _demo_manifest(space, n, seed=seed, status=status, image_size=image_size))
    write_config(out, EvolveConfig(seed=seed, name=out.name))
    if reference:
        _demo_reference(out, rng, space, reference)
    return out


def _demo_reference(out: Path, rng: np.random.Generator, space: MeasureSpace, n: int) -> None:
    """``n`` procedural "photos" with random VAD as reference.csv + thumbnails."""
    from qdemo.runfolder.writer import write_reference

    vad = rng.uniform(-1, 1, (n, 3))  # (n, 3)
    sd = rng.uniform(0.01, 0.2, (n, 3))  # (n, 3)
    index = space.place(vad=vad).tolist()
    photos = [procedural_image(v, 64, seed=1000 + k) for k, v in enumerate(vad)]
    write_reference(out, [f"demo/photo_{k:03d}.jpg" for k in range(n)], vad, sd, index, images=photos)


def _demo_manifest(space: MeasureSpace, n: int, *, seed: int, status: str, image_size: int) -> dict:
    from qdemo.runfolder.schema import METRIC_KEYS

    models = {role: {"name": "demo", "sha256": None, "human_rated": ["valence", "arousal"], "proxy": ["dominance"]}
              for role in ("searcher", "critic")}
    metrics = dict.fromkeys(METRIC_KEYS)
    metrics["coverage"] = n / space.size
    return {
        "qdemo_version": "demo", "versions": {}, "created": "2026-01-01T00:00:00Z", "status": status,
        "seed": seed, "command": "demo",
        "grid": space.to_manifest(),
        "renderer": {"name": "demo", "solution_dim": 8, "resolution": image_size},
        "emitter": "demo", "models": models, "metrics": metrics,
    }


def make_demo_compare(out: str | Path, archive: str | Path, *, k: int = 3, seed: int = 1,
                      sources: tuple[str, ...] = ("generator",)) -> Path:
    """Write a comparison folder with ``k`` samples per elite of ``archive`` from each of
    ``sources`` (e.g. ``generator-shapes``, ``generator-pixels``) and a summary.json whose
    metrics put those sources beside the explorer (made-up numbers in the real layout)."""
    out, archive = Path(out), Path(archive)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    run = read_run(archive, require=DIMS)
    rows = []
    for i, index in enumerate(run.indices):
        target = [run.value(d, i) for d in DIMS]
        for s, source in enumerate(sources):
            for j in range(k):
                critic = [float(np.clip(x + rng.normal(0, 0.2), -1, 1)) for x in target]
                rel = f"samples/{archive.name}_{source}_{index}_{j}.png"
                procedural_image(critic, 48, seed=index * 10 + j + 7 + 1000 * s).save(out / rel)
                rows.append([archive.name, source, index, j, rel, *[round(x, 4) for x in critic],
                             *[round(x, 4) for x in target]])
    _write_csv(out / "samples.csv", ["archive", "source", "index", "k", "image", *(f"critic_{d}" for d in DIMS),
                                     *(f"target_{d}" for d in DIMS)], rows)
    names = ["explorer", *sources]
    metrics = {m: {**{s: round(float(rng.uniform(0.1, 1.0)), 3) for s in names}} for m in
               ("critic_error", "coverage", "diversity", "nearest_real", "cost_per_usable_image")}
    metrics["within_cell_diversity"] = {s: round(float(rng.uniform(0.1, 1.0)), 3) for s in sources}
    for m, row in metrics.items():
        pick = min if m in ("critic_error", "nearest_real", "cost_per_usable_image") else max
        row["winner"] = pick(row, key=row.get)
    summary = {"archives": {archive.name: {"sources": names, "metrics": metrics, "left_out": {}}},
               "generators": {s: {"stale": None} for s in sources}, "tolerance": 0.25}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return out


def make_demo_stimuli(out: str | Path, n: int = 12, *, seed: int = 2, size: int = 48) -> Path:
    """Write a stimulus set (format of ``qdemo export-study``) with ``n`` blinded images."""
    out = Path(out)
    (out / "stimuli").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sources = ["elite", "generator", "photo"]
    stim_rows, key_rows = [], []
    for i in range(n):
        sid = f"s{i:04d}"
        intended = [float(x) for x in rng.uniform(-1, 1, 3)]
        predicted = [float(np.clip(x + rng.normal(0, 0.2), -1, 1)) for x in intended]
        procedural_image(intended, size, seed=i).save(out / "stimuli" / f"{sid}.png")
        stim_rows.append([sid, f"stimuli/{sid}.png"])
        src = sources[i % 3]
        key_rows.append([sid, src, *[round(x, 4) for x in intended], *[round(x, 4) for x in predicted],
                         f"demo/{src}/{i}.png"])
    order = rng.permutation(n)
    _write_csv(out / "stimuli.csv", ["stimulus_id", "file"], [stim_rows[i] for i in order])
    _write_csv(out / "key.csv", ["stimulus_id", "source", *(f"intended_{d}" for d in DIMS),
                                 *(f"predicted_{d}" for d in DIMS), "origin"], key_rows)
    return out


__all__ = ["make_demo_archive", "make_demo_compare", "make_demo_stimuli", "procedural_image"]
