"""`qdemo regressor adapt` on tiny models and tiny images made here: the solver, the shrinkage, the
methods, the metadata of the adapted file and the errors of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from qdemo.cli import main
from qdemo.errors import CheckpointError, ConfigError, DataError


def _images(folder: Path, n: int, seed: int, rule: str) -> list[tuple[str, float, float]]:
    """``n`` 24 px images of random colour and brightness; returns (file, valence, arousal) on 1-9,
    valence following ``rule`` ('bright': brightness, 'red': red minus blue)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        colour, level = rng.uniform(0.2, 1.0, 3), rng.uniform(0.1, 1.0)
        arr = np.clip(255 * level * colour[None, None] + rng.normal(0, 12, (24, 24, 3)), 0, 255).astype(np.uint8)
        name = f"{rule}{seed}_{i}.png"
        Image.fromarray(arr, "RGB").save(folder / name)
        x = arr.mean() / 255 if rule == "bright" else (arr[..., 0].mean() - arr[..., 2].mean()) / 255 + 0.5
        out.append((name, float(np.clip(1 + 8 * x + rng.normal(0, 0.3), 1, 9)), float(np.clip(5 + rng.normal(), 1, 9))))
    return out


def _csv(folder: Path, rows) -> Path:
    path = folder / "ratings.csv"
    path.write_text("file,valence,arousal\n" + "".join(f"{f},{v:.3f},{a:.3f}\n" for f, v, a in rows))
    return path


