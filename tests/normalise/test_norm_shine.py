"""SHINE targets: set-wide targets equal shinier's own, sharding does not change results,
finished shards are not redone, bad input gives clear errors."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from norm_helpers import make_groups
from qdemo.errors import DataError
from qdemo.normalise import NormaliseConfig, ShineOutput, collect, compute_targets, load_fixed, run_shine
from qdemo.normalise import shine as shine_mod
from qdemo.normalise.shine import forward_buffer


def _cfg(mode: str = "lum", size: int | None = 32, shard: int = 3) -> NormaliseConfig:
    cfg = NormaliseConfig()
    cfg.data.size = size
    cfg.shine.mode = mode
    cfg.shine.shard_size = shard
    return cfg


def _read(out: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in ShineOutput.read(out).outputs]


def test_targets_equal_shiniers_own_set_averages(tmp_path):
    from shinier import ImageDataset, ImageProcessor, Options

    images = collect(make_groups(tmp_path / "g", n_per_group=3))
    cfg = _cfg("spec", shard=2)  # shards of 2: the targets must still be set-wide
    targets, ok, skipped = compute_targets(images, cfg, None, backend="serial")
    assert len(ok) == 6 and not skipped
    arrays = [load_fixed(p, 32) for p in images.paths]
    ref = {}
    for mode in (2, 4):
        o = Options(mode=mode, output_folder=tempfile.mkdtemp(), verbose=-1, seed=0, conserve_memory=False)
        proc = ImageProcessor(dataset=ImageDataset(images=[a.copy() for a in arrays], options=o), options=o, verbose=-1)
        ref.update(proc._initial_targets)
    np.testing.assert_allclose(targets.hist, ref["hist"], atol=1e-12)
    np.testing.assert_allclose(targets.spectrum, ref["spectrum"], rtol=1e-10)
    means = [forward_buffer(a, "luminance").mean() for a in arrays]
    assert targets.lum[0] == pytest.approx(np.mean(means), abs=60)  # safe target stays near the mean
    assert targets.n_images == 6


@pytest.mark.parametrize("mode", ["lum", "spec"])
def test_sharding_does_not_change_the_output(tmp_path, mode):
    images = collect(make_groups(tmp_path / "g", n_per_group=3))
    run_shine(images, tmp_path / "one", _cfg(mode, shard=6), backend="serial")
    run_shine(images, tmp_path / "many", _cfg(mode, shard=1), backend="serial")
    a, b = _read(tmp_path / "one"), _read(tmp_path / "many")
    assert len(a) == 6
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_lum_and_hist_equalise_the_set(tmp_path):
    images = collect(make_groups(tmp_path / "g", n_per_group=3))
    before = [forward_buffer(load_fixed(p, 32), "luminance") for p in images.paths]
    run_shine(images, tmp_path / "lum", _cfg("lum"), backend="serial")
    after = [forward_buffer(a, "luminance") for a in _read(tmp_path / "lum")]
    assert np.std([b.mean() for b in before]) > 20
    assert np.std([a.mean() for a in after]) < 0.1 * np.std([b.mean() for b in before])
    run_shine(images, tmp_path / "hist", _cfg("hist"), backend="serial")
    hists = [np.histogram(forward_buffer(a, "luminance"), bins=16, range=(0, 256))[0] for a in _read(tmp_path / "hist")]
    spread_after = np.std(hists, axis=0).mean()
    spread_before = np.std([np.histogram(b, bins=16, range=(0, 256))[0] for b in before], axis=0).mean()
    assert spread_after < 0.2 * spread_before
    man = ShineOutput.read(tmp_path / "hist")
    assert sorted(set(man.groups)) == ["bright", "dark"]


def test_finished_shards_are_not_redone_after_an_interruption(tmp_path, monkeypatch):
    images = collect(make_groups(tmp_path / "g", n_per_group=3))
    cfg = _cfg("lum", shard=2)  # 3 match shards
    real = shine_mod.shine_match_shard
    calls = []

    def flaky(*args):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C during the second shard
        return real(*args)

    monkeypatch.setattr(shine_mod, "shine_match_shard", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_shine(images, tmp_path / "out", cfg, backend="serial")
    assert not (tmp_path / "out" / "manifest.csv").exists()
    calls.clear()

    def counting(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(shine_mod, "shine_match_shard", counting)
    s = run_shine(images, tmp_path / "out", cfg, backend="serial")
    assert len(calls) == 2  # the first shard came from the cache
    assert s["n_images"] == 6 and all(p.exists() for p in ShineOutput.read(tmp_path / "out").outputs)
    calls.clear()
    run_shine(images, tmp_path / "out", cfg, backend="serial")
    assert calls == []  # everything cached


def test_mismatched_sizes_without_resizing_is_a_clear_error(tmp_path):
    root = make_groups(tmp_path / "g", n_per_group=2)
    Image.new("RGB", (40, 24), (10, 20, 30)).save(root / "dark" / "odd.png")
    with pytest.raises(DataError, match=r"odd\.png is 40x24.*--size"):
        run_shine(collect(root), tmp_path / "o", _cfg("lum", size=None), backend="serial")
    s = run_shine(collect(root), tmp_path / "o2", _cfg("lum", size=16), backend="serial")  # resize policy
    assert s["n_images"] == 5 and s["size"] == 16


def test_unreadable_files_error_or_are_skipped_and_counted(tmp_path):
    root = make_groups(tmp_path / "g", n_per_group=2)
    (root / "bright" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"broken\.png"):
        run_shine(collect(root), tmp_path / "o", _cfg("lum"), backend="serial")
    cfg = _cfg("lum")
    cfg.data.on_error = "skip"
    s = run_shine(collect(root), tmp_path / "o", cfg, backend="serial")
    assert s["n_images"] == 4 and s["n_skipped"] == 1 and "broken.png" in s["skipped"][0]["file"]


def test_empty_inputs_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        collect(tmp_path / "empty")
    images = collect(make_groups(tmp_path / "g", n_per_group=1))
    with pytest.raises(DataError, match="empty"):
        run_shine(images.subset([]), tmp_path / "o", _cfg(), backend="serial")


@pytest.mark.slow
def test_ray_shards_match_serial(tmp_path, monkeypatch):
    """The one Ray test: local Ray with one CPU gives the same images as the serial path."""
    monkeypatch.setenv("RAY_worker_niceness", "0")  # Ray's default +15 starves workers on busy machines
    images = collect(make_groups(tmp_path / "g", n_per_group=2, size=16))
    cfg = _cfg("lum", size=16, shard=2)
    run_shine(images, tmp_path / "serial", cfg, backend="serial")
    run_shine(images, tmp_path / "ray", cfg, backend="ray", num_cpus=1)
    for x, y in zip(_read(tmp_path / "serial"), _read(tmp_path / "ray")):
        np.testing.assert_array_equal(x, y)
    assert len(list((tmp_path / "ray" / "cache").glob("match-*.json"))) == 2


def test_emotion6_groups_are_its_folders(datasets_dir):
    from qdemo.normalise import choose_subset

    images = collect(datasets_dir / "emotion6")
    assert sorted(set(images.groups)) == ["anger", "disgust", "fear", "joy", "sadness", "surprise"]
    assert np.isfinite(images.targets[:, :2]).all() and np.isnan(images.targets[:, 2]).all()
    sub = choose_subset(images, 12, seed=0)
    assert len(sub) == 12 and {sub.groups.count(g) for g in set(sub.groups)} == {2}
    assert str(sub.rel(0)).split("/")[0] in set(sub.groups)
