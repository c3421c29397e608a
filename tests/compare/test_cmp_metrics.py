"""Fréchet distance, diversity and the PCA feature space."""

from __future__ import annotations

import numpy as np
import pytest

from qdemo.compare.generator_eval import grid_targets
from qdemo.compare.metrics import FeatureSpace, frechet_distance, gaussian, mean_pairwise_distance


def test_frechet_known_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 4))
    mu, cov = gaussian(x)
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-6)
    # shifting the mean by d adds |d|^2; scaling the covariance by s^2 adds (s-1)^2 * trace
    assert frechet_distance(mu + 2.0, cov, mu, cov) == pytest.approx(4 * 4.0, rel=1e-6)
    assert frechet_distance(mu, 4 * cov, mu, cov) == pytest.approx(np.trace(cov), rel=1e-4)


def test_mean_pairwise_distance():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    assert mean_pairwise_distance(x) == pytest.approx((5 + 0 + 5) / 3)
    assert np.isnan(mean_pairwise_distance(x[:1]))


def test_feature_space_orders_sets_by_realism(tmp_path):
    rng = np.random.default_rng(1)
    real = rng.normal(size=(300, 20))
    space = FeatureSpace.fit(real, dim=8)
    close = space.project(rng.normal(size=(60, 20)))
    far = space.project(rng.normal(size=(60, 20)) * 3 + 2)
    assert space.fid(close) < space.fid(far)
    assert space.nearest_real(close).mean() < space.nearest_real(far).mean()
    space.save(tmp_path / "s.npz")
    again = FeatureSpace.load(tmp_path / "s.npz")
    assert np.allclose(again.project(real[:3]), space.project(real[:3]))


def test_grid_targets_spread():
    t = grid_targets(5)
    assert t.shape == (125, 3)
    assert np.allclose(np.unique(t[:, 0]), [-0.8, -0.4, 0.0, 0.4, 0.8])


def test_photo_reference_range_floor_and_oracle():
    from qdemo.compare.generator_eval import photo_reference

    # photos rated only inside [-0.5, 0.5] x [-0.2, 0.2] by the critic
    v = np.linspace(-0.5, 0.5, 11)
    a = np.linspace(-0.2, 0.2, 5)
    vv, aa = np.meshgrid(v, a, indexing="ij")
    photo_vad = np.stack([vv.ravel(), aa.ravel(), np.zeros(vv.size)], axis=1)  # (55, 3)
    targets = np.array([[0.0, 0.0, 0.0], [0.9, -0.6, 0.0], [-0.3, 0.1, 0.5]])
    ref = photo_reference(photo_vad, targets, central=1.0)
    assert ref["critic_photo_range"][0] == pytest.approx([-0.5, 0.5])
    assert ref["critic_photo_range"][1] == pytest.approx([-0.2, 0.2])
    # only the second target lies outside: by 0.4 in valence, 0.4 in arousal
    assert ref["range_floor_valence"] == pytest.approx(0.4 / 3)
    assert ref["range_floor_arousal"] == pytest.approx(0.4 / 3)
    # nearest photo: exact for targets 1 and 3, (0.4 + 0.4) / 2 for target 2
    assert ref["photo_oracle_error_va"] == pytest.approx(0.4 / 3)
    assert ref["in_photo_range"].tolist() == [True, False, True]


