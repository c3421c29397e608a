"""The group-conditioned pix2pix (train.condition=group): G sees the between-group SHINE
proposal of its set and starts from it; training, report and apply give it the proposal of
the set being normalised."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from norm_helpers import make_groups, tiny_cfg
from qdemo.errors import CheckpointError, DataError
from qdemo.normalise import GeneratorSpec, NormaliseConfig, build_generator, collect, load_generator, run_shine, save_generator
from qdemo.normalise.apply import apply_paths
from qdemo.normalise.groupwise import equalise_set, propose
from qdemo.normalise.report import run_report
from qdemo.normalise.shine import ShineOutput
from qdemo.normalise.train import Trainer, load_pairs, splits_of


def _cfg(steps: int = 4, lambda_emo: float = 20.0) -> NormaliseConfig:
    cfg = tiny_cfg(steps)
    cfg.train.condition, cfg.train.lambda_emo = "group", lambda_emo
    return cfg


@pytest.fixture()
def shine_dir(tmp_path) -> Path:
    images = collect(make_groups(tmp_path / "g", n_per_group=6, size=16))
    run_shine(images, tmp_path / "shine", _cfg(), backend="serial")
    return tmp_path / "shine"


def _spec() -> GeneratorSpec:
    return GeneratorSpec(ngf=4, depth=3, resolution=16, condition="group")


def test_conditioned_unet_starts_as_the_proposal_and_needs_it():
    g = build_generator(_spec(), torch.Generator().manual_seed(0))
    x = torch.rand(2, 3, 16, 16) * 0.9 + 0.05
    p = torch.rand(2, 3, 16, 16) * 0.9 + 0.05
    assert torch.allclose(g(x, p), p, atol=1e-5)  # residual on the proposal, not on the photo
    assert g.downs[0][0].in_channels == 6
    with pytest.raises(ValueError, match="proposal"):
        g(x)
    with pytest.raises(ValueError, match="differs"):
        g(x, p[:, :, :8])
    plain = build_generator(GeneratorSpec(ngf=4, depth=3, resolution=16))
    with pytest.raises(ValueError, match="takes no proposal"):
        plain(x, p)
    with pytest.raises(ValueError, match="condition='pairs'"):
        build_generator(GeneratorSpec(ngf=4, depth=3, condition="pairs"))


def test_propose_is_equalise_set_for_tensors():
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 255, (16, 16, 3), dtype=np.uint8) // (1 + i % 2) for i in range(6)]
    groups = ["a", "b"] * 3
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    out = propose(x, groups)
    assert out.dtype == torch.uint8 and out.shape == x.shape
    ref = np.stack(equalise_set(arrays, groups))
    assert np.array_equal(out.permute(0, 2, 3, 1).numpy(), ref)
    assert not torch.equal(out, x)


def test_training_targets_are_the_group_equalisation_of_the_training_split_only(shine_dir, tmp_path):
    cfg = _cfg(steps=3)
    tr = Trainer(shine_dir, tmp_path / "run", cfg, progress=False)
    pairs = load_pairs(tr.shine, tr.train_idx)
    got = tr._with_group_targets(pairs, "training")
    want = propose(pairs.x, pairs.groups, cfg.shine.group_iterations, cfg.shine.seed)
    assert torch.equal(got.y, want)
    # computed without the test images: not what the same images get inside the whole set
    all_idx = list(range(len(tr.shine.sources)))
    whole = propose(load_pairs(tr.shine, all_idx).x, [tr.shine.groups[i] for i in all_idx])
    assert not torch.equal(got.y, whole[tr.train_idx])
    s = tr.run()
    assert s["condition"] == "group" and s["steps"] == 3
    g, info = load_generator(tmp_path / "run")
    assert g.conditioned and info["spec"]["condition"] == "group"
    assert info["condition"] == "group"
    assert (tmp_path / "run" / "samples" / "step_000003.png").exists()


def test_emotion_loss_moves_the_output_off_the_proposal_towards_the_original_emotion(shine_dir, tmp_path):
    from qdemo.emotion.zoo import load_emotion_model

    emo = load_emotion_model("tiny", role="searcher")
    moved, loss = {}, {}
    for lam in (0.0, 100.0):
        cfg = _cfg(steps=6, lambda_emo=lam)
        cfg.train.lambda_gan, cfg.train.lambda_l1, cfg.train.lr = 0.0, 1.0, 5e-3  # isolate D_emo; L1 alone keeps G at the proposal
        Trainer(shine_dir, tmp_path / f"l{lam:g}", cfg, progress=False).run()
        g, _ = load_generator(tmp_path / f"l{lam:g}")
        sh = ShineOutput.read(shine_dir)
        pairs = load_pairs(sh, splits_of(sh, cfg)["train"])
        x = pairs.x.float() / 255
        p = propose(pairs.x, pairs.groups).float() / 255
        with torch.no_grad():
            out = g(x, p)
            moved[lam] = (out - p).abs().mean().item()
            loss[lam] = torch.nn.functional.mse_loss(emo(out), emo(x)).item()
            loss["proposal"] = torch.nn.functional.mse_loss(emo(p), emo(x)).item()
    assert moved[0.0] < 1e-3  # L1 to the proposal is already 0: nothing to learn
    assert moved[100.0] > 3 * moved[0.0]
    assert loss[100.0] < 0.9 * loss["proposal"]  # D_emo pulls the emotion back to the original's


@pytest.mark.slow
def test_report_gives_conditioned_models_the_proposal_of_the_evaluated_images(shine_dir, tmp_path, tiny_model):
    g = build_generator(_spec(), torch.Generator().manual_seed(0))  # the identity on the proposal
    path = save_generator(g, tmp_path / "cond.safetensors")
    cfg = _cfg()
    cfg.report.group_equalise = True
    res = run_report(shine_dir, {"cond": path}, tmp_path / "rep", cfg, chosen="cond", split="all", critic=tiny_model)
    emo = res["groupings"]["emotion"]["variants"]
    # float16 weights of a zero last layer: exactly the proposal, up to the logit clamp
    assert emo["cond"]["spread_index"] == pytest.approx(emo["shine_group"]["spread_index"], abs=0.02)
    assert emo["cond"]["spread_index"] < 0.6
    cfg.report.group_equalise = False  # the proposal is computed for the model all the same
    res2 = run_report(shine_dir, {"cond": path}, tmp_path / "rep2", cfg, split="all", critic=tiny_model)
    assert "shine_group" not in res2["variants"]
    assert res2["groupings"]["emotion"]["variants"]["cond"]["spread_index"] == pytest.approx(
        emo["cond"]["spread_index"])


def test_apply_groups_by_folder_and_needs_two_groups(tmp_path):
    g = build_generator(_spec(), torch.Generator().manual_seed(0)).eval()
    folder = make_groups(tmp_path / "photos", n_per_group=3, size=16)
    s = apply_paths(g, [folder], tmp_path / "out", progress=False)
    assert s["n_images"] == 6 and s["condition"] == "group"
    arrays = [np.asarray(Image.open(f).convert("RGB")) for f in sorted((folder / "dark").glob("*.png"))
              + sorted((folder / "bright").glob("*.png"))]
    ref = equalise_set(arrays, ["dark"] * 3 + ["bright"] * 3)
    got = np.asarray(Image.open(tmp_path / "out" / "photos" / "dark" / "img0.png"))
    assert np.abs(got.astype(int) - ref[0].astype(int)).max() <= 2  # identity G: the proposal itself
    bright = np.mean([np.asarray(Image.open(f)).mean() for f in (tmp_path / "out" / "photos" / "bright").glob("*.png")])
    dark = np.mean([np.asarray(Image.open(f)).mean() for f in (tmp_path / "out" / "photos" / "dark").glob("*.png")])
    assert abs(bright - dark) < 0.5 * abs(np.mean([a.mean() for a in arrays[3:]]) - np.mean([a.mean() for a in arrays[:3]]))
    with pytest.raises(DataError, match="at least two groups"):
        apply_paths(g, [folder / "dark"], tmp_path / "one", progress=False)
    (folder / "dark" / "bad.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"bad\.png"):
        apply_paths(g, [folder], tmp_path / "bad", progress=False)
    s = apply_paths(g, [folder], tmp_path / "skip", on_error="skip", progress=False)
    assert s["n_skipped"] == 1 and s["n_images"] == 6
    assert json.loads((tmp_path / "skip" / "apply.json").read_text())["n_skipped"] == 1
    assert not (tmp_path / "one").exists() or not list((tmp_path / "one").rglob("*.png"))


def test_cli_trains_and_applies_a_group_conditioned_model(shine_dir, tmp_path, capsys):
    from qdemo.cli import main

    overrides = ["--set", "train.ngf=4", "--set", "train.depth=3", "--set", "train.ndf=8", "--set", "train.d_layers=2",
                 "--set", "train.emotion_model=tiny", "--set", "train.batch_size=4", "--set", "train.test_fraction=0.25",
                 "--set", "data.size=16"]
    assert main(["normalise", "train", "--shine", str(shine_dir), "--condition", "group", "--steps", "2",
                 "--out", str(tmp_path / "run"), "--device", "cpu", *overrides]) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    g, info = load_generator(tmp_path / "run")
    assert g.conditioned
    photos = make_groups(tmp_path / "photos", n_per_group=2, size=16, seed=3)
    assert main(["normalise", "apply", "--model", str(tmp_path / "run"), str(photos), "--out", str(tmp_path / "a"),
                 "--device", "cpu"]) == 0
    assert "normalised 4 images" in capsys.readouterr().out
    assert main(["normalise", "apply", "--model", str(tmp_path / "run"), str(photos / "dark"),
                 "--out", str(tmp_path / "b"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "group-conditioned" in err and "two groups" in err


def test_shipped_group_model_loads_by_name_and_starts_from_the_proposal(tmp_path):
    from qdemo.normalise.weights_io import SHIPPED_GROUP

    assert SHIPPED_GROUP.exists() and SHIPPED_GROUP.stat().st_size < 8_000_000
    g, info = load_generator("group")
    assert g.conditioned and info["path"] == str(SHIPPED_GROUP) and info["spec"]["resolution"] == 64
    assert info["lambda_emo"] == 20.0 and info["condition"] == "group"
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(0, 256, (4, 3, 64, 64), dtype=np.uint8))
    x[2:] //= 3  # two groups that differ in brightness
    p = propose(x, ["a", "a", "b", "b"])
    with torch.no_grad():
        y = g(x.float() / 255, p.float() / 255)
    assert y.shape == (4, 3, 64, 64) and 0 <= float(y.min()) and float(y.max()) <= 1
    assert float((y - p.float() / 255).abs().mean()) < 0.02  # a small change of the proposal
    assert float((y - x.float() / 255).abs().mean()) > 0.05  # which differs from the photos
    with pytest.raises(CheckpointError, match="not found"):
        load_generator(tmp_path / "group.safetensors")
