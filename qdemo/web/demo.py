"""Small synthetic archive / comparison / stimulus folders in the documented formats.

Used by the tests and by :mod:`qdemo.web.screenshots` when no real run is given. The
images are procedural (hue follows valence, stripe frequency follows arousal, size of the
central disc follows dominance) so that a page of them is easy to read at a glance.
Everything follows ``docs/formats.md``; nothing here is a model prediction.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

DIMS = ("valence", "arousal", "dominance")


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
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


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
    """Write a run folder ``out`` (format of ``qdemo evolve``) with seeded fake elites."""
    out = Path(out)
    (out / "elites").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cells = [int(c) for c in cells]
    ndim = len(cells)
    ranges = [[-1.0, 1.0]] * ndim
    header = ["index", "cell_v", "cell_a", "cell_d"][: 1 + ndim] + [
        "objective", *DIMS, *(f"{d}_sd" for d in DIMS), *(f"critic_{d}" for d in DIMS),
        "critic_same_cell", "critic_within_one", "image",
    ]
    rows, sols = [], []
    for coords in np.ndindex(*cells):
        if rng.random() > fill:
            continue
        idx = int(np.ravel_multi_index(coords, cells))
        centre = [-1 + (c + 0.5) * 2 / n for c, n in zip(coords, cells)]
        vad = [float(np.clip(x + rng.normal(0, 0.05), -1, 1)) for x in centre] + [float(rng.uniform(-.5, .5))] * (3 - ndim)
        sd = [float(rng.uniform(0.01, 0.2)) for _ in range(3)]
        objective = float(np.clip(100 - 60 * rng.random() ** 2, 0, 100))
        row: list = [idx, *coords, round(objective, 3), *[round(x, 4) for x in vad], *[round(s, 4) for s in sd]]
        if critic:
            cv = [float(np.clip(x + rng.normal(0, 0.25), -1, 1)) for x in vad]
            ccell = [min(n - 1, max(0, int((x + 1) / 2 * n))) for x, n in zip(cv, cells)]
            same = int(list(ccell) == list(coords))
            within = int(all(abs(a - b) <= 1 for a, b in zip(ccell, coords)))
            row += [round(x, 4) for x in cv] + [same, within]
        else:
            row += ["", "", "", "", ""]
        rel = f"elites/cell_{idx}.png"
        procedural_image(vad, image_size, seed=idx).save(out / rel)
        row.append(rel)
        rows.append(row)
        sols.append(rng.normal(size=8))
    _write_csv(out / "archive.csv", header, rows)
    np.save(out / "solutions.npy", np.asarray(sols, dtype=np.float32).reshape(len(rows), 8))
    n_cells = int(np.prod(cells))
    manifest = {
        "qdemo_version": "demo", "versions": {}, "created": "2026-01-01T00:00:00Z", "status": status,
        "seed": seed, "command": "demo",
        "grid": {"name": "vad" if ndim == 3 else "va", "dims": list(DIMS[:ndim]), "cells": cells, "ranges": ranges},
        "renderer": {"name": "demo", "solution_dim": 8, "resolution": image_size},
        "emitter": "demo",
        "models": {"searcher": {"name": "demo", "sha256": None, "human_rated": ["valence", "arousal"], "proxy": ["dominance"]},
                   "critic": {"name": "demo", "sha256": None, "human_rated": ["valence", "arousal"], "proxy": ["dominance"]}},
        "metrics": {"qd_score": None, "qd_score_normalised": None, "coverage": len(rows) / n_cells, "best": None,
                    "evaluations": None, "critic_confirmed": None, "critic_within_one_cell": None, "dataset_coverage": None},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (out / "config.yaml").write_text(f"seed: {seed}\n")
    if reference:
        (out / "reference").mkdir(exist_ok=True)
        ref_rows = []
        for k in range(reference):
            vad = [float(x) for x in rng.uniform(-1, 1, 3)]
            rel = f"reference/photo_{k:03d}.jpg"
            procedural_image(vad, 64, seed=1000 + k).save(out / rel, quality=85)
            ref_rows.append([rel, *[round(x, 4) for x in vad], f"photo {k}"])
        _write_csv(out / "reference.csv", ["image", *DIMS, "name"], ref_rows)
    return out


def make_demo_compare(out: str | Path, archive: str | Path, *, k: int = 3, seed: int = 1) -> Path:
    """Write a comparison folder with ``k`` generator samples per elite of ``archive``."""
    out, archive = Path(out), Path(archive)
    (out / "samples").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with open(archive / "archive.csv", newline="") as f:
        elites = list(csv.DictReader(f))
    rows = []
    for e in elites:
        target = [float(e[d]) for d in DIMS]
        for j in range(k):
            critic = [float(np.clip(x + rng.normal(0, 0.2), -1, 1)) for x in target]
            rel = f"samples/{archive.name}_{e['index']}_{j}.png"
            procedural_image(critic, 48, seed=int(e["index"]) * 10 + j + 7).save(out / rel)
            rows.append([archive.name, e["index"], j, rel, *[round(x, 4) for x in critic], *[round(x, 4) for x in target]])
    _write_csv(out / "samples.csv", ["archive", "index", "k", "image", *(f"critic_{d}" for d in DIMS),
                                     *(f"target_{d}" for d in DIMS)], rows)
    (out / "summary.json").write_text("{}\n")
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
