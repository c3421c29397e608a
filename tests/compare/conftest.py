"""Fixtures for the comparison tests: a tiny generator checkpoint, fake archives, photos."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (fixture in tests/conftest.py)."""


@pytest.fixture()
def tiny_generator(tmp_path: Path) -> Path:
    """An untrained, seeded 16 px generator saved as safetensors + JSON."""
    from qdemo.generator import Generator, GeneratorArch, save_generator

    torch.manual_seed(0)
    gen = Generator(GeneratorArch(resolution=16, z_dim=8, channels=4, embed_dim=8)).eval()
    return save_generator(gen, tmp_path / "gen" / "generator.safetensors", {"train_seconds": 0.0})


TINY_SHAPES = {"palette": "bicolour", "shapes": 2}
"""Options of the tiny shapes renderer of the tiny shapes generator (and of the fake runs)."""


@pytest.fixture()
def tiny_shapes_generator(tmp_path: Path) -> Path:
    """An untrained, seeded 16 px generator drawing through the shapes renderer (2 shapes, bicolour)."""
    from qdemo.generator import RenderedArch, RenderedGenerator, save_generator

    torch.manual_seed(0)
    gen = RenderedGenerator(RenderedArch(renderer="shapes", options=dict(TINY_SHAPES), resolution=16, z_dim=4,
                                         width=16, layers=1, embed_dim=4)).eval()
    return save_generator(gen, tmp_path / "gen_shapes" / "generator.safetensors", {"train_seconds": 2.0})


def shapes_description(res: int = 16) -> dict:
    """The manifest's ``renderer`` of a run drawn with the tiny shapes renderer."""
    from qdemo.render.shapes import ShapeRenderer

    return ShapeRenderer(resolution=res, **TINY_SHAPES).describe()


def write_archive(folder: Path, *, cells=(4, 4, 2), n: int = 8, seed: int = 0, res: int = 16,
                  renderer: dict | None = None) -> Path:
    """A run folder in the docs/formats.md layout with ``n`` random elites (drawn, says its
    manifest, by the tiny shapes renderer unless ``renderer`` says otherwise)."""
    rng = np.random.default_rng(seed)
    (folder / "elites").mkdir(parents=True, exist_ok=True)
    manifest = {"grid": {"name": "vad", "dims": ["valence", "arousal", "dominance"], "cells": list(cells),
                         "ranges": [[-1, 1]] * 3}, "status": "complete", "seed": seed,
                "renderer": renderer if renderer is not None else shapes_description(res),
                "wall_s": 12.0, "metrics": {"evaluations": 640}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    idx = rng.choice(int(np.prod(cells)), n, replace=False)
    with open(folder / "archive.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "cell_v", "cell_a", "cell_d", "objective", "valence", "arousal", "dominance", "image"])
        for i in idx:
            m = np.unravel_index(int(i), cells)
            Image.fromarray((rng.random((res, res, 3)) * 255).astype(np.uint8)).save(folder / f"elites/cell_{i}.png")
            w.writerow([int(i), *map(int, m), float(rng.random() * 100), 0, 0, 0, f"elites/cell_{i}.png"])
    return folder


@pytest.fixture()
def archive_factory(tmp_path: Path):
    def make(name: str = "run_a", **kw) -> Path:
        return write_archive(tmp_path / name, **kw)
    return make


@pytest.fixture()
def photo_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(24):
        Image.fromarray((rng.random((20, 28, 3)) * 255).astype(np.uint8)).save(folder / f"p{i:02d}.jpg")
    return folder


@pytest.fixture()
def tiny_compare_config(tiny_generator: Path, tiny_shapes_generator: Path, photo_dir: Path):
    from qdemo.compare import CompareConfig

    return CompareConfig(generators=[str(tiny_shapes_generator), str(tiny_generator)], critic="tiny:1", searcher="tiny:0", samples_per_cell=3, select_from=0,
                         photos=[photo_dir], photo_resolution=16, cache_dir=None, pca_dim=6, cells_per_task=3,
                         region_bins=1, sheet_cells=3)
