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


def make_tiny_dist_model(seed: int = 0):
    """A seeded tiny :class:`~qdemo.emotion.model.VADRegressor` WITH a distribution head (``--grid
    emotions`` needs one; ``TinyEmotionModel`` has none): tiny backbone, 32 px, 3 members, its
    features standardised on blurred noise and random heads, so different renders land on
    different emotions."""
    import torch.nn.functional as F

    from qdemo.emotion.model import ModelSpec, RegressorMeta, VADRegressor

    with torch.random.fork_rng():  # the tiny backbone's conv biases come from the global generator
        torch.manual_seed(seed)
        model = VADRegressor(ModelSpec(backbone="tiny", resolution=32, members=3, dist_head=True, seed=seed),
                             RegressorMeta(name=f"tiny-dist-{seed}")).eval()
    gen = torch.Generator().manual_seed(seed)
    calib = F.interpolate(torch.rand(64, 3, 4, 4, generator=gen), size=(16, 16), mode="bilinear",
                          align_corners=False)  # (64, 3, 16, 16)
    with torch.no_grad():
        f = model.raw_features(model.prepare(calib))  # (64, K, F)
        model.feat_mean.copy_(f.mean(0))
        model.feat_std.copy_(f.std(0) + 1e-6)
        for p in (model.head_weight, model.dist_weight):
            p.copy_(torch.randn(p.shape, generator=gen))
    model.requires_grad_(False)
    return model


@pytest.fixture()
def tiny_dist_model():
    """``make(seed=0)`` -> a tiny emotion model with a distribution head (:func:`make_tiny_dist_model`)."""
    return make_tiny_dist_model


@pytest.fixture()
def tiny_dist_weights(tmp_path: Path):
    """``make(seed=0)`` -> path of a .safetensors file of :func:`make_tiny_dist_model` (a model spec)."""
    from qdemo.emotion.zoo import save_model

    def make(seed: int = 0) -> Path:
        path = tmp_path / "weights" / f"tiny-dist-{seed}.safetensors"
        path.parent.mkdir(exist_ok=True)
        if not path.exists():
            save_model(make_tiny_dist_model(seed), path, half=False)
        return path

    return make


@pytest.fixture()
def emotions_run(tiny_evolve_cfg, tiny_dist_model):
    """``make(name, **overrides)`` -> a finished tiny ``--grid emotions`` run folder (cppn 16 px,
    tiny distribution-head searcher and critic (``critic='none'``: no critic), 6 iterations of 16)."""
    from qdemo.runfolder import run_evolve

    def make(name: str = "emo", **over) -> Path:
        base = {"grid.name": "emotions", "renderer.name": "cppn", "iterations": 6, "batch_size": 16,
                "name": name}
        base.update(over)
        cfg = tiny_evolve_cfg(**base)
        critic = None if cfg.critic == "none" else tiny_dist_model(1)
        return run_evolve(cfg, searcher=tiny_dist_model(0), critic=critic, progress=False).out_dir

    return make