@pytest.fixture(scope="module")
def parent(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny searcher trained on images whose valence is their redness: (weights, its training config)."""
    tmp = tmp_path_factory.mktemp("parent")
    data = _csv(tmp / "red", _images(tmp / "red", 40, 0, "red"))
    cfg = tmp / "reg.yaml"
    cfg.write_text(f"data: {{oasis: null, emotion6: null, word_norms: null, csv: {data}, csv_scale: '1,9'}}\n"
                   "searcher: {name: tiny-red, views: 2, model: {backbone: tiny, resolution: 32, members: 3}}\n"
                   f"roles: [searcher]\nfolds: 3\nevaluate: false\ncache_dir: {tmp / 'cache'}\n"
                   f"out_dir: {tmp / 'weights'}\n")
    assert main(["regressor", "train", "--config", str(cfg), "--device", "cpu"]) == 0
    return tmp / "weights" / "searcher.safetensors", cfg


def _r(model, folder: Path, rows) -> float:
    from qdemo.io import load_image

    x = torch.stack([load_image(folder / f, 32) for f, _, _ in rows])
    with torch.no_grad():
        pred = model.predict(x).mean[:, 0].numpy()
    return float(np.corrcoef(pred, [v for _, v, _ in rows])[0, 1])


def test_ridge_toward_prior_is_the_primal_ridge():
    from qdemo.emotion.ridge import ridge_toward_prior

    rng = np.random.default_rng(0)
    Z, r = rng.normal(size=(30, 12)), rng.normal(size=(30, 2))
    M = np.diag(rng.uniform(0.5, 2, 12))
    A, C = ridge_toward_prior(Z @ M @ Z.T, r, [0.0, 0.7])
    X = np.column_stack([Z, np.ones(30)])
    P = np.zeros((13, 13))
    P[:12, :12] = np.linalg.inv(0.7 * M)
    primal = np.linalg.solve(X.T @ X + P, X.T @ r)  # (13, 2)
    np.testing.assert_allclose(0.7 * M @ Z.T @ A[1], primal[:12], atol=1e-10)
    np.testing.assert_allclose(C[1], primal[12], atol=1e-10)
    np.testing.assert_allclose(C[0], r.mean(0)) and np.testing.assert_allclose(A[0], r - r.mean(0))


def test_few_ratings_keep_the_parent_and_the_one_se_rule_prefers_conservative():
    from qdemo.emotion.adapt import Cal, Heads, fit_heads, one_se_choice

    # paired over units: a noisy small gain keeps the conservative candidate, a steady one does not
    assert one_se_choice([np.array([1.0, 1.2, 0.8, 1.1]), np.array([0.9, 1.3, 0.6, 1.2])]) == 0
    assert one_se_choice([np.array([1.0, 1.2, 0.8, 1.1]), np.array([0.95, 1.14, 0.76, 1.05])]) == 1
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(24, 2, 30))
    Z[:, 1] = Z[:, 0]
    heads = Heads([rng.normal(size=(2, 30, 3)) * 0.05], [np.zeros((2, 3))])
    noise = rng.normal(size=(24, 3)) * 0.5  # ratings unrelated to anything
    new, held, info = fit_heads([Z], np.clip(noise, -0.9, 0.9), np.arange(24).astype(str), heads)
    lams = list(info["lam"].values())  # pure noise: the parent's heads stay, or nearly (the smallest weights)
    assert len(lams) == 3 and max(lams) <= 0.3 and lams.count(0.0) >= 2
    assert np.abs(new.W[0] - heads.W[0]).max() < np.abs(heads.W[0]).max()
    few = np.full((24, 3), np.nan)
    few[:6] = 0.5
    assert fit_heads([Z], few, np.arange(24).astype(str), heads)[2]["lam"] == {}  # under MIN_ROWS: untouched
    assert Cal(np.ones(3), np.zeros(3)).apply(np.array([[2.0, -3.0, 0.5]])).tolist() == [[1.0, -1.0, 0.5]]


def test_adapt_learns_the_new_rule_and_names_its_parent(parent, tmp_path, capsys):
    from qdemo.emotion.zoo import load_emotion_model, model_sha256

    weights, _ = parent
    rows = _images(tmp_path / "new", 60, 1, "bright")
    test = _images(tmp_path / "test", 40, 2, "bright")
    data = _csv(tmp_path / "new", rows)
    out = tmp_path / "adapted.safetensors"
    rc = main(["regressor", "adapt", "--model", str(weights), "--data", str(data), "--format", "csv",
               "--scale", "1,9", "--out", str(out), "--folds", "4"])
    assert rc == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "chosen:" in printed and "refit-prior" in printed
    before, after = load_emotion_model(str(weights)), load_emotion_model(str(out))
    r0, r1 = _r(before, tmp_path / "test", test), _r(after, tmp_path / "test", test)
    assert r1 > r0 + 0.2 and r1 > 0.6, (r0, r1)  # held-out images, the new rule
    meta = after.info.extra["adapted"]
    assert meta["parent"]["sha256"] == model_sha256(before) and meta["parent"]["name"] == "tiny-red"
    assert meta["ratings"]["n_stimuli"] == 60 and len(meta["ratings"]["sha256"]) == 64
    assert meta["method"] in ("refit-prior", "domain-calibration")
    report = json.loads((tmp_path / "adapted.report.json").read_text())
    assert set(report["methods"]) == {"parent", "domain-calibration", "refit-prior"}  # no training rows given
    cv = report["methods"]
    assert cv[report["chosen"]]["new"]["valence"]["r"] > cv["parent"]["new"]["valence"]["r"]
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["meta"]["extra"]["adapted"]["ratings"]["sha256"] == meta["ratings"]["sha256"]
    # nothing is overwritten without --force
    with pytest.raises(DataError, match="already exists"):
        _adapt(weights, data, out)
    _adapt(weights, data, out, force=True)


def _adapt(model, data, out, **over):
    from qdemo.cli.adapt import run_adapt
    from qdemo.config import load_config
    from qdemo.emotion.adapt_config import AdaptConfig

    kw = {"model": str(model), "data": None if data is None else str(data), "format": "csv", "scale": "1,9",
          "out": str(out), "folds": 3}
    kw.update(over)
    return run_adapt(load_config(AdaptConfig, None, kw), progress=False)


def test_training_rows_methods_and_the_original_set(parent, tmp_path):
    weights, cfg = parent
    rows = _images(tmp_path / "new", 45, 3, "bright")
    data = _csv(tmp_path / "new", rows)
    report = _adapt(weights, data, tmp_path / "a.safetensors", train_config=str(cfg))
    assert set(report["methods"]) == {"parent", "domain-calibration", "recalibrate", "refit-prior", "refit",
                                      "refit-domain"}
    orig = report["methods"]["refit"]["original"]
    assert set(orig) == {"ratings"} and orig["ratings"]["valence"]["n"] == 40
    assert report["methods"]["parent"]["original_drop"] == 0.0
    assert report["fit"]["method"] == report["chosen"]


def test_bad_inputs_name_the_file(parent, tmp_path):
    from safetensors.torch import save_file

    weights, _ = parent
    rows = _images(tmp_path / "new", 12, 4, "bright")
    data = _csv(tmp_path / "new", rows)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(CheckpointError, match=r"foreign\.safetensors: not a qdemo emotion model"):
        _adapt(foreign, data, tmp_path / "o1.safetensors")
    with pytest.raises(CheckpointError, match="can be adapted"):
        _adapt("tiny", data, tmp_path / "o2.safetensors")
    with pytest.raises(ConfigError, match="one of them"):
        _adapt(weights, None, tmp_path / "o3.safetensors")
    with pytest.raises(ConfigError, match="needs --train-config"):
        _adapt(weights, data, tmp_path / "o4.safetensors", method="refit")
    (tmp_path / "new" / rows[0][0]).unlink()
    with pytest.raises(DataError, match=rows[0][0]):
        _adapt(weights, data, tmp_path / "o5.safetensors")
    assert not any(tmp_path.glob("o*.safetensors"))


def test_adapt_bench_protocol_on_synthetic_features():
    """The bench's loops and table on a made-up parent: old rows, a new 'set' of stems whose rule differs."""
    from qdemo.emotion.adapt import Cal, Heads
    from qdemo.emotion.adapt_bench import Setup, format_summary, run_bench, summarise
    from qdemo.emotion.adapt_data import fold_grams, member_gram
    from qdemo.emotion.adapt_run import OldRows

    rng = np.random.default_rng(0)
    F, K = 16, 3
    w_old = rng.normal(size=(F, 3)) / 4
    w_new = w_old + rng.normal(size=(F, 3)) / 3  # a related rule
    Zo = rng.normal(size=(2, 90, F))  # (views, rows, F)
    fold = np.arange(90) % K
    yo = np.tanh(Zo[0] @ w_old) + rng.normal(0, 0.1, (90, 3))
    heads = Heads([np.stack([w_old] * K)], [np.zeros((K, 3))])
    stats = fold_grams(Zo, fold)
    old = OldRows(Z=[Zo[0][:, None].repeat(K, 1)], targets=yo, fold=fold, dataset=np.array(["a", "b"] * 45),
                  gram=[[member_gram(stats, k) for k in range(K)]], alpha=[np.full((K, 3), 10.0)])
    Zn = rng.normal(size=(120, F))
    yn = np.tanh(Zn @ w_new) + rng.normal(0, 0.1, (120, 3))
    yn[:, 2] = np.nan
    st = Setup(heads, Cal(np.ones(3), np.zeros(3)), old, [Zn[:, None].repeat(K, 1)], yn,
               np.array([f"s{i // 2}" for i in range(120)]))
    res = run_bench(st, [20, 50], 1, auto=True, folds=3, progress=False)
    rows = summarise(res)
    assert {(e["n"], e["method"]) for e in rows} >= {(50, "refit"), (50, "auto"), (20, "parent")}
    big = {e["method"]: e for e in rows if e["n"] == 50}
    assert big["parent"]["valence_gain"] == 0.0 and big["parent"]["original_drop"] == 0.0
    for m in ("domain-calibration", "refit-prior", "refit-domain", "auto"):  # guarded by the original sets
        assert big[m]["original_drop"] <= 0.02 + 1e-9, (m, big[m])
    assert big["refit-prior"]["valence_gain"] > 0 and big["refit-prior"]["arousal_gain"] > 0  # the new rule, in part
    assert len(res["runs"]) == 2
    assert "| 50 | auto (" in format_summary(rows)