def test_evaluate_generator_reports_the_photo_view():
    import torch

    from qdemo.compare.generator_eval import evaluate_generator
    from qdemo.emotion import TinyEmotionModel
    from qdemo.generator import Generator, GeneratorArch

    torch.manual_seed(0)
    gen = Generator(GeneratorArch(resolution=16, z_dim=8, channels=4, embed_dim=8)).eval()
    critic = TinyEmotionModel(seed=1).eval()
    # photos whose critic range covers only |V|, |A| <= 0.5: targets at +-0.75 are outside
    rng = np.random.default_rng(0)
    photo_vad = rng.uniform(-0.5, 0.5, size=(400, 3))
    res = evaluate_generator(gen, critic, None, None, targets_per_axis=4, per_target=2, photo_vad=photo_vad)
    ref = res["photo_reference"]
    assert res["targets_in_photo_range"] == 16  # V, A in {-0.25, 0.25}, any D
    assert ref["range_floor_valence"] == pytest.approx(0.25 / 2, abs=0.01)
    # the restricted view is the plain error over exactly those targets' samples
    from qdemo.compare.generator_eval import grid_targets
    from qdemo.generator import generate

    cond = np.repeat(grid_targets(4), 2, axis=0)  # (128, 3)
    with torch.no_grad():
        crit = critic(generate(gen, cond, seed=0)).numpy()
    inside = (np.abs(cond[:, :2]) < 0.5).all(axis=1)
    want = np.abs(crit - cond)[inside, :2].mean()
    assert res["critic_error_va_in_photo_range"] == pytest.approx(want, rel=1e-5)
    plain = evaluate_generator(gen, critic, None, None, targets_per_axis=4, per_target=2)
    assert plain["critic_error_va"] == pytest.approx(res["critic_error_va"])
    assert "photo_reference" not in plain


def test_generator_evaluate_command_writes_what_it_prints(tiny_generator, photo_dir, tmp_path, capsys):
    import json
    import math

    from qdemo.cli import main

    rc = main(["generator", "evaluate", "--generator", str(tiny_generator), "--critic", "tiny:1", "--searcher",
               "tiny:0", "--photos", str(photo_dir), "--cache-dir", str(tmp_path / "cache"), "--targets", "2",
               "--per-target", "1", "--realism-photos", "0", "--device", "cpu", "--out", str(tmp_path / "ev")])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert saved.keys() == printed.keys()
    assert saved["targets"] == 8 and saved["images"] == 8 and saved["photo_reference"]["photos"] == 24
    for k in ("critic_error_va", "searcher_error_va", "realism_fid", "diversity", "nearest_photo_distance"):
        assert math.isfinite(saved[k]) and saved[k] == pytest.approx(printed[k])


def test_evaluate_generator_with_selection_lowers_the_searchers_error():
    """Kept from 8 draws per target by the searcher, the samples sit nearer the targets in its eyes."""
    import torch

    from qdemo.compare.generator_eval import evaluate_generator
    from qdemo.emotion import TinyEmotionModel
    from qdemo.generator import Generator, GeneratorArch

    torch.manual_seed(0)
    gen = Generator(GeneratorArch(resolution=16, z_dim=8, channels=4, embed_dim=8)).eval()
    critic, searcher = TinyEmotionModel(seed=1).eval(), TinyEmotionModel(seed=0).eval()
    plain = evaluate_generator(gen, critic, searcher, None, plane=3, per_target=2)
    chosen = evaluate_generator(gen, critic, searcher, None, plane=3, per_target=2, select_from=8)
    assert plain["select_from"] == 2 and chosen["select_from"] == 8 and chosen["images"] == plain["images"] == 18
    assert chosen["searcher_error_va"] < plain["searcher_error_va"]


def test_photo_scores_are_cached_per_photo_set(tmp_path):
    """Two photo sets of one size and tag never share a cache entry; the same set reads it back."""
    import torch

    from qdemo.emotion import TinyEmotionModel
    from qdemo.generator.data import score_photos

    model = TinyEmotionModel(seed=1).eval()
    gen = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8, generator=gen)
    b = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8, generator=gen)
    va = score_photos(a, model, cache_dir=tmp_path, tag="16", progress=False)
    vb = score_photos(b, model, cache_dir=tmp_path, tag="16", progress=False)
    assert not torch.allclose(va, vb) and len(list(tmp_path.glob("vad_*.pt"))) == 2
    with torch.no_grad():
        assert torch.allclose(vb, model(b.float() / 255))
    assert torch.equal(score_photos(a, model, cache_dir=tmp_path, tag="16", progress=False), va)
