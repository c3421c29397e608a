"""Between-group equalisation (shine.scope=group): the groups' statistics match while each
image moves less than under per-image SHINE; Ray-free sharding per group, cached; clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from norm_helpers import make_groups
from qdemo.errors import DataError, QdemoError
from qdemo.normalise import NormaliseConfig, ShineOutput, collect, load_fixed, run_shine
from qdemo.normalise import shine_groups as groups_mod
from qdemo.normalise.data import ImageSet
from qdemo.normalise.groupwise import (equalise_group, equalise_partitions, equalise_set, group_stats, groupings_of,
                                      set_targets)
from qdemo.normalise.report import LUM_STATS, group_spread, lowlevel, run_report


def _t(arrays) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255.0


def _spreads(arrays, groups) -> dict[str, float]:
    st = lowlevel(_t(arrays))
    idx = {g: [i for i, x in enumerate(groups) if x == g] for g in sorted(set(groups))}
    return {s: group_spread(st[s], idx) for s in LUM_STATS}


def _set(n_per_group: int = 6, size: int = 32, seed: int = 0):
    """Two groups that differ in brightness, contrast and smoothness; images differ more
    within each group than the groups differ (as in photo sets)."""
    rng = np.random.default_rng(seed)
    arrays, groups = [], []
    for g, (base, amp, smooth) in {"a": (100, 20, 1), "b": (135, 40, 4)}.items():
        for _ in range(n_per_group):
            noise = np.kron(rng.normal(0, amp, (size // smooth, size // smooth, 3)), np.ones((smooth, smooth, 1)))
            own = rng.normal(0, 45)  # images of a group differ in brightness too
            arrays.append(np.clip(base + own + noise + rng.normal(0, 10, (1, 1, 3)), 0, 255).astype(np.uint8))
            groups.append(g)
    return arrays, groups


def test_group_statistics_match_and_images_move_less_than_per_image_matching():
    arrays, groups = _set()
    out = equalise_set(arrays, groups, iterations=6)
    assert len(out) == len(arrays) and all(o.shape == a.shape and o.dtype == np.uint8 for o, a in zip(out, arrays))
    before, after = _spreads(arrays, groups), _spreads(out, groups)
    for s in LUM_STATS:  # every luminance statistic's between-group spread shrinks a lot
        assert after[s] < 0.35 * before[s], (s, before[s], after[s])
    # images keep their own differences: within a group the brightness ranks survive
    # (the tone curve is monotone; a nonlinear curve may swap images of near-equal mean)
    lum_b = lowlevel(_t(arrays))["mean_luminance"][:, 0]
    lum_a = lowlevel(_t(out))["mean_luminance"][:, 0]
    for g in ("a", "b"):
        i = [k for k, x in enumerate(groups) if x == g]
        rb, ra = np.argsort(np.argsort(lum_b[i])), np.argsort(np.argsort(lum_a[i]))
        assert np.corrcoef(rb, ra)[0, 1] >= 0.8
    # per-image equalisation of the mean would move images further than one shift per group
    own_move = np.abs(lum_b - lum_b.mean()).mean()
    assert np.abs(lum_a - lum_b).mean() < own_move


def test_one_group_matched_to_itself_is_nearly_unchanged():
    arrays, _ = _set(n_per_group=5)
    arrays = arrays[:5]
    targets = set_targets([group_stats(arrays)])
    out = equalise_group(arrays, targets, iterations=3)
    diff = np.abs(np.stack(out).astype(float) - np.stack(arrays).astype(float)).mean()
    assert diff < 2.0  # grey levels of 255; rounding and the tone curve's quantisation only


def test_bad_arguments_are_clear():
    arrays, groups = _set(n_per_group=2)
    with pytest.raises(ValueError, match="two groups"):
        equalise_set(arrays, ["a"] * len(arrays))
    with pytest.raises(ValueError, match="group labels"):
        equalise_set(arrays, groups[:-1])
    t = set_targets([group_stats(arrays[:2]), group_stats(arrays[2:])])
    with pytest.raises(ValueError, match="differs from the targets"):
        equalise_group([np.zeros((16, 16, 3), np.uint8)], t)
    with pytest.raises(ValueError, match="different image sizes"):
        set_targets([group_stats(arrays[:2]), group_stats([np.zeros((16, 16, 3), np.uint8)])])


def _cfg() -> NormaliseConfig:
    cfg = NormaliseConfig()
    cfg.data.size = 32
    cfg.shine.scope = "group"
    cfg.shine.group_iterations = 3
    return cfg


def test_run_shine_group_scope_writes_a_shine_folder_and_caches_groups(tmp_path, monkeypatch):
    images = collect(make_groups(tmp_path / "g", n_per_group=3))
    real = groups_mod.group_match_task
    calls = []

    def flaky(*args):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second group is equalised
        return real(*args)

    monkeypatch.setattr(groups_mod, "group_match_task", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_shine(images, tmp_path / "out", _cfg(), backend="serial")
    assert not (tmp_path / "out" / "manifest.csv").exists()
    calls.clear()

    def counting(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(groups_mod, "group_match_task", counting)
    s = run_shine(images, tmp_path / "out", _cfg(), backend="serial")
    assert len(calls) == 1 and s["scope"] == "group" and s["n_images"] == 6 and s["n_groups"] == 2
    man = ShineOutput.read(tmp_path / "out")
    outs = [np.asarray(Image.open(p).convert("RGB")) for p in man.outputs]
    origs = [load_fixed(p, 32) for p in man.sources]
    before, after = _spreads(origs, man.groups), _spreads(outs, man.groups)
    assert after["mean_luminance"] < 0.2 * before["mean_luminance"]
    # the same as the in-process function on the same images
    same = equalise_set(origs, man.groups, iterations=3)
    assert max(np.abs(a.astype(int) - b.astype(int)).max() for a, b in zip(same, outs)) <= 1


def test_cli_group_scope(tmp_path, capsys):
    from qdemo.cli import main

    root = make_groups(tmp_path / "g", n_per_group=2, size=16)
    assert main(["normalise", "shine", "--data", str(root), "--scope", "group", "--size", "16", "--serial",
                 "--out", str(tmp_path / "s")]) == 0
    assert "SHINE full (group scope): 4 images" in capsys.readouterr().out
    assert ShineOutput.read(tmp_path / "s").summary["scope"] == "group"
    assert main(["normalise", "report", "--shine", str(tmp_path / "s"), "--all", "--group-equalise",
                 "--set", "report.critic=tiny", "--set", "report.tertiles=[]", "--out", str(tmp_path / "r")]) == 0
    assert "| shine_group |" in (tmp_path / "r" / "report.md").read_text()
    # a folder set has no ratings, so no tertile grouping
    assert main(["normalise", "shine", "--data", str(root), "--scope", "group", "--group-by", "folder,valence",
                 "--size", "16", "--serial", "--out", str(tmp_path / "s2")]) == 2
    assert "shine.group_by valence: " in capsys.readouterr().err


def test_group_scope_errors(tmp_path):
    images = collect(make_groups(tmp_path / "g", n_per_group=2))
    cfg = _cfg()
    cfg.shine.mode = "lum"
    with pytest.raises(QdemoError, match="mode full and color luminance"):
        run_shine(images, tmp_path / "o1", cfg, backend="serial")
    one = collect(make_groups(tmp_path / "h", n_per_group=2) / "dark")
    with pytest.raises(DataError, match="at least two groups"):
        run_shine(one, tmp_path / "o2", _cfg(), backend="serial")


def test_report_adds_the_group_variant_on_the_evaluated_images(tmp_path, tiny_model):
    images = collect(make_groups(tmp_path / "g", n_per_group=4, size=16))
    cfg = NormaliseConfig()
    cfg.data.size, cfg.shine.mode, cfg.report.critic, cfg.report.tertiles = 16, "lum", "tiny", ()
    run_shine(images, tmp_path / "shine", cfg, backend="serial")
    cfg.report.group_equalise = True
    res = run_report(tmp_path / "shine", {}, tmp_path / "rep", cfg, split="all", critic=tiny_model)
    emo = res["groupings"]["emotion"]["variants"]
    assert "shine_group" in emo and emo["shine_group"]["ratio_to_original"]["mean_luminance"] < 0.2
    assert "| shine_group |" in (tmp_path / "rep" / "report.md").read_text()


def test_group_scope_unreadable_files_error_or_are_skipped(tmp_path):
    root = make_groups(tmp_path / "g", n_per_group=2)
    (root / "bright" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"broken\.png"):
        run_shine(collect(root), tmp_path / "o", _cfg(), backend="serial")
    cfg = _cfg()
    cfg.data.on_error = "skip"
    s = run_shine(collect(root), tmp_path / "o2", cfg, backend="serial")
    assert s["n_images"] == 4 and s["n_skipped"] == 1 and "broken.png" in s["skipped"][0]["file"]
    for p in (root / "dark").iterdir():  # a group with nothing readable left
        p.write_bytes(b"junk")
    with pytest.raises(DataError, match="dark"):
        run_shine(collect(root), tmp_path / "o3", cfg, backend="serial")


def test_flat_images_black_white_or_uniform_do_not_crash():
    arrays, groups = _set(n_per_group=3)
    flat = [np.zeros((32, 32, 3), np.uint8), np.full((32, 32, 3), 255, np.uint8),
            np.full((32, 32, 3), 90, np.uint8)]
    out = equalise_set(arrays + flat, groups + ["flat"] * 3)
    assert all(np.isfinite(o.astype(float)).all() and o.shape == (32, 32, 3) for o in out)
    # the flat group's mean luminance is brought towards the set's like any other group's
    before, after = _spreads(arrays + flat, groups + ["flat"] * 3), _spreads(out, groups + ["flat"] * 3)
    assert after["mean_luminance"] < 0.5 * before["mean_luminance"]


def test_sizes_that_differ_between_groups_name_the_groups():
    a, b = np.zeros((16, 16, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match=r"small: 8x8"):
        set_targets([group_stats([a]), group_stats([b])], ["big", "small"])


def test_a_cached_skip_bad_run_does_not_let_a_strict_run_pass(tmp_path):
    root = make_groups(tmp_path / "g", n_per_group=2)
    (root / "bright" / "broken.png").write_bytes(b"not a png at all")
    cfg = _cfg()
    cfg.data.on_error = "skip"
    run_shine(collect(root), tmp_path / "o", cfg, backend="serial")
    with pytest.raises(DataError, match=r"broken\.png"):
        run_shine(collect(root), tmp_path / "o", _cfg(), backend="serial")  # same --out, strict


def _crossed(n: int = 24, size: int = 32, seed: int = 1):
    """Two groupings that cross: folder a/b and a rating; brightness differs along both, and
    folders are balanced over the rating's tertiles, so equalising one leaves the other."""
    rng = np.random.default_rng(seed)
    arrays, folders, rating = [], [], []
    for i in range(n):
        f, r = "ab"[i % 2], (i // 2) % 3  # every folder has each rating level
        base = 90 + 40 * (f == "b") + 30 * r + rng.normal(0, 25)
        noise = rng.normal(0, 15 + 10 * r, (size, size, 3))
        arrays.append(np.clip(base + noise, 0, 255).astype(np.uint8))
        folders.append(f)
        rating.append(r - 1 + rng.normal(0, 0.05))
    ratings = np.c_[rating, np.full(n, np.nan), np.zeros(n)].astype(np.float32)
    return arrays, folders, ratings


def test_several_groupings_are_equalised_at_once():
    arrays, folders, ratings = _crossed()
    parts = groupings_of(folders, ratings, ["folder", "valence"])
    assert parts[0] == folders and set(parts[1]) == {"valence-low", "valence-mid", "valence-high"}
    by_folder = equalise_set(arrays, folders)
    both = equalise_partitions(arrays, parts, names=["folder", "valence"])
    before = {k: _spreads(arrays, p) for k, p in (("folder", parts[0]), ("valence", parts[1]))}
    one = {k: _spreads(by_folder, p) for k, p in (("folder", parts[0]), ("valence", parts[1]))}
    two = {k: _spreads(both, p) for k, p in (("folder", parts[0]), ("valence", parts[1]))}
    assert one["folder"]["mean_luminance"] < 0.2 * before["folder"]["mean_luminance"]
    assert one["valence"]["mean_luminance"] > 0.5 * before["valence"]["mean_luminance"]  # folders only
    for k in ("folder", "valence"):  # both groupings: every luminance statistic's spread shrinks
        for s in LUM_STATS:
            assert two[k][s] < 0.5 * before[k][s], (k, s, before[k][s], two[k][s])
    # with one grouping it is exactly the single-grouping equalisation
    same = equalise_partitions(arrays, [folders])
    assert all(np.array_equal(a, b) for a, b in zip(same, by_folder))


def test_images_outside_a_grouping_are_not_moved_by_it():
    arrays, folders, _ = _crossed(n=12)
    labels = [None if i < 4 else f for i, f in enumerate(folders)]
    out = equalise_partitions(arrays, [labels])
    for i in range(4):  # only the sRGB <-> linear round trip touches them
        assert np.abs(out[i].astype(int) - arrays[i].astype(int)).max() <= 1
    assert any(np.abs(out[i].astype(int) - arrays[i].astype(int)).mean() > 2 for i in range(4, 12))


def test_groupings_need_known_names_and_ratings():
    arrays, folders, ratings = _crossed(n=6)
    with pytest.raises(ValueError, match="unknown grouping 'mood'.*folder, valence, arousal, dominance"):
        groupings_of(folders, ratings, ["folder", "mood"])
    with pytest.raises(ValueError, match="arousal: the set has 0 images rated"):
        groupings_of(folders, ratings, ["arousal"])  # the arousal column is NaN
    with pytest.raises(ValueError, match="valence: the set has 0"):
        groupings_of(folders, None, ["valence"])
    with pytest.raises(ValueError, match="at least two groups, found 1 \\(valence\\)"):
        equalise_partitions(arrays, [folders, ["x"] * 6], names=["folder", "valence"])
    with pytest.raises(ValueError, match="6 images but 5 group labels \\(folder\\)"):
        equalise_partitions(arrays, [folders[:5]], names=["folder"])


def _rated_set(tmp_path):
    arrays, folders, ratings = _crossed(n=12, size=16)
    paths = []
    for i, (a, f) in enumerate(zip(arrays, folders)):
        (tmp_path / "set" / f).mkdir(parents=True, exist_ok=True)
        paths.append(tmp_path / "set" / f / f"im{i:02d}.png")
        Image.fromarray(a, "RGB").save(paths[-1])
    return ImageSet(root=tmp_path / "set", paths=paths, groups=folders, targets=ratings), arrays


def test_shine_group_scope_with_two_groupings_writes_the_set(tmp_path):
    images, arrays = _rated_set(tmp_path)
    cfg = _cfg()
    cfg.data.size = 16
    cfg.shine.group_by = ("folder", "valence")
    s = run_shine(images, tmp_path / "out", cfg, backend="serial")
    assert s["group_by"] == ["folder", "valence"] and s["n_images"] == 12 and s["n_groups"] == 5
    assert s["group_sizes"]["valence"] == {"valence-high": 4, "valence-low": 4, "valence-mid": 4}
    man = ShineOutput.read(tmp_path / "out")
    outs = [np.asarray(Image.open(p).convert("RGB")) for p in man.outputs]
    parts = groupings_of(images.groups, images.targets, ["folder", "valence"])
    want = equalise_partitions(arrays, parts, iterations=3)
    assert all(np.array_equal(a, b) for a, b in zip(outs, want))
    np.testing.assert_allclose(man.targets[:, 0], images.targets[:, 0], atol=1e-5)  # ratings kept in the manifest
    cfg.shine.group_by = ("folder", "arousal")  # no arousal ratings: a clear error naming the set
    with pytest.raises(DataError, match=r"set: shine.group_by arousal: .* 0 images rated"):
        run_shine(images, tmp_path / "out2", cfg, backend="serial")
    cfg.shine.group_by = ("folder", "colour")
    with pytest.raises(QdemoError, match="name one or more of folder, valence"):
        run_shine(images, tmp_path / "out3", cfg, backend="serial")
    assert not (tmp_path / "out2" / "manifest.csv").exists()


def test_cli_and_report_take_group_by(tmp_path, capsys, tiny_model):
    from qdemo.cli import main

    images, _ = _rated_set(tmp_path)
    cfg = NormaliseConfig()
    cfg.data.size, cfg.shine.mode = 16, "lum"
    run_shine(images, tmp_path / "shine", cfg, backend="serial")
    assert main(["normalise", "report", "--shine", str(tmp_path / "shine"), "--all", "--group-equalise",
                 "--group-by", "folder,valence", "--set", "report.critic=tiny", "--set", "report.tertiles=[valence]",
                 "--out", str(tmp_path / "r")]) == 0
    res = __import__("json").loads((tmp_path / "r" / "report.json").read_text())
    assert res["shine_group"]["group_by"] == ["folder", "valence"]
    val = res["groupings"]["valence_tertiles"]["variants"]["shine_group"]["ratio_to_original"]
    assert val["mean_luminance"] < 0.5  # the valence tertiles are equalised too
    assert "between-group equalisation by folder + valence" in (tmp_path / "r" / "report.md").read_text()
    assert main(["normalise", "report", "--shine", str(tmp_path / "shine"), "--all", "--group-equalise",
                 "--group-by", "folder,arousal", "--set", "report.critic=tiny", "--out", str(tmp_path / "r2")]) == 2
    assert "arousal" in capsys.readouterr().err
