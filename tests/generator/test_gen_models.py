"""Generator, projection discriminator and DiffAugment."""

from __future__ import annotations

import pytest
import torch

from qdemo.generator import DiffAugment, Discriminator, Generator, GeneratorArch

ARCH = GeneratorArch(resolution=16, z_dim=8, channels=4, embed_dim=8)


def test_generator_shape_range_and_conditioning():
    torch.manual_seed(0)
    g = Generator(ARCH)
    # make the conditional batch norm non-trivial (it starts as identity)
    with torch.no_grad():
        for p in g.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    g.eval()
    z = torch.randn(4, 8)
    c = torch.rand(4, 3) * 2 - 1
    x = g(z, c)
    assert x.shape == (4, 3, 16, 16) and x.min() >= 0 and x.max() <= 1
    # the condition changes the picture for the same latent
    assert (g(z, c) - g(z, -c)).abs().max() > 1e-3
    # eval mode: each image depends only on its own (z, c)
    assert torch.allclose(g(z[:1], c[:1]), x[:1], atol=1e-6)


def test_generator_rejects_bad_resolution():
    with pytest.raises(ValueError, match="power of two"):
        Generator(GeneratorArch(resolution=48))


def test_projection_discriminator_uses_the_condition():
    torch.manual_seed(0)
    d = Discriminator(16, 4, projection=True)
    x = torch.rand(3, 3, 16, 16)
    c = torch.rand(3, 3) * 2 - 1
    assert d(x, c).shape == (3,)
    assert (d(x, c) - d(x, -c)).abs().max() > 1e-4
    d_plain = Discriminator(16, 4, projection=False).eval()  # eval: no power-iteration update per call
    assert torch.equal(d_plain(x, c), d_plain(x, -c))


def test_diffaugment_differentiable_seeded_and_effective():
    x = torch.rand(5, 3, 16, 16, requires_grad=True)
    a, b = DiffAugment(seed=3), DiffAugment(seed=3)
    y = a(x)
    assert y.shape == x.shape
    assert torch.equal(y, b(x))  # same seed, same augmentation
    assert not torch.allclose(y, x)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # cutout alone zeroes exactly a (size/2)^2 square per image (when fully inside) or less
    cut = DiffAugment("cutout", seed=0)(torch.ones(8, 3, 16, 16))
    zeros = (cut[:, 0] == 0).flatten(1).sum(1)
    assert (zeros > 0).all() and (zeros <= 64).all()
    # translation of a constant image only brings in zero padding at the border
    t = DiffAugment("translation", seed=1, translation_ratio=0.25)(torch.ones(8, 3, 16, 16))
    assert set(t.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="unknown op"):
        DiffAugment("color,blur")


def test_zoom_is_a_resized_crop():
    # a horizontal ramp stays a monotone ramp, spans a sub-range, and the crop lies inside the image
    ramp = torch.linspace(0, 1, 32).expand(4, 3, 32, 32).contiguous().requires_grad_(True)
    z = DiffAugment("zoom", seed=2, zoom_min=0.5)(ramp)
    assert z.shape == ramp.shape
    row = z[:, 0, 16]  # (4, 32)
    assert (row.diff(dim=1) >= -1e-6).all()
    span = row[:, -1] - row[:, 0]
    assert (span > 0.45).all() and (span < 1.0).all()  # zoomed in: a smaller part of the ramp
    assert (row >= -1e-6).all() and (row <= 1 + 1e-6).all()
    z.sum().backward()
    assert torch.isfinite(ramp.grad).all() and ramp.grad.abs().sum() > 0
    # zoom_min = 1 is the identity
    same = DiffAugment("zoom", seed=2, zoom_min=1.0)(ramp.detach())
    torch.testing.assert_close(same, ramp.detach(), atol=1e-5, rtol=0)
