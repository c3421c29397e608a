"""Helpers of the normalise tests: tiny two-group image folders made in tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from qdemo.normalise import NormaliseConfig


def tiny_cfg(steps: int = 4) -> NormaliseConfig:
    """Pix2pix settings small enough for tests: 16 px, a 3-level U-Net, the tiny emotion model
    as D_emo and critic, checkpoints and samples every 2 steps."""
    cfg = NormaliseConfig()
    cfg.data.size = 16
    cfg.shine.mode = "lum"
    t = cfg.train
    t.steps, t.batch_size, t.ngf, t.depth, t.ndf, t.d_layers = steps, 4, 4, 3, 8, 2
    t.emotion_model, t.checkpoint_every, t.sample_every, t.log_every = "tiny", 2, 2, 1
    t.test_fraction, t.threads = 0.25, 1
    cfg.report.critic = "tiny"
    return cfg


def make_groups(root: Path, n_per_group: int = 4, size: int = 32, seed: int = 0) -> Path:
    """Folder with sub-folders dark/ and bright/ of seeded textured RGB PNGs: the groups
    differ in mean luminance and in spectrum (bright ones are smoother)."""
    rng = np.random.default_rng(seed)
    for g, (base, smooth) in {"dark": (60, 1), "bright": (170, 4)}.items():
        (root / g).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_group):
            noise = rng.normal(0, 40, (size // smooth, size // smooth, 3))
            noise = np.kron(noise, np.ones((smooth, smooth, 1)))
            ramp = np.linspace(-20, 20, size)[None, :, None]
            tint = rng.normal(0, 15, (1, 1, 3))
            arr = np.clip(base + noise + ramp + tint, 0, 255).astype(np.uint8)
            Image.fromarray(arr, "RGB").save(root / g / f"img{i}.png")
    return root
