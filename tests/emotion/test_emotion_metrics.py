"""Metrics against hand-computed values; low-level features and ridge baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qdemo.emotion.lowlevel import (
    LOWLEVEL_FEATURE_NAMES, lowlevel_feature_matrix, lowlevel_features, spectral_slope,
)
from qdemo.emotion.metrics import (
    concordance, distribution_metrics, format_metrics_table, pearson_r, regression_metrics,
)
from qdemo.emotion.ridge import ridge_cv, ridge_fit_predict
from qdemo.emotion.splits import grouped_kfold, kfold


def test_regression_metrics_hand_computed():
    # valence: pred = [1,2,3,4], target = [2,4,6,8] -> r = 1, mae = 2.5
    #   ccc = 2 cov / (vx + vy + (mx-my)^2) = 2*2.5 / (1.25 + 5 + 6.25) = 0.4
    # arousal: pred [1,2,3], target [3,2,1] -> r = -1, ccc = 2*(-2/3) / (2/3 + 2/3 + 0) = -1
    pred = np.array([[1, 1, 0], [2, 2, 0], [3, 3, 0], [4, 9, 0]], dtype=float)
    target = np.array([[2, 3, 1], [4, 2, np.nan], [6, 1, 2], [8, np.nan, 3]], dtype=float)
    m = regression_metrics(pred, target)
    # sd_ratio = sd(pred) / sd(target) = 1.118 / 2.236 = 0.5 (the predictions are half as spread)
    assert m["valence"] == pytest.approx({"r": 1.0, "ccc": 0.4, "mae": 2.5, "sd_ratio": 0.5, "n": 4})
    assert m["arousal"]["r"] == pytest.approx(-1.0)
    assert m["arousal"]["ccc"] == pytest.approx(-1.0)
    assert m["arousal"]["mae"] == pytest.approx(4 / 3)
    assert m["arousal"]["n"] == 3
    # dominance: constant prediction -> r NaN, ccc 0, mae mean(1,2,3) = 2
    assert math.isnan(m["dominance"]["r"])
    assert m["dominance"]["ccc"] == pytest.approx(0.0)
    assert m["dominance"]["mae"] == pytest.approx(2.0)
    assert m["dominance"]["sd_ratio"] == pytest.approx(0.0)


def test_regression_metrics_mask_and_small_n():
    pred = np.array([[0.1, 0.2, 0.3], [0.4, 0.1, 0.0], [0.9, 0.5, 0.2], [0.3, 0.3, 0.3]])
    target = pred * 2
    mask = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=bool)
    m = regression_metrics(pred, target, mask)
    assert m["valence"]["n"] == 3 and m["valence"]["r"] == pytest.approx(1.0)
    assert m["arousal"]["n"] == 2 and math.isnan(m["arousal"]["r"])  # n < 3
    assert m["dominance"]["n"] == 1 and math.isnan(m["dominance"]["ccc"])
    assert m["dominance"]["mae"] == pytest.approx(0.3)
    empty = regression_metrics(pred, target, np.zeros_like(mask))
    assert empty["valence"]["n"] == 0 and math.isnan(empty["valence"]["mae"])
    with pytest.raises(ValueError):
        regression_metrics(pred, target[:, :2])
    assert regression_metrics(torch.tensor(pred), torch.tensor(target))["valence"]["r"] == pytest.approx(1.0)


def test_pearson_and_ccc_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = 0.5 * x + rng.normal(size=50)
    assert pearson_r(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    vx, vy, cov = x.var(), y.var(), np.mean((x - x.mean()) * (y - y.mean()))
    assert concordance(x, y) == pytest.approx(2 * cov / (vx + vy + (x.mean() - y.mean()) ** 2))
    assert concordance(x, x) == pytest.approx(1.0)
    assert concordance(x, x + 1) < 1.0  # shifted: correlated but not concordant


def test_distribution_metrics_hand_computed():
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    q = np.array([[0.5, 0.5, 0.0], [0.5, 0.3, 0.2]])
    m = distribution_metrics(p, q)
    # row 1 identical (kl 0, cheb 0, bc 1, same argmax); row 2:
    kl2 = 0.5 * math.log(0.5 / 0.2) + 0.3 * math.log(1) + 0.2 * math.log(0.2 / 0.5)
    bc2 = math.sqrt(0.1) + 0.3 + math.sqrt(0.1)
    assert m["kl"] == pytest.approx(kl2 / 2, abs=1e-6)
    assert m["chebyshev"] == pytest.approx(0.3 / 2)
    assert m["bhattacharyya"] == pytest.approx((1 + bc2) / 2)
    assert m["max_emotion_accuracy"] == pytest.approx(0.5)
    assert m["n"] == 2
    # zeros in the prediction where the target has mass: finite (eps-safe)
    z = distribution_metrics(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))
    assert math.isfinite(z["kl"]) and z["kl"] > 10
    assert z["chebyshev"] == pytest.approx(1.0) and z["bhattacharyya"] == pytest.approx(0.0, abs=1e-6)


def test_format_metrics_table_labels_sources_and_split():
    pred = np.array([[0.1, 0.2, 0.3], [0.4, 0.1, 0.0], [0.9, 0.5, 0.2], [0.3, 0.3, 0.35]])
    m = regression_metrics(pred, pred * 2)
    txt = format_metrics_table({"model": m, "lowlevel+ridge": m},
                               sources={"valence": "human", "arousal": "human",
                                        "dominance": "proxy:warriner-theme-words"},
                               split="5-fold grouped by theme")
    assert "split: 5-fold grouped by theme" in txt
    assert "proxy:warriner-theme-words" in txt and "lowlevel+ridge" in txt
    assert "human-rated: valence, arousal; proxy: dominance (warriner-theme-words)" in txt
    rows = [ln for ln in txt.splitlines() if ln.startswith(("model ", "lowlevel+ridge "))]
    assert len([ln for ln in rows if " valence " in ln]) == 2 and "1.000" in txt
    d = distribution_metrics(np.full((2, 7), 1 / 7), np.full((2, 7), 1 / 7))
    assert "max_emotion_accuracy" in format_metrics_table({"dist": d})


def test_lowlevel_features_respond_to_image_content():
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(3, 64, 80, generator=g)
    f = lowlevel_features(noise)
    assert f.shape == (len(LOWLEVEL_FEATURE_NAMES),) and np.isfinite(f).all()
    names = list(LOWLEVEL_FEATURE_NAMES)
    dark = lowlevel_features(noise * 0.3)
    assert dark[names.index("lum_mean")] < f[names.index("lum_mean")]
    grey = torch.full((3, 64, 64), 0.5)
    fg = lowlevel_features(grey)
    assert fg[names.index("sat_mean")] == pytest.approx(0) and fg[names.index("colourfulness")] == pytest.approx(0)
    red = torch.zeros(3, 64, 64)
    red[0] = 0.9
    fr = lowlevel_features(red)
    assert fr[names.index("sat_mean")] == pytest.approx(1.0) and fr[names.index("hue_hist_0")] == pytest.approx(1.0)
    # white noise has a flat spectrum; 1/f noise (pink) a slope near -1
    rng = np.random.default_rng(0)
    white = rng.normal(size=(128, 128))
    fy = np.fft.fftfreq(128)
    rad = np.sqrt(fy[:, None] ** 2 + fy[None, :] ** 2)
    rad[0, 0] = 1
    pink = np.real(np.fft.ifft2(np.fft.fft2(white) / rad))
    assert abs(spectral_slope(white)[0]) < 0.3
    assert spectral_slope(pink)[0] == pytest.approx(-1.0, abs=0.3)


def test_lowlevel_feature_matrix_on_files(image_dir):
    from qdemo.io import list_images

    paths = list_images(image_dir)
    X = lowlevel_feature_matrix(paths, progress=False)
    assert X.shape == (6, len(LOWLEVEL_FEATURE_NAMES)) and np.isfinite(X).all()


def test_ridge_cv_recovers_linear_signal_out_of_fold():
    rng = np.random.default_rng(0)
    n, f = 120, 10
    X = rng.normal(size=(n, f))
    w = rng.normal(size=f)
    y = np.stack([X @ w + 0.1 * rng.normal(size=n), rng.normal(size=n), np.full(n, np.nan)], axis=1)
    y[::7, 0] = np.nan  # some masked targets
    groups = np.repeat(np.arange(30), 4).astype(str)
    folds = grouped_kfold(groups, k=5, seed=0)
    pred, alphas = ridge_cv(X, y, folds, groups=groups, return_alphas=True)
    assert pred.shape == (n, 3) and alphas.shape == (5, 3)
    ok = ~np.isnan(y[:, 0])
    assert np.corrcoef(pred[ok, 0], y[ok, 0])[0, 1] > 0.95
    assert abs(np.corrcoef(pred[:, 1], y[:, 1])[0, 1]) < 0.35  # noise stays noise out of fold
    assert alphas[:, 1].mean() > alphas[:, 0].mean()  # more shrinkage for the noise target
    assert np.isnan(pred[:, 2]).all()  # no targets at all -> NaN


def test_ridge_fit_predict_matches_closed_form():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    Xt = rng.normal(size=(5, 3))
    pred, chosen = ridge_fit_predict(X, y, Xt, alphas=[2.0])
    mu, sd = X.mean(0), X.std(0)
    A = (X - mu) / sd
    coef = np.linalg.solve(A.T @ A + 2.0 * np.eye(3), A.T @ (y - y.mean()))
    assert pred == pytest.approx(((Xt - mu) / sd) @ coef + y.mean())
    assert chosen.tolist() == [2.0]


def test_kfold_partition():
    folds = kfold(11, k=3, seed=0)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(11))


def test_lowlevel_baseline_command_on_a_tiny_csv(tmp_path, capsys):
    from PIL import Image

    from qdemo.emotion.lowlevel.command import main as _main

    rng = np.random.default_rng(0)
    lines = ["file,valence,arousal,group"]
    for i in range(20):
        b = i / 19  # brightness drives valence here
        arr = np.clip(rng.random((24, 24, 3)) * 0.3 + b * 0.7, 0, 1)
        Image.fromarray((arr * 255).astype(np.uint8)).save(tmp_path / f"im{i}.png")
        lines.append(f"im{i}.png,{1 + 8 * b:.3f},{rng.uniform(1, 9):.3f},g{i // 2}")
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "m.json"
    rc = _main(["--data", str(tmp_path / "r.csv"), "--scale", "1,9", "--k", "3", "--seeds", "0,1",
                "--json", str(out), "--cache", str(tmp_path / "cache")])
    assert rc == 0
    import json

    res = json.loads(out.read_text())["r"]
    assert "grouped by group" in res["split"] and "median over seeds [0, 1]" in res["split"]
    assert res["metrics"]["valence"]["r"] > 0.8
    assert res["sources"]["dominance"] == "missing"
    assert list((tmp_path / "cache").glob("lowlevel-*.npy"))
    assert "lowlevel+ridge" in capsys.readouterr().out
    assert _main(["--data", str(tmp_path / "r.csv")]) == 2  # no --scale: clear error, exit 2


def test_prior_and_distribution_baselines():
    from qdemo.emotion.lowlevel import distribution_from_ridge, prior_predictions

    Y = np.array([[1.0, np.nan], [3.0, 2.0], [5.0, np.nan], [7.0, 4.0]])
    folds = [(np.array([0, 1]), np.array([2, 3])), (np.array([2, 3]), np.array([0, 1]))]
    p = prior_predictions(Y, folds)
    assert p[2:].tolist() == [[2.0, 2.0], [2.0, 2.0]]  # mean of rows 0, 1 (NaN ignored)
    assert p[:2].tolist() == [[6.0, 4.0], [6.0, 4.0]]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    logits = np.stack([X[:, 0], -X[:, 0], np.zeros(60)], axis=1)
    q = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    d = distribution_from_ridge(X, q, kfold(60, k=5, seed=0))
    assert d.shape == (60, 3) and np.allclose(d.sum(1), 1) and (d > 0).all()
    ridge = distribution_metrics(d, q)
    prior = distribution_metrics(prior_predictions(q, kfold(60, k=5, seed=0)), q)
    assert ridge["kl"] < prior["kl"] and ridge["max_emotion_accuracy"] > prior["max_emotion_accuracy"]


def test_bootstrap_ci_and_describe_sources():
    from qdemo.emotion.metrics import bootstrap_ci, describe_sources

    rng = np.random.default_rng(0)
    t = rng.normal(size=(200, 3))
    p = t + rng.normal(scale=[0.5, 2.0, 0.5], size=(200, 3))
    full = regression_metrics(p, t)
    ci = bootstrap_ci(p, t, n_boot=200, seed=1)
    for d in ("valence", "arousal"):
        lo, hi = ci[d]["r"]
        assert lo < full[d]["r"] < hi and hi - lo < 0.4
    assert ci["valence"]["r"][0] > ci["arousal"]["r"][1]  # the noisier dimension is clearly worse
    groups = np.repeat(np.arange(20), 10)
    g = bootstrap_ci(p, t, groups=groups, n_boot=100)
    assert g["valence"]["mae"][0] < full["valence"]["mae"] < g["valence"]["mae"][1]
    none = bootstrap_ci(p, t, np.zeros_like(t, dtype=bool), n_boot=5)
    assert all(math.isnan(x) for x in none["valence"]["r"])
    line = describe_sources({"valence": "human", "arousal": "human", "dominance": "proxy:warriner-theme-words"})
    assert line == "human-rated: valence, arousal; proxy: dominance (warriner-theme-words)"
    assert describe_sources({"valence": "human"}) == "human-rated: valence; not rated: arousal, dominance"
