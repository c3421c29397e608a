"""Low-level image statistics and a closed-form ridge regression with cross-validated alpha.

Two baselines of the emotion model share :func:`ridge_cv`: low-level features + ridge
and frozen backbone features + ridge. The low-level features are what SHINE-style
normalisation equalises (luminance, contrast, spectrum) plus colour and edges, so they
also tell how much emotion such statistics alone carry.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722])
"""Rec. 709 luma weights (applied to the gamma-encoded sRGB values)."""

_HUE_BINS = 8

LOWLEVEL_FEATURE_NAMES: tuple[str, ...] = (
    "lum_mean", "lum_sd", "lum_skew", "lum_p05", "lum_p50", "lum_p95", "lum_entropy",
    "rms_contrast", "michelson_p", "r_mean", "g_mean", "b_mean", "rg_mean", "yb_mean",
    "hue_cos", "hue_sin", "hue_concentration", "sat_mean", "sat_sd", "val_mean", "val_sd",
    "colourfulness", "edge_density", "grad_mean", "grad_sd", "spectral_slope",
    "spectral_intercept", "high_freq_ratio", "lum_top_minus_bottom", "lum_centre_minus_surround",
    *(f"hue_hist_{i}" for i in range(_HUE_BINS)),
)
"""Names of the columns of :func:`lowlevel_features`, in order."""


def _to_hwc(image: Any) -> np.ndarray:
    if hasattr(image, "detach"):
        image = image.detach().cpu().float().numpy()
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[0] != 3:
        raise ValueError(f"expected an image of shape (3, H, W), got {arr.shape}")
    return np.clip(arr, 0.0, 1.0).transpose(1, 2, 0)  # (H, W, 3)


def _rgb_to_hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) in [0, 1] -> hue in [0, 1), saturation, value."""
    mx = rgb.max(axis=2)
    mn = rgb.min(axis=2)
    delta = mx - mn
    sat = np.where(mx > 0, delta / np.maximum(mx, 1e-12), 0.0)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.maximum(delta, 1e-12)
    h = np.where(mx == r, ((g - b) / safe) % 6.0,
                 np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0))
    h = np.where(delta > 0, h / 6.0, 0.0)
    return h, sat, mx


