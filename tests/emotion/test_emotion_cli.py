"""`qdemo regressor predict|eval|explain|bench|train` on tiny images made here, with a tiny model."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from qdemo.cli import main
from qdemo.emotion import ModelSpec, VADRegressor, save_model


@pytest.fixture()
def tiny_weights(tmp_path: Path) -> Path:
    spec = ModelSpec(backbone="tiny", resolution=32, members=3, seed=0)
    m = VADRegressor(spec)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        m.head_weight.copy_(torch.randn(m.head_weight.shape, generator=gen) * 0.3)
        m.feat_std.fill_(0.5)
        m.dist_weight.copy_(torch.randn(m.dist_weight.shape, generator=gen) * 0.3)
    p = tmp_path / "tiny.safetensors"
    save_model(m, p)
    return p


@pytest.fixture()
def odd_images(tmp_path: Path) -> dict[str, Path]:
    """Good images in awkward modes, plus a corrupt JPEG and a text file named .png."""
    rng = np.random.default_rng(0)
    d = tmp_path / "odd"
    d.mkdir()
    arr = (rng.random((20, 30, 3)) * 255).astype(np.uint8)
    out = {}
    Image.fromarray(arr, "RGB").save(d / "rgb.png")
    Image.fromarray(arr[..., 0], "L").save(d / "gray.png")
    Image.fromarray(arr, "RGB").convert("CMYK").save(d / "cmyk.jpg")
    rgba = np.concatenate([arr, (rng.random((20, 30, 1)) * 255).astype(np.uint8)], axis=2)
    Image.fromarray(rgba, "RGBA").save(d / "alpha.png")
    Image.fromarray(arr, "RGB").convert("P").save(d / "palette.gif")
    good = ["rgb.png", "gray.png", "cmyk.jpg", "alpha.png", "palette.gif"]
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="JPEG")
    (d / "broken.jpg").write_bytes(buf.getvalue()[:60])
    (d / "notes.png").write_text("not an image at all")
    (d / "empty.jpg").write_bytes(b"")
    for name in good + ["broken.jpg", "notes.png", "empty.jpg"]:
        out[name] = d / name
    return out


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_predict_writes_rows_and_names_bad_files(tiny_weights, odd_images, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    rc = main(["regressor", "predict", str(odd_images["rgb.png"].parent), "--weights", str(tiny_weights),
               "--out", str(out)])
    assert rc == 0
    rows = _read_csv(out)
    scored = [r for r in rows if not r["error"]]
    names = sorted(Path(r["path"]).name for r in scored)
    assert names == sorted(["rgb.png", "gray.png", "cmyk.jpg", "alpha.png", "palette.gif"])
    assert list(rows[0]) == PREDICT_HEADER
    for r in scored:
        for k in ("valence", "arousal", "dominance"):
            assert -1 <= float(r[k]) <= 1
            assert float(r[k + "_sd"]) >= 0
    # the unreadable files follow, same columns: empty numbers, the reason in 'error'
    failed = {Path(r["path"]).name: r for r in rows if r["error"]}
    assert list(failed) == ["broken.jpg", "empty.jpg", "notes.png"]  # after the scored ones, in order
    assert rows[-3:] == list(failed.values())
    assert all(r[k] == "" for r in failed.values() for k in PREDICT_HEADER[1:7])
    assert failed["empty.jpg"]["error"] == "empty file (0 bytes), not an image"
    assert "unrecognised format" in failed["notes.png"]["error"]
    assert "empty" not in failed["broken.jpg"]["error"]
    err = capsys.readouterr().err
    assert "skipped 3 of 8" in err
    assert "broken.jpg" in err and "notes.png" in err and "empty.jpg: empty file (0 bytes)" in err


PREDICT_HEADER = ["path", "valence", "arousal", "dominance", "valence_sd", "arousal_sd", "dominance_sd", "error"]


def test_predict_csv_has_one_schema_for_failures_and_single_models(tiny_weights, odd_images, tmp_path, capsys):
    """Issue 19: all files unreadable gave a 4-column header, a success 7 columns."""
    out = tmp_path / "fail.csv"
    rc = main(["regressor", "predict", str(odd_images["empty.jpg"]), str(odd_images["notes.png"]),
               "--weights", str(tiny_weights), "--out", str(out)])
    assert rc == 2 and "none of the 2 file(s) could be read" in capsys.readouterr().err
    with open(out, newline="") as f:
        assert next(csv.reader(f)) == PREDICT_HEADER
    rows = _read_csv(out)
    assert [r["error"] for r in rows] == ["empty file (0 bytes), not an image",
                                          "not an image file (unrecognised format)"]
    # a single-member model: same columns, the *_sd ones empty
    single = VADRegressor(ModelSpec(backbone="tiny", resolution=32, members=1, seed=0))
    save_model(single, tmp_path / "one.safetensors")
    rc = main(["regressor", "predict", str(odd_images["rgb.png"]), "--weights", str(tmp_path / "one.safetensors"),
               "--out", str(out)])
    assert rc == 0
    with open(out, newline="") as f:
        assert next(csv.reader(f)) == PREDICT_HEADER
    (row,) = _read_csv(out)
    assert row["valence"] != "" and row["valence_sd"] == row["arousal_sd"] == row["dominance_sd"] == row["error"] == ""


def test_predict_to_stdout_and_raise_mode(tiny_weights, odd_images, capsys):
    rc = main(["regressor", "predict", str(odd_images["rgb.png"]), str(odd_images["gray.png"]),
               "--weights", str(tiny_weights)])
    assert rc == 0
    text = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2
    rc = main(["regressor", "predict", str(odd_images["rgb.png"]), str(odd_images["notes.png"]),
               "--weights", str(tiny_weights), "--on-error", "raise"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "qdemo: error:" in err and "notes.png" in err and "not an image" in err


def test_predict_missing_file_and_bad_weights(tiny_weights, odd_images, tmp_path, capsys):
    rc = main(["regressor", "predict", str(tmp_path / "ghost.png"), "--weights", str(tiny_weights),
               "--on-error", "raise"])
    assert rc == 2
    assert "ghost.png" in capsys.readouterr().err
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nonsense")
    rc = main(["regressor", "predict", str(odd_images["rgb.png"]), "--weights", str(bad)])
    assert rc == 2
    assert "bad.safetensors" in capsys.readouterr().err


def _rated_csv(tmp_path: Path, n: int = 12, header: str = "file,valence,arousal") -> Path:
    """n images whose valence follows their brightness, rated on 1-9, in a CSV."""
    d = tmp_path / "rated"
    d.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    lines = [header]
    for i in range(n):
        level = i / (n - 1)
        arr = np.clip(level * 255 + rng.normal(0, 10, (24, 24, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(arr, "RGB").save(d / f"im{i}.png")
        lines.append(f"im{i}.png,{1 + 8 * level:.2f},{5 + rng.normal():.2f}")
    (d / "ratings.csv").write_text("\r\n".join(lines) + "\r\n")
    return d / "ratings.csv"


def test_eval_csv_writes_metrics_json(tiny_weights, tmp_path, capsys):
    data = _rated_csv(tmp_path)
    out = tmp_path / "m.json"
    rc = main(["regressor", "eval", "--data", str(data), "--format", "csv", "--scale", "1,9",
               "--weights", str(tiny_weights), "--json", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["n"] == 12
    assert res["dims"]["human_rated"] == ["valence", "arousal"]
    assert res["dims"]["missing"] == ["dominance"]
    for d in ("valence", "arousal"):
        assert set(res["metrics"][d]) == {"r", "ccc", "mae", "sd_ratio", "n"} and res["metrics"][d]["n"] == 12
    assert res["metrics"]["dominance"]["n"] == 0
    printed = capsys.readouterr().out
    assert "human-rated in this set: valence, arousal" in printed


def test_eval_bad_csv_is_a_clear_error(tiny_weights, tmp_path, capsys):
    data = _rated_csv(tmp_path)
    # an image named in the CSV but absent
    (data.parent / "im3.png").unlink()
    rc = main(["regressor", "eval", "--data", str(data), "--format", "csv", "--scale", "1,9",
               "--weights", str(tiny_weights)])
    assert rc == 2
    assert "im3.png" in capsys.readouterr().err
    # ... skipped on request, with a count
    rc = main(["regressor", "eval", "--data", str(data), "--format", "csv", "--scale", "1,9",
               "--weights", str(tiny_weights), "--on-missing", "skip", "--json", str(tmp_path / "s.json")])
    assert rc == 0
    res = json.loads((tmp_path / "s.json").read_text())
    assert res["n"] == 11 and any("im3.png" in s[0] for s in res["skipped"])
    # no rating column at all
    data.write_text("file,mood\nim0.png,3\n")
    capsys.readouterr()
    rc = main(["regressor", "eval", "--data", str(data), "--format", "csv", "--scale", "1,9",
               "--weights", str(tiny_weights)])
    assert rc == 2
    assert str(data.name) in capsys.readouterr().err


def test_explain_writes_png_for_both_methods(tiny_weights, odd_images, tmp_path, capsys):
    for method in ("gradcam", "smoothgrad"):
        out = tmp_path / f"explain-{method}.png"
        rc = main(["regressor", "explain", str(odd_images["cmyk.jpg"]), "--out", str(out), "--weights",
                   str(tiny_weights), "--method", method])
        assert rc == 0
        with Image.open(out) as im:
            assert im.size[0] > im.size[1] > 100  # four panels side by side
    assert "valence" in capsys.readouterr().out


def test_gradcam_maps_are_normalised_and_differ_by_dimension(tiny_weights):
    from qdemo.emotion import load_model
    from qdemo.emotion.explain import gradcam

    m = load_model(path=tiny_weights)
    img = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(0))
    maps, pred = gradcam(m, img)
    assert maps.shape == (3, 40, 40) and pred.shape == (3,)
    assert maps.min() >= 0 and maps.max() <= 1 + 1e-6
    assert not np.allclose(maps[0], maps[1])


def test_bench_prints_a_table(tiny_weights, tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = main(["regressor", "bench", "--roles", "searcher", "--weights", f"searcher={tiny_weights}",
               "--batches", "1,4", "--resolutions", "32,48", "--repeats", "2", "--grad-batch", "2",
               "--json", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    modes = [(r["mode"], r["resolution"], r["batch"]) for r in res["rows"]]
    assert ("predict", 32, 1) in modes and ("predict", 48, 4) in modes and ("predict+input-grad", 32, 2) in modes
    assert all(r["images_per_s"] > 0 for r in res["rows"])
    assert "img/s" in capsys.readouterr().out


def _train_tiny(tmp_path: Path, data: Path, roles_yaml: str) -> tuple[int, Path, Path]:
    """Run `qdemo regressor train` on the rated CSV ``data`` with the given role settings (YAML);
    returns (exit code, weights folder, config file)."""
    cfg = tmp_path / "reg.yaml"
    cfg.write_text("data: {oasis: null, emotion6: null, word_norms: null, csv: %s, csv_scale: '1,9'}\n" % data
                   + roles_yaml + "folds: 2\nbaselines: false\n")
    out = tmp_path / "weights"
    rc = main(["regressor", "train", "--config", str(cfg), "--out-dir", str(out),
               "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"])
    return rc, out, cfg


def test_train_on_a_small_csv_with_a_tiny_backbone(tmp_path, capsys):
    data = _rated_csv(tmp_path, n=20)
    rc, out, cfg = _train_tiny(tmp_path, data,
                               "searcher: {name: tiny-s, views: 2, model: {backbone: tiny, resolution: 32, members: 2}}\n"
                               "critic: {name: tiny-c, views: 1, model: {backbone: tiny, resolution: 48, members: 2,"
                               " seed: 5}}\n")
    assert rc == 0, capsys.readouterr().err
    for role in ("searcher", "critic"):
        assert (out / f"{role}.safetensors").exists() and (out / f"{role}.json").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["roles"]) == {"searcher", "critic"}
    cv = metrics["roles"]["searcher"]["cv"]["ratings"]
    assert cv["valence"]["n"] == 20 and cv["dominance"]["n"] == 0
    assert cv["valence"]["r"] > 0.5  # brightness drives valence here; the tiny model picks it up held out
    assert "agreement" in metrics and "valence" in metrics["agreement"]["all"]
    card = (out / "MODEL_CARD.md").read_text()
    assert "Dominance is a proxy" in card and "held-out metrics" in card
    assert (out / "regressor-config.yaml").exists()
    # the trained model is usable by the other commands
    rc = main(["regressor", "predict", str(data.parent / "im0.png"), "--weights", str(out / "searcher.safetensors")])
    assert rc == 0
    # unknown config keys are refused
    rc = main(["regressor", "train", "--config", str(cfg), "--set", "searcher.colour=red"])
    assert rc == 2
    assert "colour" in capsys.readouterr().err


def test_train_fuses_backbones_and_calibrates(tmp_path, capsys):
    """A critic of two architectures (late fusion, mirror-image TTA) comes out as one calibrated
    FusedRegressor whose members are both parts' members; calibrated held-out spread ~ human spread."""
    from qdemo.emotion import load_model
    from qdemo.emotion.fused import FusedRegressor

    data = _rated_csv(tmp_path, n=24)
    rc, out, _ = _train_tiny(tmp_path, data,
                             "critic: {name: tiny-fused, views: 1,\n"
                             "         model: {backbone: tiny, resolution: 32, members: 2, tta_flip: true},\n"
                             "         fuse: [{backbone: tiny, resolution: 48, members: 2, seed: 3, tta_flip: true}]}\n"
                             "roles: [critic]\n")
    assert rc == 0, capsys.readouterr().err
    model = load_model(path=out / "critic.safetensors")
    assert isinstance(model, FusedRegressor) and len(model.parts) == 2
    assert [p.resolution for p in model.parts] == [32, 48]
    x = torch.rand(3, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    pred = model.predict(x)
    assert pred.members.shape == (3, 4, 3)
    # mirror-image TTA: an image and its mirror image get the same prediction
    assert torch.allclose(pred.mean, model.predict(x.flip(-1)).mean, atol=1e-5)
    cal = model.calibration.to_dict()
    assert cal["method"].startswith("variance matching") and cal["scale"][0] > 1.0  # ridge shrinks: stretched back
    m = json.loads((out / "metrics.json").read_text())["roles"]["critic"]
    raw, calibrated = m["cv"]["ratings"]["valence"], m["cv_calibrated"]["ratings"]["valence"]
    assert raw["sd_ratio"] < 0.9 and 0.7 < calibrated["sd_ratio"] < 1.3  # nested: fold k calibrated without it
    assert calibrated["r"] > 0.3  # still tracks the ratings (2 folds of 12 rows: fold-wise maps differ)
    assert m["backbone"] == "tiny + tiny" and m["members"] == 4
    card = (out / "MODEL_CARD.md").read_text()
    assert "calibrated (as shipped)" in card and "late fusion" in card


def test_train_fine_tunes_each_member_on_its_own_folds(tmp_path, capsys):
    from qdemo.emotion import load_model

    data = _rated_csv(tmp_path, n=20)
    rc, out, _ = _train_tiny(tmp_path, data,
                             "searcher: {name: tiny-s, views: 2, finetune_epochs: 3, finetune_lr: 0.003, finetune_batch: 4,\n"
                             "           model: {backbone: tiny, resolution: 32, members: 2, train_from: 1}}\n"
                             "roles: [searcher]\n")
    assert rc == 0, capsys.readouterr().err
    side = json.loads((out / "searcher.json").read_text())
    assert side["meta"]["extra"]["fine_tuned_from_unit"] == 1
    losses = side["meta"]["extra"]["finetune"]["epoch_loss"]
    assert set(losses) == {"member0", "member1"} and all(len(v) == 3 for v in losses.values())
    model = load_model(path=out / "searcher.safetensors")
    assert model.fine_tuned and len(model.branches) == 2
    pristine = VADRegressor(ModelSpec(backbone="tiny", resolution=32, members=2, train_from=1))
    b0, b1 = (dict(model.branches[k].named_parameters()) for k in (0, 1))
    ref = dict(pristine.branches[0].named_parameters())
    # each member's units moved away from the pretrained weights, and differently (different folds)
    for name, w in ref.items():
        if w.ndim > 1:
            assert not torch.allclose(b0[name], w) and not torch.allclose(b1[name], w)
            assert not torch.allclose(b0[name], b1[name])
    # the members' units are stored once each, not also as (unused) shared backbone units
    from safetensors import safe_open
    with safe_open(str(out / "searcher.safetensors"), framework="pt") as f:
        keys = list(f.keys())
    assert any(k.startswith("branches.1.") for k in keys)
    assert any(k.startswith("backbone.units.0.") for k in keys)  # tiny has no wheel: its shared unit is stored
    assert not any(k.startswith(("backbone.units.1.", "backbone.units.2.")) for k in keys)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["roles"]["searcher"]["cv"]["ratings"]["valence"]["r"] > 0.5  # held out, brightness task
    # the saved fine-tuned model loads in the other commands
    rc = main(["regressor", "predict", str(data.parent / "im0.png"), "--weights", str(out / "searcher.safetensors")])
    assert rc == 0


def test_train_from_out_of_range_is_a_config_error(tmp_path, capsys):
    data = _rated_csv(tmp_path, n=8)
    rc, out, _ = _train_tiny(tmp_path, data,
                             "searcher: {name: tiny-s, views: 1, model: {backbone: tiny, resolution: 32, members: 2,"
                             " train_from: 7}}\nroles: [searcher]\n")
    assert rc == 2
    assert "train_from=7" in capsys.readouterr().err
    assert not (out / "searcher.safetensors").exists()
