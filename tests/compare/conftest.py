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


def write_archive(folder: Path, *, cells=(4, 4, 2), n: int = 8, seed: int = 0, res: int = 16) -> Path:
    """A run folder in the docs/formats.md layout with ``n`` random elites."""
    rng = np.random.default_rng(seed)
    (folder / "elites").mkdir(parents=True, exist_ok=True)
    manifest = {"grid": {"name": "vad", "dims": ["valence", "arousal", "dominance"], "cells": list(cells),
                         "ranges": [[-1, 1]] * 3}, "status": "complete", "seed": seed}
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
def tiny_compare_config(tiny_generator: Path, photo_dir: Path):
    from qdemo.compare import CompareConfig

    return CompareConfig(generator=str(tiny_generator), critic="tiny:1", searcher="tiny:0", samples_per_cell=3,
                         photos=[photo_dir], photo_resolution=16, cache_dir=None, pca_dim=6, cells_per_task=3,
                         region_bins=1, sheet_cells=3)
