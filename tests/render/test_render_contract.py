"""Contract every registered renderer satisfies (parametrised over RENDERERS)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qdemo.errors import QdemoError
from qdemo.render import RENDERERS, Renderer, make_renderer

NAMES = sorted(RENDERERS)
RES = 16


def _make(name: str, seed: int = 0) -> Renderer:
    # Every registered renderer must build here, including the generator's latent space,
    # whose weights ship with the package: a missing checkpoint is a failure, not a skip.
    return make_renderer(name, resolution=RES, seed=seed)


def _solutions(r: Renderer, n: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x0 = torch.as_tensor(r.initial_solution(), dtype=torch.float32)
    return x0 + scale * torch.randn(n, r.solution_dim, generator=g)  # (n, dim)


def test_builtin_renderers_registered():
    assert {"pixels", "fourier", "cppn"} <= set(RENDERERS)


@pytest.mark.parametrize("name", NAMES)
def test_shape_range_and_dtype(name):
    r = _make(name)
    assert isinstance(r, Renderer)
    x0 = r.initial_solution()
    assert x0.shape == (r.solution_dim,) and np.all(np.isfinite(x0))
    assert r.resolution == RES
    for scale in (0.0, 1.0, 50.0):  # far from the centre too: squashing keeps [0, 1]
        imgs = r(_solutions(r, 5, scale=scale))
        assert imgs.shape == (5, 3, RES, RES)
        assert imgs.dtype == torch.float32
        assert torch.isfinite(imgs).all()
        assert imgs.min() >= 0.0 and imgs.max() <= 1.0
    d = r.describe()
    assert d["name"] == name and d["solution_dim"] == r.solution_dim and d["resolution"] == RES


@pytest.mark.parametrize("name", NAMES)
def test_deterministic(name):
    a, b = _make(name, seed=3), _make(name, seed=3)
    assert np.array_equal(a.initial_solution(), b.initial_solution())
    x = _solutions(a, 4, seed=1)
    assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("name", NAMES)
def test_different_solutions_give_different_images(name):
    r = _make(name)
    imgs = r(_solutions(r, 2, seed=2))
    assert (imgs[0] - imgs[1]).abs().max() > 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_gradients_flow(name):
    r = _make(name)
    x = _solutions(r, 3, seed=4, scale=0.5).requires_grad_(True)
    r(x).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert (x.grad.abs().sum(dim=1) > 0).all()  # every solution gets a gradient


@pytest.mark.parametrize("name", NAMES)
def test_batch_independence(name):
    r = _make(name)
    x = _solutions(r, 6, seed=5)
    together = r(x)
    alone = torch.cat([r(x[i:i + 1]) for i in range(6)])
    assert torch.allclose(together, alone, atol=1e-5)
    # the gradient of image i does not touch solution j != i
    x = x.clone().requires_grad_(True)
    r(x)[0].sum().backward()
    assert x.grad[1:].abs().max() == 0


@pytest.mark.parametrize("name", NAMES)
def test_device_follows_module(name):
    r = _make(name).to("cpu")
    x = _solutions(r, 2)
    assert r(x).device == x.device


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="no CUDA device: this check renders on cuda and compares with cpu")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_renders_what_cpu_renders(name):
    """The same renderer (same weights) on cuda: the images live there and match the cpu ones."""
    import copy

    r = _make(name).to("cpu").eval()
    x = _solutions(r, 3, seed=7)
    with torch.no_grad():
        on_cpu = r(x)  # (3, 3, RES, RES)
        on_cuda = copy.deepcopy(r).to("cuda")(x.cuda())
    assert on_cuda.device.type == "cuda"
    assert torch.allclose(on_cuda.cpu(), on_cpu, atol=1e-4, rtol=1e-4), (on_cuda.cpu() - on_cpu).abs().max()


def test_unknown_renderer_lists_valid_names():
    with pytest.raises(QdemoError) as exc:
        make_renderer("nope")
    for name in ("pixels", "fourier", "cppn"):
        assert name in str(exc.value)
