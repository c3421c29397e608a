"""Shape renderer specifics beyond the shared renderer contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import qdemo.render.shapes as shapes_mod
from qdemo.errors import ConfigError
from qdemo.qd.config import EvolveConfig
from qdemo.qd.build import build_renderer
from qdemo.render import make_renderer
from qdemo.render.shapes import ShapeRenderer

VARIANTS = [
    {"palette": "free"},
    {"palette": "bicolour"},
    {"palette": "bicolour", "search_colours": True},
    {"kinds": ["stroke"], "shapes": 3},
    {"kinds": "polygon,ellipse", "shapes": 5, "vertices": 4},
]


def _raw_centre(c: float) -> float:
    return 2.0 * math.atanh(c / shapes_mod._POS)


def _raw_size(v: float, bounds: tuple[float, float]) -> float:
    return float(shapes_mod._logsquash_inv(np.array(v), bounds))


def _grey(imgs: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, H, W) BT.601 luma, the grey level used for the content statistic."""
    return torch.einsum("bchw,c->bhw", imgs, torch.tensor([0.299, 0.587, 0.114], dtype=imgs.dtype))


def _around(r: ShapeRenderer, n: int, sigma: float, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x0 = torch.as_tensor(r.initial_solution(), dtype=torch.float64)
    return (x0 + sigma * torch.randn(n, r.solution_dim, generator=g, dtype=torch.float64)).to(dtype)  # (n, dim)


def _one_shape(kind: str, geometry: list[float], res: int = 128, **opts) -> torch.Tensor:
    """A black shape of ``kind`` with raw ``geometry`` on white -> its coverage (res, res)."""
    r = make_renderer("shapes", resolution=res, seed=0, shapes=1, kinds=[kind], palette="bicolour", **opts)
    x = np.zeros(r.solution_dim)
    x[slice(*r.layout["background"])] = -1.0  # white ground
    x[slice(*r.layout["shape_colours"])] = 1.0  # black shape
    x[slice(*r.layout[kind])] = geometry
    with torch.no_grad():
        img = r(torch.as_tensor(x, dtype=torch.float64)[None])[0]  # (3, R, R)
    return 1.0 - img.mean(0)


@pytest.mark.parametrize("kind, geometry, area", [
    # ellipse rx 0.5, ry 0.25, rotated: pi rx ry
    ("ellipse", [_raw_centre(0.1), _raw_centre(-0.2), _raw_size(0.5, shapes_mod._ELLIPSE_R),
                 _raw_size(0.25, shapes_mod._ELLIPSE_R), 0.7], math.pi * 0.5 * 0.25),
    # regular hexagon, circumradius 0.6 (all vertex factors 1 - tiny): 6/2 R^2 sin(60 deg)
    ("polygon", [0.0, 0.0, _raw_size(0.6, shapes_mod._POLY_R), 0.3] + [30.0] * 6,
     3 * 0.6 ** 2 * math.sin(math.pi / 3)),
    # straight stroke, length 1.0, width 0.2: L w + pi (w / 2)^2 (round caps)
    ("stroke", [0.0, 0.1, 0.4, _raw_size(1.0, shapes_mod._STROKE_L), 0.0, _raw_size(0.2, shapes_mod._STROKE_W)],
     1.0 * 0.2 + math.pi * 0.1 ** 2),
])
def test_single_shape_covers_its_area(kind, geometry, area):
    cover = _one_shape(kind, geometry)
    canvas = 4.0  # [-1, 1]^2
    assert float(cover.mean()) * canvas == pytest.approx(area, rel=0.02)
    assert float(cover.max()) > 0.999 and float(cover.min()) < 1e-3


def test_later_shapes_cover_earlier_ones():
    r = make_renderer("shapes", resolution=32, seed=0, shapes=2, kinds=["ellipse"])
    x = np.zeros(r.solution_dim)
    x[slice(*r.layout["background"])] = -3.0  # near-black ground
    disc = [0.0, 0.0, _raw_size(0.5, shapes_mod._ELLIPSE_R), _raw_size(0.5, shapes_mod._ELLIPSE_R), 0.0]
    x[slice(*r.layout["ellipse"])] = disc + disc
    x[slice(*r.layout["shape_colours"])] = [3.0, -3.0, -3.0, -3.0, 3.0, -3.0]  # red, then green on top
    img = r(torch.as_tensor(x, dtype=torch.float32)[None])[0]
    torch.testing.assert_close(img[:, 16, 16], torch.sigmoid(torch.tensor([-3.0, 3.0, -3.0])))
    torch.testing.assert_close(img[:, 0, 0], torch.sigmoid(torch.tensor([-3.0, -3.0, -3.0])))


def test_uniform_bicolour_images_still_get_gradients():
    r = make_renderer("shapes", resolution=16, seed=0, shapes=2, palette="bicolour")
    x = torch.zeros(1, r.solution_dim)
    x[0, slice(*r.layout["background"])] = 2.0
    x[0, slice(*r.layout["shape_colours"])] = 2.0  # black on black: every pixel exactly 0
    x.requires_grad_(True)
    img = r(x)
    assert float(img.detach().abs().max()) == 0.0
    img.mean().backward()
    assert float(x.grad[0, slice(*r.layout["background"])].abs().sum()) > 0  # the ground's colour choice


def test_polygon_vertex_factors_make_concavities():
    geometry = [0.0, 0.0, _raw_size(0.8, shapes_mod._POLY_R), 0.0] + [30.0, -30.0] * 3  # a three-pointed star
    star = _one_shape("polygon", geometry)
    hexagon = _one_shape("polygon", geometry[:4] + [30.0] * 6)
    assert float(star.mean()) < 0.6 * float(hexagon.mean())


@pytest.mark.parametrize("opts", [{}, {"search_colours": True}])
def test_bicolour_uses_two_colours_away_from_edges(opts):
    r = make_renderer("shapes", resolution=64, seed=1, palette="bicolour", **opts)
    x = _around(r, 16, 1.0, seed=3)
    with torch.no_grad():
        imgs = r(x).double().flatten(2)  # (B, 3, P)
        cover = torch.stack(r._alphas(x), dim=1).double()  # (B, S, P) every shape's coverage
    # away from edges: no outline within ~3.5 px, i.e. every shape's coverage is 0 or 1 to 1e-6
    settled = ((cover < 1e-6) | (cover > 1 - 1e-6)).all(dim=1)  # (B, P)
    assert float(settled.double().mean()) > 0.3
    if opts:
        pal = torch.sigmoid(x[:, slice(*r.layout["colours"])].double()).view(-1, 2, 3)  # (B, 2, 3)
    else:
        pal = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], dtype=torch.float64).expand(len(x), 2, 3)
    off = (imgs[:, None] - pal[..., None]).abs().amax(dim=2)  # (B, 2, P) distance to each colour
    assert off.amin(dim=1)[settled].max() < 1e-5  # exactly one of the two colours
    axis = pal[:, 1] - pal[:, 0]  # (B, 3)
    m = torch.einsum("bcp,bc->bp", imgs - pal[:, 0, :, None], axis) / (axis * axis).sum(1, keepdim=True)
    blend = pal[:, 0, :, None] + m[:, None] * axis[..., None]  # (B, 3, P)
    assert (imgs - blend).abs().max() < 1e-4  # at edges: blends of the two colours, nothing else
    assert float(((m > 0.01) & (m < 0.99)).double().mean()) > 0.01  # and there are edges


