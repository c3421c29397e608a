"""The content prior (qdemo.qd.content), the showcase figures (qdemo.qd.showcase) and the
default grid region (qdemo.qd.config.HUMAN_REGION)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from qdemo.qd.config import HUMAN_REGION, GridConfig
from qdemo.qd.content import CONTENT_RANGES, content_score, image_stats, is_near_uniform, measure_content_ranges
from qdemo.measure_space import MeasureSpace
from qdemo.qd.showcase import diversity, near_uniform_count, va_cells, va_confirmed


def _power_law_noise(n: int, beta: float, seed: int = 0, size: int = 64) -> torch.Tensor:
    """(n, 3, size, size) grey images whose amplitude spectrum falls off as 1/f^beta, contrast sd 0.15."""
    g = torch.Generator().manual_seed(seed)
    f = torch.sqrt(torch.fft.fftfreq(size)[:, None] ** 2 + torch.fft.fftfreq(size)[None, :] ** 2)
    f[0, 0] = 1.0
    spec = torch.fft.fft2(torch.randn(n, size, size, generator=g)) / f ** beta
    x = torch.fft.ifft2(spec).real
    x = (x - x.mean(dim=(1, 2), keepdim=True)) / x.std(dim=(1, 2), keepdim=True)
    return (0.5 + 0.15 * x).clamp(0, 1)[:, None].expand(n, 3, size, size).clone()


def test_spectral_slope_reads_the_power_law():
    for beta in (0.0, 1.0, 1.5):
        slope = image_stats(_power_law_noise(4, beta))["slope"]
        assert slope.mean().item() == pytest.approx(beta, abs=0.15)


def test_natural_like_images_score_one_flat_and_noise_zero_and_the_score_has_a_gradient():
    natural = _power_law_noise(4, 1.4)  # contrast, edges and slope inside the rated images' range
    assert content_score(natural).min() > 0.9
    flat = torch.full((2, 3, 64, 64), 0.3)
    noise = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    assert content_score(flat).max() < 1e-3 and content_score(noise).max() < 1e-2
    x = _power_law_noise(2, 0.3).requires_grad_(True)  # too flat a spectrum: outside, with a slope to climb
    content_score(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_ranges_are_ordered_and_inside_what_the_statistics_can_be():
    for name, (lo, hi) in CONTENT_RANGES.items():
        assert lo < hi, name
    assert CONTENT_RANGES["log_contrast"][1] < np.log(0.5)  # grey sd of a [0, 1] image is at most 0.5


def test_measure_content_ranges_reads_image_files(tmp_path):
    from PIL import Image

    arr = (_power_law_noise(5, 1.2)[:, 0].numpy() * 255).astype(np.uint8)
    paths = []
    for i, a in enumerate(arr):
        p = tmp_path / f"n{i}.png"
        Image.fromarray(a, "L").save(p)  # grayscale files are read as RGB
        paths.append(p)
    m = measure_content_ranges(paths, low=0, high=100, progress=False)
    assert m["n"] == 5 and m["slope"][0] <= m["slope_median"] <= m["slope"][1]
    assert m["slope_median"] == pytest.approx(1.2, abs=0.2)


def test_near_uniform_counts_flat_fields_only():
    flat = torch.full((3, 3, 32, 32), 0.7) + 0.01 * torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    images = torch.cat([flat, _power_law_noise(2, 1.0, size=32)])
    assert is_near_uniform(images).tolist() == [True, True, True, False, False]
    assert near_uniform_count(images) == 3 and near_uniform_count(images[:0]) == 0


def test_va_cells_and_critic_confirmation():
    coords = np.array([[0, 0, 1], [0, 0, 3], [5, 5, 0], [9, 2, 4]])
    assert va_cells(coords) == {(0, 0), (5, 5), (9, 2)}
    critic = np.array([[3, 3, 0], [1, 1, 0], [5, 7, 0], [8, 3, 0]])  # second elite confirms (0, 0); (5, 5) is 2 off
    assert va_confirmed(coords, critic) == {(0, 0), (9, 2)}
    ranges = np.array([[-0.9, 0.8], [-0.7, 0.55], [-0.4, 0.45]])
    space = MeasureSpace.grid(ranges, [10, 10, 5])
    vad = np.array([[-1.0, 1.0, 0.0], [0.79, -0.69, 0.44]])
    cc = space.grid_coords(space.measures(vad=vad))  # where the space places the critic's readings
    assert cc.tolist() == [[0, 9, 2], [9, 0, 4]]  # outside the ranges: clipped into the edge cells
    archive = space.build_archive(2)  # ... exactly where pyribs' archive puts them
    assert cc.tolist() == archive.int_to_grid_index(archive.index_of(space.clip(vad))).tolist()


def test_diversity_ignores_brightness_and_tint_shifts(tiny_model):
    base = _power_law_noise(1, 1.2, seed=3, size=32)
    shifted = torch.cat([base, (base + 0.1).clamp(0, 1), base * torch.tensor([1.0, 0.9, 0.8]).view(1, 3, 1, 1)])
    different = _power_law_noise(3, 1.2, seed=4, size=32)
    d_shift, d_diff = diversity(shifted, tiny_model), diversity(different, tiny_model)
    assert d_shift is not None and d_diff is not None and d_shift < 0.5 * d_diff
    assert diversity(base, tiny_model) is None


def test_default_grid_is_the_human_region_the_shipped_model_card_measured():
    from qdemo.emotion.zoo import shipped_path

    metrics = json.loads((shipped_path("searcher").parent / "metrics.json").read_text())
    assert [list(r) for r in HUMAN_REGION] == metrics["va_coverage"]["ranges"]
    assert GridConfig().ranges == [list(r) for r in HUMAN_REGION]
