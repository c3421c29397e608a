"""The generator in a renderer's parameter space, the mode-seeking term, generator kinds and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qdemo.errors import CheckpointError, ConfigError
from qdemo.generator import GeneratorConfig, RenderedArch, RenderedGenerator, load_generator, train
from qdemo.generator.diversity import augment_pairs, mode_seeking_loss, paired_conditions
from qdemo.generator.models import DiffAugment
from qdemo.render.base import Renderer

TINY = dict(renderer="shapes", options={"palette": "bicolour", "shapes": 2}, resolution=16, z_dim=4, width=16,
            layers=1, embed_dim=4)


class FlatRenderer(Renderer):
    """A renderer with no differentiable path (it rounds its parameters)."""

    name = "flat"

    def __init__(self, *, resolution: int = 16, seed: int = 0):
        super().__init__()
        self.resolution, self.solution_dim = resolution, 3

    def forward(self, solutions: torch.Tensor) -> torch.Tensor:
        colour = torch.sigmoid(solutions.round().detach())  # (B, 3)
        return colour[:, :, None, None].expand(-1, 3, self.resolution, self.resolution)


def _cfg(out: Path, **kw) -> GeneratorConfig:
    base = dict(out=out, renderer="shapes", renderer_options=dict(TINY["options"]), resolution=16, z_dim=4,
                d_channels=4, embed_dim=4, mlp_width=16, mlp_layers=1, batch_size=8, steps=4, searcher="tiny",
                cache_dir=None, device="cpu", log_every=2, sample_every=2, checkpoint_every=2, lambda_emo=20.0,
                lambda_div=1.0, cond_ranges=[[-0.9, 0.8], [-0.7, 0.55], [-0.4, 0.45]])
    base.update(kw)
    return GeneratorConfig(**base)


@pytest.fixture()
def photos() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return ((torch.rand(16, 1, 16, 16, generator=g) > 0.5) * 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


def test_rendered_generator_draws_through_the_renderer():
    g = RenderedGenerator(RenderedArch(**TINY))
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    c = torch.zeros(6, 3)
    img = g(z, c)
    assert img.shape == (6, 3, 16, 16) and img.min() >= 0 and img.max() <= 1
    params = g.params(z, c)
    assert params.shape == (6, g.renderer.solution_dim)
    assert torch.allclose(img, g.renderer(params))  # the images are the renderer's, of these parameters
    assert (img[0] - img[1]).abs().mean() > 0.01  # latents already give different compositions
    (img * torch.linspace(0, 1, 16)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for n, p in g.named_parameters() if n.startswith("out."))
    assert g.source_name == "shapes"


def test_renderer_without_a_differentiable_path_is_refused(monkeypatch):
    import qdemo.render.base as base

    monkeypatch.setitem(base.RENDERERS, "flat", f"{__name__}:FlatRenderer")
    with pytest.raises(ConfigError, match="renderer 'flat' has no differentiable path"):
        RenderedGenerator(RenderedArch(renderer="flat", resolution=16))
    with pytest.raises(ConfigError, match="unknown renderer 'nope'"):
        RenderedGenerator(RenderedArch(renderer="nope"))
    with pytest.raises(ConfigError, match="cannot draw through another generator"):
        RenderedGenerator(RenderedArch(renderer="generator"))


def test_mode_seeking_loss_and_pairs():
    z = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 2.0]])  # pairs (0, 1), (2, 3): |dz| 1 and 2
    out = torch.tensor([[0.0], [0.5], [1.0], [1.0]])  # pair differences 0.5 and 0
    loss, ratio = mode_seeking_loss(out, z, tau=10.0)
    assert ratio.tolist() == pytest.approx([0.5, 0.0]) and loss.item() == pytest.approx(-0.25)
    capped, _ = mode_seeking_loss(out * 100, z, tau=1.0)
    assert capped.item() == pytest.approx(-0.5)  # min(50, 1) and min(0, 1)
    c = paired_conditions(torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]))
    assert torch.equal(c[0], c[1]) and torch.equal(c[2], c[3]) and not torch.equal(c[1], c[2])
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    x[1] = x[0]
    y = augment_pairs(DiffAugment("translation,cutout", seed=3), x)
    assert torch.equal(y[0], y[1]) and not torch.equal(y[0], x[0])  # one draw per pair


def test_train_a_rendered_generator_and_load_it(tmp_path, photos):
    path = train(_cfg(tmp_path / "r"), photos=photos, progress=False)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["kind"] == "rendered" and meta["arch"]["renderer"] == "shapes"
    assert meta["judge"]["name"] == "tiny-seed0" and len(meta["judge"]["sha256"]) == 64
    text = json.dumps(meta)
    assert str(tmp_path) not in text  # no machine paths: out is recorded by its name only
    g = load_generator(path, expect="shapes")
    assert g.kind == "rendered" and g(torch.zeros(2, 4), torch.zeros(2, 3)).shape == (2, 3, 16, 16)
    log = (tmp_path / "r" / "log.csv").read_text().splitlines()
    assert log[0].endswith("div_ratio") and all(np.isfinite(float(r.split(",")[-1])) for r in log[1:])
    with pytest.raises(CheckpointError, match="is a generator for the 'shapes' renderer, not a pixel generator"):
        load_generator(path, expect="pixels")


def test_mode_seeking_term_keeps_the_noise(tmp_path):
    """Against a strong emotion loss, the pixel generator's samples of one condition spread out
    more with lambda_div than without (same seeds, same steps)."""
    from qdemo.generator.sample import generate

    g = torch.Generator().manual_seed(0)
    photos = (torch.rand(24, 3, 16, 16, generator=g) * 255).to(torch.uint8)
    base = dict(renderer=None, resolution=16, z_dim=8, g_channels=4, d_channels=4, embed_dim=8, batch_size=8,
                steps=60, searcher="tiny", cache_dir=None, device="cpu", log_every=10, sample_every=100,
                checkpoint_every=100, lambda_emo=100.0, lr_g=2e-3, augment="", emo_augment="", div_space="image",
                ema_decay=0.0)

    def spread(path: Path) -> float:
        imgs = generate(load_generator(path), [[0.5, -0.5, 0.0]] * 8, seed=3)
        return float(torch.pdist(imgs.flatten(1)).mean())

    plain = spread(train(GeneratorConfig(out=tmp_path / "a", **base), photos=photos, progress=False))
    seeking = spread(train(GeneratorConfig(out=tmp_path / "b", lambda_div=20.0, div_tau=5.0, **base), photos=photos,
                           progress=False))
    assert seeking > 1.1 * plain  # measured: 4.91 vs 4.21


def test_bad_generator_files_are_named(tmp_path, tiny_generator_path):
    from qdemo.normalise.models import GeneratorSpec, UNetGenerator
    from qdemo.normalise.weights_io import save_generator as save_normaliser

    norm = save_normaliser(UNetGenerator(GeneratorSpec(ngf=4, depth=2, resolution=16)), tmp_path / "n" / "norm")
    with pytest.raises(CheckpointError, match=r"norm.safetensors: a qdemo normaliser \(pix2pix\), not a generator"):
        load_generator(norm)
    from qdemo.emotion.zoo import shipped_path

    with pytest.raises(CheckpointError, match=r"searcher.safetensors: a qdemo emotion model \(searcher-"):
        load_generator(shipped_path("searcher"))
    garbage = tmp_path / "g.safetensors"
    garbage.write_bytes(b"nonsense")
    with pytest.raises(CheckpointError, match="g.safetensors: not a safetensors file"):
        load_generator(garbage)
    with pytest.raises(CheckpointError, match="is a pixel generator, not one for the 'shapes' renderer"):
        load_generator(tiny_generator_path, expect="shapes")


def test_generator_train_cli_renderer_flag(tmp_path, monkeypatch, capsys):
    """--renderer shapes reads configs/generator-shapes.yaml; --renderer NAME drops the shapes options."""
    import importlib

    from qdemo.cli import main

    train_mod = importlib.import_module("qdemo.generator.train")
    seen = {}
    monkeypatch.setattr(train_mod, "train", lambda cfg, **kw: seen.setdefault("cfg", cfg) and tmp_path / "w")
    assert main(["generator", "train", "--renderer", "shapes", "--out", str(tmp_path / "s")]) == 0
    cfg = seen.pop("cfg")
    assert cfg.renderer == "shapes" and cfg.renderer_options == {"palette": "bicolour"}
    assert any("bass" in str(p) for p in cfg.photos) and "generator-shapes.yaml" in capsys.readouterr().err
    assert main(["generator", "train", "--renderer", "fourier", "--out", str(tmp_path / "f")]) == 0
    assert seen["cfg"].renderer == "fourier" and seen["cfg"].renderer_options == {}


def test_init_weights_starts_from_a_generator_file(tmp_path, photos):
    first = train(_cfg(tmp_path / "a", steps=2), photos=photos, progress=False)
    warm = _cfg(tmp_path / "b", steps=0, init_weights=first)
    second = train(warm, photos=photos, progress=False)
    ga, gb = load_generator(first), load_generator(second)
    assert all(torch.equal(x, y) for x, y in zip(ga.state_dict().values(), gb.state_dict().values()))
    meta = json.loads(second.with_suffix(".json").read_text())
    assert meta["init_weights"]["file"] == "generator.safetensors" and meta["init_weights"]["steps"] == 2
    assert meta["init_weights"]["judge"] == meta["judge"] and str(tmp_path) not in json.dumps(meta)
    other = _cfg(tmp_path / "c", steps=0, init_weights=first, mlp_width=8)
    with pytest.raises(CheckpointError, match="architecture .* differs from this config's"):
        train(other, photos=photos, progress=False)


def test_parameter_prior_and_contrast_floor(photos):
    from qdemo.generator.trainer import GeneratorTrainer

    tr = GeneratorTrainer(_cfg(Path("unused"), lambda_prior=2.0, lambda_contrast=10.0, contrast_floor=0.2),
                          photos=photos, progress=False)
    x0 = tr.G.x0.expand(4, -1)
    flat = torch.full((4, 3, 16, 16), 0.5)
    assert float(tr._regularisers(flat, x0)) == pytest.approx(10.0 * 0.2)  # no contrast at all, params at x0
    halves = torch.zeros(4, 3, 16, 16)
    halves[..., :8] = 1.0  # grey sd 0.5 > floor
    assert float(tr._regularisers(halves, x0 + 1.0)) == pytest.approx(2.0 * 1.0)
    off = tr._regularisers(flat, (x0 + 0.5).requires_grad_(True))
    assert off.requires_grad
