"""Fixtures for the generator tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (fixture in tests/conftest.py)."""


@pytest.fixture()
def tiny_generator_path(tmp_path: Path) -> Path:
    """An untrained, seeded 16 px generator saved as safetensors + JSON."""
    from qdemo.generator import Generator, GeneratorArch, save_generator

    torch.manual_seed(0)
    gen = Generator(GeneratorArch(resolution=16, z_dim=8, channels=4, embed_dim=8))
    with torch.no_grad():  # make the conditioning visible (conditional batch norm starts as identity)
        for p in gen.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return save_generator(gen.eval(), tmp_path / "gen" / "generator.safetensors", {"train_seconds": 0.0})