@pytest.mark.parametrize("palette, seed", [("free", 0), ("free", 1), ("bicolour", 0), ("bicolour", 1)])
def test_images_around_the_initial_solution_have_content(palette, seed):
    r = make_renderer("shapes", resolution=64, seed=seed, palette=palette)
    with torch.no_grad():
        imgs = r(_around(r, 200, 0.4, seed=seed))
    sd = _grey(imgs).flatten(1).std(dim=1)  # (200,)
    assert float((sd > 0.05).float().mean()) >= 0.95


def test_initial_composition_spreads_its_shapes():
    r = make_renderer("shapes", resolution=64, seed=2, shapes=8)
    centres = []
    for kind in shapes_mod.KINDS:
        q = r.initial_solution()[slice(*r.layout[kind])].reshape(-1, r.n_param[kind])
        centres.append(shapes_mod._POS * np.tanh(0.5 * q[:, :2]))
    c = np.concatenate(centres)  # (8, 2) on the canvas
    dist = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1)) + np.eye(len(c)) * 9
    assert dist.min() > 0.15 and np.abs(c).max() < 0.7


@pytest.mark.parametrize("opts", VARIANTS)
def test_variants_keep_the_contract(opts):
    r = make_renderer("shapes", resolution=24, seed=4, **opts)
    for scale in (0.0, 1.0, 50.0):
        x = _around(r, 4, scale, seed=5).requires_grad_(True)
        imgs = r(x)
        assert imgs.shape == (4, 3, 24, 24) and torch.isfinite(imgs).all()
        assert imgs.min() >= 0.0 and imgs.max() <= 1.0
        imgs.mean().backward()
        assert torch.isfinite(x.grad).all()
        if scale == 1.0:
            assert (x.grad.abs().sum(dim=1) > 0).all()
    x = _around(r, 3, 1.0, seed=6)
    assert torch.allclose(r(x), torch.cat([r(x[i:i + 1]) for i in range(3)]), atol=1e-5)


