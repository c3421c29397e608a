"""Emotional pix2pix: networks, training (losses, resume, atomic checkpoints), apply, report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from norm_helpers import make_groups, tiny_cfg
from qdemo.errors import CheckpointError, DataError, QdemoError
from qdemo.normalise import (
    GeneratorSpec, NormaliseConfig, PatchDiscriminator, UNetGenerator, build_generator, collect,
    load_generator, run_shine, save_generator,
)
from qdemo.normalise.apply import apply_paths
from qdemo.normalise.report import evaluate, run_report
from qdemo.normalise.train import Trainer
from qdemo.viz.normalise import plot_report


def _cfg(steps: int = 4) -> NormaliseConfig:
    return tiny_cfg(steps)


@pytest.fixture()
def shine_dir(tmp_path) -> Path:
    images = collect(make_groups(tmp_path / "g", n_per_group=4, size=16))
    run_shine(images, tmp_path / "shine", _cfg(), backend="serial")
    return tmp_path / "shine"


def test_unet_starts_as_identity_and_checks_sizes():
    g = build_generator(GeneratorSpec(ngf=4, depth=3, resolution=16), torch.Generator().manual_seed(0))
    x = torch.rand(2, 3, 16, 16) * 0.9 + 0.05
    y = g(x)
    assert y.shape == x.shape and torch.allclose(y, x, atol=1e-5)
    assert g(torch.rand(1, 3, 24, 40)).shape == (1, 3, 24, 40)
    with pytest.raises(ValueError, match="multiples of 8"):
        g(torch.rand(1, 3, 20, 20))
    plain = UNetGenerator(GeneratorSpec(ngf=4, depth=3, residual=False))
    out = plain(x)
    assert out.min() >= 0 and out.max() <= 1 and not torch.allclose(out, x, atol=1e-2)
    d = PatchDiscriminator(ndf=8, n_layers=2)
    assert d(x, y).shape[:2] == (2, 1)


def test_training_writes_a_resumable_run_and_refuses_other_settings(shine_dir, tmp_path):
    cfg = _cfg(steps=4)
    s = Trainer(shine_dir, tmp_path / "run", cfg, progress=False).run()
    run = tmp_path / "run"
    assert s["steps"] == 4 and not s["resumed"]
    for f in ("config.yaml", "split.json", "metrics.csv", "generator.safetensors", "generator.json",
              "run.json", "checkpoint/ckpt.pt", "samples/step_000004.png"):
        assert (run / f).exists(), f
    ck = torch.load(run / "checkpoint" / "ckpt.pt", weights_only=True)
    assert ck["step"] == 4
    split = json.loads((run / "split.json").read_text())
    assert len(split["test"]) == 2 and not set(split["test"]) & set(split["train"])
    cfg.train.steps = 6
    s2 = Trainer(shine_dir, run, cfg, progress=False).run()
    assert s2["resumed"] and s2["steps"] == 6
    assert len((run / "metrics.csv").read_text().strip().splitlines()) == 1 + 6
    assert not list(run.rglob("*.tmp"))  # atomic writes leave no temporaries
    warm = _cfg(steps=1)
    warm.train.init_from = str(run)
    s3 = Trainer(shine_dir, tmp_path / "warm", warm, progress=False).run()
    assert s3["init_steps"] == 6 and s3["steps"] == 1
    cfg.train.lambda_emo = 3.0
    with pytest.raises(CheckpointError, match="other train settings"):
        Trainer(shine_dir, run, cfg, progress=False).run()
    (run / "checkpoint" / "ckpt.pt").write_bytes(b"garbage")
    cfg.train.lambda_emo = 20.0
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        Trainer(shine_dir, run, cfg, progress=False).run()


def test_emotion_loss_backpropagates_only_when_lambda_emo_positive(shine_dir, tmp_path):
    from qdemo.emotion import TinyEmotionModel

    seen = []

    class Spy(TinyEmotionModel):
        def forward(self, images):
            seen.append(images.requires_grad)
            return super().forward(images)

    for lam in (0.0, 5.0):
        seen.clear()
        cfg = _cfg(steps=2)
        cfg.train.lambda_emo = lam
        cfg.train.log_every = 100
        Trainer(shine_dir, tmp_path / f"r{lam}", cfg, progress=False, emotion=Spy(seed=0).eval()).run()
        # call 0 scores the originals (no grad); then one call per step when lambda_emo > 0
        assert (True in seen) == (lam > 0), (lam, seen)


def test_l1_to_shine_target_decreases(shine_dir, tmp_path):
    cfg = _cfg(steps=12)
    cfg.train.lambda_gan, cfg.train.lambda_emo, cfg.train.lr = 0.0, 0.0, 5e-3
    cfg.train.log_every, cfg.train.checkpoint_every, cfg.train.sample_every = 3, 100, 100
    Trainer(shine_dir, tmp_path / "run", cfg, progress=False).run()
    rows = (tmp_path / "run" / "metrics.csv").read_text().strip().splitlines()
    head = rows[0].split(",")
    l1 = [float(r.split(",")[head.index("loss_l1")]) for r in rows[1:]]
    assert l1[-1] < 0.8 * l1[0], l1


def test_generator_weights_roundtrip_and_bad_files(tmp_path):
    g = build_generator(GeneratorSpec(ngf=4, depth=3, resolution=16), torch.Generator().manual_seed(1))
    with torch.no_grad():
        g.ups[-1][1].weight.normal_(0, 0.05)
    path = save_generator(g, tmp_path / "m.safetensors", {"note": "test"})
    g2, info = load_generator(path)
    x = torch.rand(1, 3, 16, 16)
    g.eval()
    assert torch.allclose(g(x), g2(x), atol=2e-2)  # float16 storage
    assert info["spec"]["ngf"] == 4 and info["note"] == "test"
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 10)
    (tmp_path / "bad.json").write_text(json.dumps({"spec": {"ngf": 4, "depth": 3}}))
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_generator(tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError, match="not found"):
        load_generator(tmp_path / "missing.safetensors")


def test_apply_to_files_folders_and_archive_elites(tmp_path):
    g = build_generator(GeneratorSpec(ngf=4, depth=3, resolution=16), torch.Generator().manual_seed(0)).eval()
    folder = make_groups(tmp_path / "photos", n_per_group=2, size=20)
    run = tmp_path / "archives" / "run1"
    (run / "elites").mkdir(parents=True)
    (run / "manifest.json").write_text("{}")
    for i in range(3):
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(run / "elites" / f"cell_{i}.png")
    (run / "montage.png").write_bytes(b"")  # not an elite: must be ignored
    single = folder / "dark" / "img0.png"
    s = apply_paths(g, [folder, run, single], tmp_path / "out", progress=False)
    assert s["n_images"] == 4 + 3 + 1 and s["n_skipped"] == 0
    assert (tmp_path / "out" / "run1" / "elites" / "cell_2.png").exists()
    assert (tmp_path / "out" / "photos" / "bright" / "img1.png").exists()
    assert Image.open(tmp_path / "out" / "img0.png").size == (16, 16)
    (folder / "dark" / "bad.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"bad\.png"):
        apply_paths(g, [folder], tmp_path / "out2", progress=False)
    s = apply_paths(g, [folder], tmp_path / "out3", on_error="skip", progress=False)
    assert s["n_skipped"] == 1 and s["n_images"] == 4
    with pytest.raises(DataError, match="multiple of 8"):
        apply_paths(g, [folder], tmp_path / "out4", size=20, progress=False)


def test_report_measures_spread_and_drift(shine_dir, tmp_path, tiny_model):
    ident = build_generator(GeneratorSpec(ngf=4, depth=3, resolution=16), torch.Generator().manual_seed(0))
    path = save_generator(ident, tmp_path / "ident.safetensors")
    cfg = _cfg()
    res = run_report(shine_dir, {"identity": path}, tmp_path / "rep", cfg, chosen="identity", split="all",
                     critic=tiny_model, plot=plot_report)
    emo = res["groupings"]["emotion"]["variants"]
    assert emo["original"]["spread_index"] == pytest.approx(1.0)
    assert emo["identity"]["spread_index"] == pytest.approx(1.0, abs=0.05)
    assert emo["shine"]["ratio_to_original"]["mean_luminance"] < 0.2  # lum mode equalises mean luminance
    assert res["variants"]["identity"]["drift"]["va_distance"] < 0.2 * res["variants"]["shine"]["drift"]["va_distance"]
    assert res["targets"]["chosen"] == "identity" and res["targets"]["retention_of_shine_reduction"] < 0.2
    assert not res["targets"]["met"]
    assert {"valence_tertiles", "arousal_tertiles"} <= set(res["groupings"])  # critic tertiles (unrated set)
    for f in ("report.json", "report.md", "summary.png", "lowlevel_emotion.png"):
        assert (tmp_path / "rep" / f).exists()
    assert res["figures"] == [f"lowlevel_{g}.png" for g in res["groupings"]] + ["summary.png"]
    assert "summary.png" in (tmp_path / "rep" / "report.md").read_text()
    with Image.open(tmp_path / "rep" / "summary.png") as im:  # two bar charts, one bar per variant
        rgb = np.asarray(im.convert("RGB")).astype(int)
    blue = (abs(rgb - (31, 119, 180)).sum(axis=2) < 30).sum()  # tab:blue spread bars
    red = (abs(rgb - (214, 39, 40)).sum(axis=2) < 30).sum()  # tab:red drift bars
    assert blue > 500 and red > 100
    bare = run_report(shine_dir, {}, tmp_path / "bare", cfg, split="all", critic=tiny_model)  # no plot handed in
    assert bare["figures"] == [] and not list((tmp_path / "bare").glob("*.png"))


def test_report_rejects_empty_or_single_groups(tiny_model):
    x = torch.rand(4, 3, 16, 16)
    cfg = _cfg()
    cfg.report.tertiles = ()
    with pytest.raises(DataError, match="at least two"):
        evaluate({"original": x, "shine": x}, ["a"] * 4, None, tiny_model, cfg)
    from qdemo.normalise.report import group_spread

    with pytest.raises(DataError, match="empty"):
        group_spread(np.zeros((4, 1)), {"a": [0, 1], "b": []})


def test_cli_shine_apply_and_errors(tmp_path, capsys):
    from qdemo.cli import main

    root = make_groups(tmp_path / "g", n_per_group=2, size=16)
    assert main(["normalise", "shine", "--data", str(root), "--mode", "hist", "--size", "16", "--serial",
                 "--out", str(tmp_path / "s")]) == 0
    assert "SHINE hist: 4 images" in capsys.readouterr().out
    Image.new("RGB", (8, 12)).save(root / "dark" / "small.png")
    assert main(["normalise", "shine", "--data", str(root), "--size", "0", "--serial", "--out", str(tmp_path / "t")]) == 2
    assert "small.png is 8x12" in capsys.readouterr().err
    assert main(["normalise", "shine", "--data", str(root), "--serial", "--out", str(tmp_path / "u"),
                 "--set", "shine.nope=1"]) == 2
    assert "nope" in capsys.readouterr().err
    g = build_generator(GeneratorSpec(ngf=4, depth=3, resolution=16))
    m = save_generator(g, tmp_path / "g.safetensors")
    assert main(["normalise", "apply", "--model", str(m), str(root), "--out", str(tmp_path / "a"), "--device", "cpu"]) == 0
    assert "normalised 5 images" in capsys.readouterr().out
    assert main(["normalise", "apply", "--model", str(tmp_path / "nope.safetensors"), str(root),
                 "--out", str(tmp_path / "b")]) == 2
    assert "nope.safetensors: model file not found" in capsys.readouterr().err


def test_yaml_config_matches_the_defaults():
    from qdemo.config import load_config, to_dict

    repo = Path(__file__).resolve().parents[2]
    assert to_dict(load_config(NormaliseConfig, repo / "configs" / "normalise.yaml")) == to_dict(NormaliseConfig())


def test_emotion_model_names_are_checked():
    from qdemo.emotion.zoo import load_emotion_model

    with pytest.raises(QdemoError, match="use 'searcher'"):
        load_emotion_model("imagenet", role="searcher")


def test_stats_loss_is_zero_for_equal_images_and_differentiable():
    from qdemo.normalise.lowlevel import radial_log_amplitude, stats_loss

    x = torch.rand(2, 3, 16, 16)
    assert float(stats_loss(x, x)) == pytest.approx(0.0, abs=1e-6)
    y = (x * 0.5).requires_grad_(True)
    loss = stats_loss(y, x)
    loss.backward()
    assert float(loss.detach()) > 0.01 and y.grad is not None and y.grad.abs().sum() > 0
    smooth = torch.nn.functional.avg_pool2d(x, 3, 1, 1)
    hi = radial_log_amplitude(x[:, 0])[:, -3:].mean()
    assert radial_log_amplitude(smooth[:, 0])[:, -3:].mean() < hi  # blurring removes high frequencies


def test_sweep_runs_one_model_per_lambda_and_caches_finished_runs(shine_dir, tmp_path):
    from qdemo.normalise.sweep import run_sweep

    cfg = _cfg(steps=1)
    res = run_sweep(shine_dir, tmp_path / "sweep", cfg, [0, 10], backend="serial")
    assert set(res) == {"lambda_emo=0", "lambda_emo=10"}
    assert res["lambda_emo=10"]["lambda_emo"] == 10.0
    for k in res:
        assert (tmp_path / "sweep" / k / "generator.safetensors").exists()
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text())["runs"]["lambda_emo=0"]["steps"] == 1
    again = run_sweep(shine_dir, tmp_path / "sweep", cfg, [0, 10], backend="serial")  # from the cache
    assert json.dumps(again, sort_keys=True) == json.dumps(res, sort_keys=True)


def test_shipped_default_generator_loads_and_runs():
    from qdemo.normalise.weights_io import SHIPPED

    assert SHIPPED.exists() and SHIPPED.stat().st_size < 8_000_000
    assert (SHIPPED.parent / "MODEL_CARD.md").exists()
    g, info = load_generator()
    assert info["spec"]["resolution"] == 64 and info["lambda_emo"] == 20.0
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        y = g(x)
    assert y.shape == x.shape and 0 <= float(y.min()) and float(y.max()) <= 1
    assert float((y - x).abs().mean()) > 0.01  # it changes images (it is not the identity)


def test_validation_split_is_never_trained_on_and_can_be_reported(shine_dir, tmp_path, tiny_model):
    from qdemo.normalise.data import split_validation
    from qdemo.normalise.shine import ShineOutput
    from qdemo.normalise.train import splits_of

    cfg = _cfg(steps=1)
    cfg.train.val_fraction = 0.34
    sp = splits_of(ShineOutput.read(shine_dir), cfg)
    assert [len(sp[k]) for k in ("train", "val", "test")] == [4, 2, 2]
    assert not set(sp["val"]) & set(sp["train"]) and not set(sp["val"]) & set(sp["test"])
    s = Trainer(shine_dir, tmp_path / "run", cfg, progress=False).run()
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert s["train_images"] == 4 and s["val_images"] == 2 and len(split["val"]) == 2
    assert not set(split["val"]) & set(split["train"])
    assert {Path(p).parent.name for p in split["val"]} == {"dark", "bright"}  # stratified by group
    cfg.report.tertiles = ()
    res = run_report(shine_dir, {"g": tmp_path / "run"}, tmp_path / "rep", cfg, split="val", critic=tiny_model)
    assert res["split"]["evaluated"] == "val" and res["split"]["n_images"] == 2
    with pytest.raises(DataError, match="no val images"):
        cfg.train.val_fraction = 0.0
        run_report(shine_dir, {}, tmp_path / "rep2", cfg, split="val", critic=tiny_model)
    with pytest.raises(DataError, match="val_fraction"):
        split_validation(collect(shine_dir / "images"), [0, 1], 1.5, 0)


def test_emo_jitter_shifts_output_and_original_alike(shine_dir, tmp_path):
    from qdemo.emotion import TinyEmotionModel

    calls = []

    class Spy(TinyEmotionModel):
        def forward(self, images):
            calls.append((images.detach().clone(), images.requires_grad))
            return super().forward(images)

    cfg = _cfg(steps=2)
    cfg.train.lambda_emo, cfg.train.emo_jitter, cfg.train.log_every = 5.0, 2, 100
    tr = Trainer(shine_dir, tmp_path / "run", cfg, progress=False, emotion=Spy(seed=0).eval())
    tr.run()
    per_step = calls[1:]  # call 0 scores the originals once
    assert len(per_step) == 4 and [g for _, g in per_step] == [False, True, False, True]
    # the transform keeps sizes and, with no shift and no flip, is the identity
    x = torch.rand(2, 3, 16, 16)
    tr._jit = (2, 2, False, None)
    assert torch.equal(tr._jitter_like(x), x)
    tr._jit = (0, 2, True, None)
    y = tr._jitter_like(x)
    assert y.shape == x.shape and torch.equal(y[..., 2:, :], torch.flip(x, dims=[3])[..., :-2, :])
    draws = set()
    for _ in range(20):
        tr._jitter(x)
        draws.add(tr._jit)
    assert len(draws) > 3 and all(0 <= a <= 4 and 0 <= b <= 4 and box is None for a, b, _, box in draws)


def test_emo_cutout_greys_the_same_square_of_output_and_original(shine_dir, tmp_path):
    from qdemo.emotion import TinyEmotionModel

    calls = []

    class Spy(TinyEmotionModel):
        def forward(self, images):
            calls.append(images.detach().clone())
            return super().forward(images)

    cfg = _cfg(steps=2)
    cfg.train.lambda_emo, cfg.train.emo_cutout, cfg.train.log_every = 5.0, 0.5, 100
    tr = Trainer(shine_dir, tmp_path / "run", cfg, progress=False, emotion=Spy(seed=0).eval())
    tr.run()
    per_step = calls[1:]  # call 0 scores the originals once; then (original view, output view) per step
    assert len(per_step) == 4
    for orig, out in (per_step[0:2], per_step[2:4]):
        grey_o, grey_g = (orig == 0.5).all(dim=1), (out == 0.5).all(dim=1)  # (B, H, W)
        assert grey_o.sum() >= 8 * 8 * orig.shape[0] and grey_g.sum() >= 8 * 8 * out.shape[0]
        square = grey_o.all(dim=0) & grey_g.all(dim=0)  # the same square in every image of both views
        assert int(square.sum()) == 8 * 8
    x = torch.rand(2, 3, 16, 16)
    boxes = set()
    for _ in range(20):
        tr._jitter(x)
        dy, dx, flip, box = tr._jit
        assert (dy, dx, flip) == (0, 0, False) and box[2:] == (8, 8) and 0 <= box[0] <= 8 and 0 <= box[1] <= 8
        boxes.add(box)
    assert len(boxes) > 3
    cfg.train.emo_cutout = 1.0
    with pytest.raises(QdemoError, match="emo_cutout"):
        Trainer(shine_dir, tmp_path / "run2", cfg, progress=False, emotion=Spy(seed=0).eval())


def test_report_blend_baselines_sit_between_original_and_shine(shine_dir, tmp_path, tiny_model):
    cfg = _cfg()
    cfg.report.tertiles = ()
    cfg.report.blends = (0.0, 0.5, 1.0)
    res = run_report(shine_dir, {}, tmp_path / "rep", cfg, split="all", critic=tiny_model)
    emo = res["groupings"]["emotion"]["variants"]
    drift = {k: v["drift"]["va_distance"] for k, v in res["variants"].items()}
    assert emo["blend_0"]["spread_index"] == pytest.approx(1.0) and drift["blend_0"] == pytest.approx(0.0, abs=1e-6)
    assert emo["blend_1"]["spread_index"] == pytest.approx(emo["shine"]["spread_index"], abs=1e-6)
    assert drift["blend_1"] == pytest.approx(drift["shine"], abs=1e-6)
    assert emo["shine"]["spread_index"] < emo["blend_0.5"]["spread_index"] < 1.0
    cfg.report.blends = (1.5,)
    with pytest.raises(DataError, match="report.blends"):
        run_report(shine_dir, {}, tmp_path / "rep2", cfg, split="all", critic=tiny_model)
