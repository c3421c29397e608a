"""Shared fixtures. Tests use tiny seeded sizes and never touch the network.

Tests that want the real rated data use the ``datasets_dir`` fixture, which skips (with
the reason) when ``../shared/datasets`` is absent: the suite must pass without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _datasets_path() -> Path:
    env = os.environ.get("QDEMO_DATASETS")
    return Path(env) if env else REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """``../shared/datasets`` (or $QDEMO_DATASETS); skips the test when absent."""
    path = _datasets_path()
    if not (path / "oasis" / "OASIS.csv").exists():
        pytest.skip(f"real datasets not found at {path} (optional resource)")
    return path


@pytest.fixture()
def one_torch_thread():
    """Run the test with one torch thread (tiny tensors are faster so; restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def tiny_model():
    """A seeded, untrained 3-member ensemble with the EmotionModel contract (32 px)."""
    from qdemo.emotion import TinyEmotionModel

    torch.manual_seed(0)
    return TinyEmotionModel(seed=0).eval()


@pytest.fixture()
def image_dir(tmp_path: Path) -> Path:
    """A folder with 6 small seeded RGB PNGs named img0.png..img5.png."""
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(6):
        arr = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
        Image.fromarray(arr, "RGB").save(folder / f"img{i}.png")
    return folder


@pytest.fixture()
def tiny_evolve_cfg(tmp_path: Path):
    """``make(**overrides)`` -> a validated tiny EvolveConfig (tiny models, 16 px pixels renderer,
    4x4x3 grid, 4 iterations of 8, checkpoints every 2, run folders under ``tmp_path``)."""
    from qdemo.config import load_config
    from qdemo.qd.config import EvolveConfig

    def make(**over) -> "EvolveConfig":
        base = {"iterations": 4, "batch_size": 8, "emitter.num_emitters": 2, "searcher": "tiny",
                "critic": "tiny:1", "renderer.name": "pixels", "renderer.resolution": 16,
                "grid.cells": [4, 4, 3], "out_root": str(tmp_path), "checkpoint_every": 2, "device": "cpu"}
        base.update(over)
        return load_config(EvolveConfig, None, base)

    return make