def test_gradients_match_finite_differences():
    r = make_renderer("shapes", resolution=32, seed=0, shapes=3).double()
    x0 = _around(r, 1, 0.2, seed=7, dtype=torch.float64)[0]
    w = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return (r(x[None])[0] * w).sum()

    x = x0.clone().requires_grad_(True)
    loss(x).backward()
    e, p, s = (r.layout[k][0] for k in shapes_mod.KINDS)
    checks = {"ellipse cx": e, "ellipse rx": e + 2, "ellipse rotation": e + 4, "polygon size": p + 2,
              "polygon vertex": p + 5, "stroke length": s + 3, "stroke bend": s + 4, "stroke width": s + 5,
              "background red": 0, "shape green": r.layout["shape_colours"][0] + 1}
    h = 1e-6
    for what, j in checks.items():
        up, down = x0.clone(), x0.clone()
        up[j] += h
        down[j] -= h
        fd = float((loss(up) - loss(down)) / (2 * h))
        assert abs(fd) > 1e-3, what  # the parameter matters here
        assert float(x.grad[j]) == pytest.approx(fd, rel=1e-3, abs=1e-5), what


def test_chunked_batches_match(monkeypatch):
    r = make_renderer("shapes", resolution=16, seed=0)
    x = _around(r, 7, 0.4)
    whole = r(x)
    monkeypatch.setattr(shapes_mod, "_CHUNK", 3 * r.maps_per_image * 16 * 16)  # 3 images per chunk
    assert torch.allclose(r(x), whole, atol=1e-6)


def test_describe_and_layout():
    r = make_renderer("shapes", resolution=32, seed=0, shapes=5, kinds="stroke,polygon", vertices=5,
                      palette="bicolour", search_colours=True)
    d = r.describe()
    assert d["kinds"] == ["stroke", "polygon"] and d["shapes"] == 5 and d["palette"] == "bicolour"
    # background choice + 2 colours + 3 strokes + 2 polygons + 5 colour choices
    assert r.solution_dim == 1 + 6 + 3 * 6 + 2 * (4 + 5) + 5


@pytest.mark.parametrize("opts, needle", [
    ({"palette": "rainbow"}, "free, bicolour"),
    ({"kinds": ["ellipse", "blob"]}, "ellipse, polygon, stroke"),
    ({"shapes": 0}, "shapes >= 1"),
    ({"search_colours": True}, "search_colours applies"),
])
def test_bad_options_are_clear(opts, needle):
    with pytest.raises(ValueError, match=needle):
        make_renderer("shapes", resolution=16, seed=0, **opts)
    cfg = EvolveConfig()
    cfg.renderer.name, cfg.renderer.options = "shapes", opts
    with pytest.raises(ConfigError, match=needle):
        build_renderer(cfg)


def test_runs_on_cpu_in_float64_too():
    r = make_renderer("shapes", resolution=16, seed=0).to("cpu")
    x = _around(r, 2, 0.4, dtype=torch.float64)
    assert r(x).dtype == torch.float64 and r(x).device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu():
    r = make_renderer("shapes", resolution=32, seed=0)
    x = _around(r, 4, 0.4)
    cpu = r(x)
    gpu = r.to("cuda")(x.cuda())
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-4)