def spectral_slope(lum: np.ndarray, *, fmin: float = 0.01, fmax: float = 0.25) -> tuple[float, float, float]:
    """Slope and intercept of log amplitude vs log frequency (rotationally averaged).

    ``lum`` (H, W) is cropped to its central square, mean-removed and Hann-windowed;
    frequencies in cycles/pixel from ``fmin`` to ``fmax`` enter the fit (natural images:
    slope about -1 to -1.5). Also returns the share of spectral power above 0.125 c/px.
    """
    h, w = lum.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    sq = lum[y0:y0 + s, x0:x0 + s]
    sq = sq - sq.mean()
    win = np.outer(np.hanning(s), np.hanning(s))
    amp = np.abs(np.fft.fftshift(np.fft.fft2(sq * win)))
    fy = np.fft.fftshift(np.fft.fftfreq(s))
    rad = np.sqrt(fy[:, None] ** 2 + fy[None, :] ** 2)  # cycles / pixel
    nb = max(8, s // 4)
    edges = np.linspace(0.0, 0.5, nb + 1)
    which = np.digitize(rad.ravel(), edges) - 1
    valid = (which >= 0) & (which < nb)
    sums = np.bincount(which[valid], weights=amp.ravel()[valid], minlength=nb)
    cnts = np.bincount(which[valid], minlength=nb)
    centres = 0.5 * (edges[:-1] + edges[1:])
    prof = np.where(cnts > 0, sums / np.maximum(cnts, 1), 0.0)
    use = (centres >= fmin) & (centres <= fmax) & (prof > 0)
    if use.sum() < 3:
        slope, icpt = 0.0, 0.0
    else:
        slope, icpt = np.polyfit(np.log(centres[use]), np.log(prof[use]), 1)
    power = amp ** 2
    total = power[rad > 0].sum()
    hf = float(power[rad > 0.125].sum() / total) if total > 0 else 0.0
    return float(slope), float(icpt), hf


def lowlevel_features(image: Any) -> np.ndarray:
    """Low-level statistics of one image ``(3, H, W)`` in [0, 1] -> (F,) float32.

    Columns are named in :data:`LOWLEVEL_FEATURE_NAMES`: luminance moments, percentiles
    and entropy; RMS and percentile-Michelson contrast; RGB and opponent-colour means;
    saturation-weighted circular hue mean, HSV statistics, a saturation-weighted hue
    histogram; Hasler & Suesstrunk colourfulness; Sobel edge density and gradient
    statistics; spectral slope/intercept of the rotationally averaged amplitude spectrum
    and high-frequency power share; top-bottom and centre-surround luminance differences.
    """
    rgb = _to_hwc(image)  # (H, W, 3)
    h, w, _ = rgb.shape
    if h < 8 or w < 8:
        raise ValueError(f"image too small for low-level features: {h}x{w}")
    lum = rgb @ LUMA  # (H, W)
    lm, ls = lum.mean(), lum.std()
    skew = float(((lum - lm) ** 3).mean() / ls ** 3) if ls > 1e-8 else 0.0
    p05, p50, p95 = np.percentile(lum, [5, 50, 95])
    hist = np.histogram(lum, bins=32, range=(0, 1))[0].astype(np.float64)
    hist /= hist.sum()
    entropy = float(-(hist[hist > 0] * np.log2(hist[hist > 0])).sum())
    michelson = float((p95 - p05) / (p95 + p05)) if (p95 + p05) > 1e-8 else 0.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    hue, sat, val = _rgb_to_hsv(rgb)
    ang = 2 * math.pi * hue
    wsum = sat.sum()
    if wsum > 1e-8:
        hc, hs = float((sat * np.cos(ang)).sum() / wsum), float((sat * np.sin(ang)).sum() / wsum)
        hue_hist = np.bincount(np.minimum((hue * _HUE_BINS).astype(int), _HUE_BINS - 1).ravel(),
                               weights=sat.ravel(), minlength=_HUE_BINS) / wsum
    else:
        hc, hs = 0.0, 0.0
        hue_hist = np.zeros(_HUE_BINS)
    colourful = math.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    # Sobel gradients of luminance
    p = np.pad(lum, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    grad = np.hypot(gx, gy) / 8.0
    edge_density = float((grad > 0.05).mean())
    slope, icpt, hf = spectral_slope(lum)
    top, bottom = lum[: h // 2].mean(), lum[h - h // 2:].mean()
    cy, cx = slice(h // 4, h - h // 4), slice(w // 4, w - w // 4)
    centre = lum[cy, cx].mean()
    surround = (lum.sum() - lum[cy, cx].sum()) / max(lum.size - lum[cy, cx].size, 1)
    feats = [
        lm, ls, skew, p05, p50, p95, entropy,
        ls, michelson, r.mean(), g.mean(), b.mean(), rg.mean(), yb.mean(),
        hc, hs, math.hypot(hc, hs), sat.mean(), sat.std(), val.mean(), val.std(),
        colourful, edge_density, grad.mean(), grad.std(), slope, icpt, hf,
        top - bottom, centre - surround, *hue_hist,
    ]
    out = np.asarray(feats, dtype=np.float32)
    assert out.shape == (len(LOWLEVEL_FEATURE_NAMES),)
    return out


def lowlevel_feature_matrix(paths: Sequence[str | Path], *, max_side: int = 256,
                            progress: bool = True) -> np.ndarray:
    """(N, F) low-level features of image files, each first downscaled so that its longer
    side is at most ``max_side`` (features comparable across image sizes; faster)."""
    import torch
    from PIL import Image
    from tqdm.auto import tqdm

    from qdemo.io import open_rgb

    out = np.empty((len(paths), len(LOWLEVEL_FEATURE_NAMES)), dtype=np.float32)
    for i, p in enumerate(tqdm(paths, desc="low-level features", unit="img", disable=not progress)):
        im = open_rgb(p)
        scale = max_side / max(im.size)
        if scale < 1:
            im = im.resize((max(8, round(im.width * scale)), max(8, round(im.height * scale))), Image.BICUBIC)
        arr = torch.from_numpy(np.asarray(im, dtype=np.float32).copy() / 255.0).permute(2, 0, 1)  # (3, H, W)
        out[i] = lowlevel_features(arr)
    return out


# ----------------------------------------------------------------------------- ridge

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 6, 19))


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return mu, sd


def _ridge_path(Xtr: np.ndarray, Ytr: np.ndarray, Xte: np.ndarray, alphas: Sequence[float]) -> np.ndarray:
    """Predictions on ``Xte`` for every alpha and target column: (n_alpha, n_test, C).

    Standardises X on the training rows and fits an unpenalised intercept; one SVD
    serves all alphas and columns. ``Ytr`` is (n_train, C)."""
    mu, sd = _standardise(Xtr)
    A = (Xtr - mu) / sd
    B = (Xte - mu) / sd
    ym = Ytr.mean(axis=0)  # (C,)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    Uy = U.T @ (Ytr - ym)  # (r, C)
    BV = B @ Vt.T  # (n_test, r)
    al = np.asarray(alphas, dtype=np.float64)[:, None]
    shrink = s[None, :] / (s[None, :] ** 2 + al)  # (n_alpha, r)
    return np.einsum("tr,ar,rc->atc", BV, shrink, Uy) + ym  # (n_alpha, n_test, C)


def _inner_folds(n: int, groups: np.ndarray | None, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from qdemo.emotion.splits import grouped_kfold, kfold

    if groups is not None and len(np.unique(groups)) >= k:
        return grouped_kfold(groups, k=k, seed=seed)
    return kfold(n, k=min(k, n), seed=seed)


def ridge_fit_predict(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray,
                      alphas: Sequence[float] | None = None, *, groups: np.ndarray | None = None,
                      inner_k: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fit ridge on the training rows (alpha chosen per target column by inner k-fold CV,
    grouped by ``groups`` when given) and predict the test rows.

    ``y_train`` (n,) or (n, D) may hold NaN (that target is unused for that row).
    Returns (predictions (n_test, D), chosen alphas (D,)); a column with fewer than
    ``inner_k`` + 1 targets predicts NaN.
    """
    alphas = DEFAULT_ALPHAS if alphas is None else tuple(float(a) for a in alphas)
    X_train = np.asarray(X_train, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64)
    squeeze = y.ndim == 1
    Y = y[:, None] if squeeze else y
    if len(X_train) != len(Y):
        raise ValueError(f"X_train has {len(X_train)} rows but y_train {len(Y)}")
    if not np.isfinite(X_train).all() or not np.isfinite(X_test).all():
        raise ValueError("features contain NaN or inf")
    g = None if groups is None else np.asarray(groups, dtype=str)
    preds = np.full((len(X_test), Y.shape[1]), np.nan)
    chosen = np.full(Y.shape[1], np.nan)
    present = np.isfinite(Y)  # (n, D)
    # columns with the same rows present share every SVD
    patterns: dict[bytes, list[int]] = {}
    for j in range(Y.shape[1]):
        patterns.setdefault(present[:, j].tobytes(), []).append(j)
    for cols in patterns.values():
        ok = present[:, cols[0]]
        if ok.sum() <= inner_k:
            continue
        Xj, Yj = X_train[ok], Y[ok][:, cols]  # (n_ok, F), (n_ok, C)
        gj = None if g is None else g[ok]
        if len(alphas) == 1:
            best = np.full(len(cols), alphas[0])
        else:
            sse = np.zeros((len(alphas), len(cols)))
            for tr, te in _inner_folds(len(Yj), gj, inner_k, seed):
                p = _ridge_path(Xj[tr], Yj[tr], Xj[te], alphas)  # (n_alpha, n_te, C)
                sse += ((p - Yj[te][None]) ** 2).sum(axis=1)
            best = np.asarray(alphas)[np.argmin(sse, axis=0)]  # (C,)
        uniq = sorted(set(best.tolist()))
        full = _ridge_path(Xj, Yj, X_test, uniq)  # (n_uniq, n_test, C)
        for c, j in enumerate(cols):
            preds[:, j] = full[uniq.index(best[c]), :, c]
            chosen[j] = best[c]
    return (preds[:, 0], chosen) if squeeze else (preds, chosen)


def ridge_cv(features: np.ndarray, targets: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]],
             alphas: Sequence[float] | None = None, *, groups: np.ndarray | None = None,
             inner_k: int = 5, seed: int = 0, return_alphas: bool = False):
    """Out-of-fold ridge predictions: for each ``(train, test)`` in ``folds`` fit on train
    (features standardised on train, alpha by inner CV on train only, grouped by
    ``groups`` when given so that themes do not straddle the inner split either) and
    predict test.

    Args:
        features: (N, F) feature matrix (low-level features, frozen backbone features).
        targets: (N, D) targets, NaN where missing (masked per column).
        folds: outer splits, e.g. :func:`qdemo.emotion.splits.grouped_kfold`.
        alphas: ridge penalties to choose from (default :data:`DEFAULT_ALPHAS`).

    Returns:
        (N, D) out-of-fold predictions (NaN for rows in no test fold); with
        ``return_alphas`` also the (k, D) alphas chosen per fold.
    """
    X = np.asarray(features, dtype=np.float64)
    Y = np.asarray(targets, dtype=np.float64)
    squeeze = Y.ndim == 1
    if squeeze:
        Y = Y[:, None]
    if X.ndim != 2 or len(X) != len(Y):
        raise ValueError(f"features {X.shape} and targets {Y.shape} must have the same number of rows")
    g = None if groups is None else np.asarray(groups, dtype=str)
    out = np.full(Y.shape, np.nan)
    chosen = np.full((len(folds), Y.shape[1]), np.nan)
    for f, (tr, te) in enumerate(folds):
        tr, te = np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)
        pred, al = ridge_fit_predict(X[tr], Y[tr], X[te], alphas, groups=None if g is None else g[tr],
                                     inner_k=inner_k, seed=seed + f)
        out[te] = pred
        chosen[f] = al
    if squeeze:
        out, chosen = out[:, 0], chosen[:, 0]
    return (out, chosen) if return_alphas else out




# ----------------------------------------------------------------------------- baseline


def prior_predictions(targets: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Out-of-fold 'prior' baseline: every test item gets its training part's mean (NaN-aware).
    Its MAE is the reference a model must beat (its r is undefined: constant per fold)."""
    Y = np.asarray(targets, dtype=np.float64)
    out = np.full(Y.shape, np.nan)
    for tr, te in folds:
        with np.errstate(invalid="ignore"):
            col = Y[np.asarray(tr)]
            has = np.isfinite(col).any(axis=0)
            mean = np.where(has, np.nansum(np.where(np.isfinite(col), col, 0), axis=0)
                            / np.maximum(np.isfinite(col).sum(axis=0), 1), np.nan)
        out[np.asarray(te)] = mean
    return out


def _prior_metrics(targets: np.ndarray, folds, mask: np.ndarray) -> dict:
    from qdemo.emotion.metrics import regression_metrics

    m = regression_metrics(prior_predictions(targets, folds), targets, mask)
    for d in m.values():
        d["r"] = float("nan")  # pooled per-fold constants: r is an artefact (slightly negative), not a skill
    return m


def distribution_from_ridge(features: np.ndarray, dist: np.ndarray, folds, *, groups=None,
                            seed: int = 0) -> np.ndarray:
    """Out-of-fold emotion distributions (N, K) by ridge on each probability, clipped at 0
    and renormalised (a simple reference for the distribution head)."""
    p = ridge_cv(features, dist, folds, groups=groups, seed=seed)
    p = np.clip(p, 0.0, None) + 1e-6
    return p / p.sum(axis=1, keepdims=True)


def lowlevel_baseline(rated_set, *, k: int = 5, seed: int = 0, max_side: int = 256,
                      features: np.ndarray | None = None, progress: bool = True) -> dict[str, Any]:
    """The low-level features + ridge baseline on one rated set, honestly split.

    Folds come from :func:`qdemo.emotion.splits.default_folds` (OASIS: grouped by theme;
    Emotion6: stratified by folder); alpha is chosen inside each training part by an inner
    CV grouped the same way. Returns ``{"split", "metrics", "prior_metrics", "sources",
    "alphas", "n_features", "pred"}`` (``pred``: out-of-fold (N, 3)); for a set with an
    emotion distribution also ``"dist_metrics"`` (ridge on the 7 probabilities) and
    ``"dist_prior_metrics"`` (the training mean distribution).
    """
    from qdemo.emotion.metrics import distribution_metrics, regression_metrics
    from qdemo.emotion.splits import default_folds

    X = lowlevel_feature_matrix(rated_set.paths, max_side=max_side, progress=progress) \
        if features is None else np.asarray(features)
    folds, how = default_folds(rated_set, k=k, seed=seed)
    groups = rated_set.groups if len(np.unique(rated_set.groups)) < len(rated_set) else None
    pred, alphas = ridge_cv(X, rated_set.targets, folds, groups=groups, seed=seed, return_alphas=True)
    mask = rated_set.mask()
    out = {
        "split": how,
        "metrics": regression_metrics(pred, rated_set.targets, mask),
        "prior_metrics": _prior_metrics(rated_set.targets, folds, mask),
        "sources": dict(rated_set.sources),
        "alphas": alphas.tolist(),
        "n_features": int(X.shape[1]),
        "pred": pred,
    }
    if rated_set.emotion_dist is not None:
        q = rated_set.emotion_dist
        out["dist_metrics"] = distribution_metrics(distribution_from_ridge(X, q, folds, groups=groups, seed=seed), q)
        out["dist_prior_metrics"] = distribution_metrics(prior_predictions(q, folds), q)
    return out


def cached_lowlevel_features(paths: Sequence[str | Path], cache_dir: str | Path | None = None, *,
                             max_side: int = 256, progress: bool = True) -> np.ndarray:
    """:func:`lowlevel_feature_matrix`, cached as ``.npy`` in ``cache_dir`` keyed by the
    paths, their sizes and modification times, the feature names and ``max_side``."""
    import hashlib

    from qdemo.io import hash_files_state

    if cache_dir is None:
        return lowlevel_feature_matrix(paths, max_side=max_side, progress=progress)
    h = hashlib.sha256()
    h.update(repr((LOWLEVEL_FEATURE_NAMES, max_side)).encode())
    hash_files_state(h, paths)
    f = Path(cache_dir) / f"lowlevel-{h.hexdigest()[:16]}.npy"
    if f.exists():
        X = np.load(f)
        if X.shape == (len(paths), len(LOWLEVEL_FEATURE_NAMES)):
            return X
    X = lowlevel_feature_matrix(paths, max_side=max_side, progress=progress)
    from qdemo.io import atomic_path

    with atomic_path(f) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, X)
    return X


def _median_metrics(runs: Sequence[dict]) -> dict:
    """Per dimension and metric, the median over runs (NaN when no run has a value)."""
    def med(vals: list[float]) -> float:
        v = np.asarray(vals, dtype=np.float64)
        v = v[np.isfinite(v)]
        return float(np.median(v)) if v.size else float("nan")

    return {d: {k: (med([r[d][k] for r in runs]) if k != "n" else runs[0][d]["n"]) for k in runs[0][d]}
            for d in runs[0]}


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m qdemo.emotion.lowlevel --data DIR [--data DIR2] ...``: the low-level
    features + ridge baseline, out-of-fold, median over split seeds; with two sets also
    cross-dataset (train on one, test on the other)."""
    import argparse

    from qdemo.emotion.datasets import load_dataset
    from qdemo.emotion.metrics import format_metrics_table, regression_metrics
    from qdemo.errors import QdemoError
    from qdemo.io import atomic_write_json

    ap = argparse.ArgumentParser(prog="python -m qdemo.emotion.lowlevel",
                                 description="Low-level image features + ridge baseline (out-of-fold).")
    ap.add_argument("--data", required=True, action="append", help="rated set folder or CSV (repeatable)")
    ap.add_argument("--format", default="auto", help="oasis | emotion6 | csv | auto")
    ap.add_argument("--scale", default=None, help="native scale for --format csv, e.g. 1,9")
    ap.add_argument("--norms", default=None, help="word-norms folder: fill dominance with the word proxy")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seeds", default="0", help="split seeds, e.g. 0,1,2,3,4 (metrics: median)")
    ap.add_argument("--max-side", type=int, default=256)
    ap.add_argument("--cache", default=None, help="folder to cache features in")
    ap.add_argument("--json", default=None, help="write the metrics here (atomic)")
    args = ap.parse_args(argv)
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    results: dict[str, Any] = {}
    sets, feats = [], []
    try:
        norms = None
        if args.norms:
            from qdemo.emotion.proxies import WordNorms, add_proxies

            norms = WordNorms.load(args.norms)
        for path in args.data:
            kw = {"scale": args.scale} if args.scale else {}
            rs = load_dataset(path, format=args.format, **kw)
            if norms is not None:
                rs = add_proxies(rs, norms)
            X = cached_lowlevel_features(rs.paths, args.cache, max_side=args.max_side)
            runs = [lowlevel_baseline(rs, k=args.k, seed=s, features=X) for s in seeds]
            med = _median_metrics([r["metrics"] for r in runs])
            prior = _median_metrics([r["prior_metrics"] for r in runs])
            split = runs[0]["split"].rsplit(", seed", 1)[0] + f"; median over seeds {seeds}"
            res = {"split": split, "metrics": med, "prior_metrics": prior, "sources": dict(rs.sources),
                   "per_seed": [r["metrics"] for r in runs], "n_features": int(X.shape[1])}
            rows = {f"{rs.name} lowlevel+ridge": med, f"{rs.name} prior (train mean)": prior}
            if "dist_metrics" in runs[0]:
                for name in ("dist_metrics", "dist_prior_metrics"):
                    res[name] = {key: (float(np.median([r[name][key] for r in runs])) if key != "n"
                                       else int(runs[0][name]["n"])) for key in runs[0][name]}
                rows[f"{rs.name} dist lowlevel+ridge"] = res["dist_metrics"]
                rows[f"{rs.name} dist prior (train mean)"] = res["dist_prior_metrics"]
            results[rs.name] = res
            print(format_metrics_table(rows, sources=rs.sources, split=split))
            for s, r in zip(seeds, runs):
                print(f"  seed {s}: " + ", ".join(f"{d} r={m['r']:.3f}" for d, m in r["metrics"].items()
                                                  if m["n"]))
            print()
            sets.append(rs)
            feats.append(X)
        if len(sets) == 2:
            for a, b in ((0, 1), (1, 0)):
                ga = sets[a].groups if len(np.unique(sets[a].groups)) < len(sets[a]) else None
                pred, _ = ridge_fit_predict(feats[a], sets[a].targets, feats[b], groups=ga)
                m = regression_metrics(pred, sets[b].targets, sets[b].mask())
                key = f"train {sets[a].name} -> test {sets[b].name}"
                split = f"cross-dataset: fit on all of {sets[a].name} (alpha by inner CV), test on all of {sets[b].name}"
                results[key] = {"split": split, "metrics": m, "sources": dict(sets[b].sources)}
                print(format_metrics_table({key: m}, sources=sets[b].sources, split=split))
                print()
    except QdemoError as exc:
        print(f"qdemo: error: {exc}")
        return 2
    if args.json:
        atomic_write_json(args.json, results)
    return 0


__all__ = ["DEFAULT_ALPHAS", "LOWLEVEL_FEATURE_NAMES", "cached_lowlevel_features", "distribution_from_ridge", "lowlevel_baseline", "lowlevel_feature_matrix", "lowlevel_features",
           "prior_predictions", "ridge_cv", "ridge_fit_predict", "spectral_slope"]


if __name__ == "__main__":
    raise SystemExit(_main())
