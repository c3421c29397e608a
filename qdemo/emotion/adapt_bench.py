"""``qdemo regressor adapt-bench``: does adapting on a few hundred ratings of a new kind of image help?

The protocol of issue 23, on the rated sets of ``configs/regressor.yaml`` (features from the
training's feature cache, so nothing is re-extracted):

1. a parent searcher is fitted **without BASS** (OASIS + Emotion6, the training's recipe: K
   ridge members on the joint folds, penalty by leaving folds out, variance-matching
   calibration on the out-of-fold predictions);
2. the BASS image stems are split in two halves at random (``dog.png`` and ``dog5.png`` on one
   side): the adapt pool and the test half;
3. for n in ``sizes``: n BASS images (whole stems) are drawn from the pool, every method of
   :data:`qdemo.emotion.adapt.METHODS` is fitted on them (strengths by grouped CV inside the n
   images), and ``auto`` (what ``qdemo regressor adapt`` keeps) chooses among them;
4. measured on the test half: valence / arousal r, MAE, sd ratio (prediction / human); and
   the change of r on the original held-out sets (OASIS, Emotion6 out of fold).

Repeated ``repeats`` times (new stem split and draw each time); the table gives the mean and
standard deviation over repeats of the gain over the parent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from qdemo import DIMS
from qdemo.emotion.adapt import AUTO, METHODS, Cal, Heads, predict
from qdemo.emotion.adapt_run import OldRows, Problem, compare_methods, fit_method, metrics, original_sets

NEW = "bass"
"""The set held back from the parent and adapted on."""
VA = ("valence", "arousal")


@dataclass
class Setup:
    """The parent fitted without the new set, and the new set's rows in its feature space."""

    heads: Heads
    cal: Cal
    old: OldRows
    Z_new: list[np.ndarray]
    """Per part (N_new, K, F) standardised features of the new set (view 0)."""
    y_new: np.ndarray
    """(N_new, 3) targets: valence, arousal (dominance NaN: a proxy there)."""
    stems: np.ndarray
    """(N_new,) image stems (CV groups and the halves)."""


def _parent(feats: np.ndarray, targets: np.ndarray, fold: np.ndarray, dataset: np.ndarray, alphas, k: int
            ) -> tuple[Heads, Cal, np.ndarray, np.ndarray, np.ndarray]:
    """K ridge members on the joint folds (as :func:`qdemo.emotion.train.role.train_role`), calibrated:
    (heads, calibration, feature mean, feature sd, penalties (K, 3))."""
    from qdemo.emotion.calibration import fit_variance_matching
    from qdemo.emotion.ridge import RidgeFitter

    flat = feats.reshape(-1, feats.shape[2]).astype(np.float64)
    gmu, gsd = flat.mean(0), flat.std(0)
    gsd = np.where(gsd > 1e-8, gsd, 1.0)
    fitter = RidgeFitter(feats, targets, fold, blocks=dataset, alphas=alphas)
    h = fitter.fit_members([fitter.keys(lambda f, b, kk=kk: f != kk) for kk in range(k)], gmu, gsd)
    heads = Heads([h["weight"]], [h["bias"]])
    Z0 = ((feats[0] - gmu) / gsd)[:, None].repeat(k, axis=1)
    oof = np.zeros((len(fold), len(DIMS)))
    for kk in range(k):
        rows = np.flatnonzero(fold == kk)
        oof[rows] = np.tanh(Z0[rows, kk] @ h["weight"][kk] + h["bias"][kk])
    scale, shift, info = fit_variance_matching(oof, targets)
    return heads, Cal(scale, shift, info), gmu, gsd, h["alpha"]


def _cached_parent(feats, targets, fold, dataset, alphas, k: int, cache_dir: str | None):
    """:func:`_parent`, kept in ``cache_dir`` (the fit takes minutes on 2 cores; safe to delete)."""
    import hashlib
    import os
    from pathlib import Path

    h = hashlib.sha256(b"adapt-bench-parent-1")
    for a in (feats, np.nan_to_num(targets, nan=9.0), fold, np.asarray(alphas, np.float64)):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr((k, sorted(set(map(str, dataset))))).encode())
    path = Path(os.path.expanduser(cache_dir)) / f"adaptbench-parent-{h.hexdigest()[:16]}.npz" if cache_dir else None
    if path is not None and path.is_file():
        z = np.load(path)
        return (Heads([z["W"]], [z["b"]]), Cal(z["scale"], z["shift"], {"method": str(z["method"])}), z["gmu"],
                z["gsd"], z["alpha"])
    heads, cal, gmu, gsd, alpha = _parent(feats, targets, fold, dataset, alphas, k)
    if path is not None:
        from qdemo.io import atomic_path

        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, W=heads.W[0], b=heads.b[0], scale=cal.scale, shift=cal.shift, gmu=gmu, gsd=gsd,
                         alpha=alpha, method=cal.info.get("method", ""))
    return heads, cal, gmu, gsd, alpha


def build_setup(cfg, *, progress: bool = True) -> Setup:
    """Features of every rated image of ``cfg`` (a RegressorConfig) from its cache, and the parent."""
    from qdemo.emotion.adapt_data import fold_grams, member_gram
    from qdemo.emotion.features import extract_features
    from qdemo.emotion.model import VADRegressor
    from qdemo.emotion.train.data import load_training_data

    rc = cfg.searcher
    if getattr(rc.model, "semantic", False):
        from qdemo.errors import ConfigError

        raise ConfigError("adapt-bench fits its parent on the pooled features; run it with "
                          "--set searcher.model.semantic=false")
    data = load_training_data(cfg)
    if NEW not in set(data.dataset.tolist()):
        raise ValueError(f"the config has no {NEW} set (data.bass)")
    model = VADRegressor(replace(rc.model, members=cfg.folds))
    feats = extract_features(model, data.rated.paths, views=rc.views, crop_scale=rc.crop_scale, seed=cfg.seed,
                             batch_size=rc.batch_size, cache_dir=cfg.cache_dir, progress=progress)  # (V, N, F)
    old, new = data.dataset != NEW, data.dataset == NEW
    y = np.asarray(data.rated.targets, np.float64)
    k = cfg.folds
    heads, cal, gmu, gsd, alpha = _cached_parent(feats[:, old], y[old], data.fold[old], data.dataset[old], rc.alphas,
                                                 k, cfg.cache_dir)
    Zv = (feats[:, old] - gmu) / gsd  # (V, N_old, F)
    stats = fold_grams(Zv, data.fold[old])
    rows = OldRows(Z=[Zv[0][:, None].repeat(k, axis=1)], targets=y[old], fold=data.fold[old],
                   dataset=data.dataset[old], gram=[[member_gram(stats, kk) for kk in range(k)]],
                   alpha=[np.where(np.isfinite(alpha), alpha, np.nanmedian(alpha))])
    y_new = y[new].copy()
    y_new[:, DIMS.index("dominance")] = np.nan  # BASS dominance is a word-norm proxy: not adapted on
    Z_new = [((feats[0][new] - gmu) / gsd)[:, None].repeat(k, axis=1)]
    return Setup(heads, cal, rows, Z_new, y_new, np.asarray(data.rated.groups)[new])


def _draw(stems: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(adapt rows: n images of whole stems from one half, test rows: the other half)."""
    uniq = rng.permutation(np.unique(stems))
    half = set(uniq[: len(uniq) // 2])
    pool = [s for s in uniq if s in half]
    test = np.flatnonzero(~np.isin(stems, list(half)))
    rows: list[int] = []
    for s in pool:
        if len(rows) >= n:
            break
        rows += np.flatnonzero(stems == s).tolist()
    return np.asarray(rows[:n]), test  # the last stem may be cut: its rest is in no test row (a half may
    # hold fewer than n images: then all of them)


def _score(st: Setup, heads: Heads, cal: Cal, test: np.ndarray, before: dict) -> dict[str, Any]:
    """Test-half metrics (V, A) and the largest original-set r fall of one adapted model."""
    m = metrics(predict([z[test] for z in st.Z_new], heads, cal), st.y_new[test])
    orig = original_sets(st.old, heads, cal)
    drop = {n: {d: before[n][d]["r"] - orig[n][d]["r"] for d in VA} for n in orig}
    return {**{d: m[d] for d in VA}, "original_drop": drop}


def run_bench(st: Setup, sizes: Sequence[int], repeats: int, *, auto: bool = True, folds: int = 5,
              progress: bool = True) -> dict[str, Any]:  # long: the loops of the protocol, one table
    """The protocol (module docstring) on a prepared :class:`Setup`; every run's numbers."""
    from tqdm import tqdm

    before = original_sets(st.old, st.heads, st.cal)
    runs = []
    bar = tqdm(total=len(sizes) * repeats, desc="adapt-bench", disable=not progress)
    for rep in range(repeats):
        for n in sizes:
            rng = np.random.default_rng(1000 * rep + 7)  # one stem split per repeat, shared by the sizes
            rows, test = _draw(st.stems, n, rng)
            pb = Problem([z[rows] for z in st.Z_new], st.y_new[rows], st.stems[rows], st.heads, st.cal, old=st.old,
                         folds=folds, seed=rep)
            t0 = time.time()
            fits = {}
            if auto:  # measures every method on the n images (and fits each on all of them)
                cmp = compare_methods(pb, list(METHODS), candidates=AUTO)
                fits = cmp["fits"]
            res = {m: _score(st, *(fits.get(m) or fit_method(pb, m))[:2], test, before) for m in METHODS}
            if auto:
                res["auto"] = {**res[cmp["chosen"]], "chosen": cmp["chosen"]}
            runs.append({"repeat": rep, "size": int(n), "n": int(len(rows)), "n_test": int(len(test)),
                         "seconds": time.time() - t0, "methods": res})
            bar.update(1)
    bar.close()
    return {"runs": runs, "parent_original": before}


def summarise(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Mean and sd over repeats, per (n, method): gain in r over the parent, sd ratio, MAE, worst
    original-set r fall."""
    rows = []
    by_n: dict[int, list] = {}
    for run in result["runs"]:
        by_n.setdefault(run.get("size", run["n"]), []).append(run)
    for n, runs in sorted(by_n.items()):
        for m in runs[0]["methods"]:
            e: dict[str, Any] = {"n": n, "n_used": sorted({r["n"] for r in runs}), "method": m, "repeats": len(runs)}
            for d in VA:
                gain = [r["methods"][m][d]["r"] - r["methods"]["parent"][d]["r"] for r in runs]
                e[f"{d}_r"] = float(np.mean([r["methods"][m][d]["r"] for r in runs]))
                e[f"{d}_gain"], e[f"{d}_gain_sd"] = float(np.mean(gain)), float(np.std(gain))
                e[f"{d}_sd_ratio"] = float(np.mean([r["methods"][m][d]["sd_ratio"] for r in runs]))
                e[f"{d}_mae"] = float(np.mean([r["methods"][m][d]["mae"] for r in runs]))
            e["original_drop"] = float(np.mean([max(v for s in r["methods"][m]["original_drop"].values()
                                                    for v in s.values()) for r in runs]))
            if m == "auto":
                e["chosen"] = sorted({r["methods"][m]["chosen"] for r in runs})
            rows.append(e)
    return rows


def format_summary(rows: list[dict[str, Any]]) -> str:
    """The table docs/study.md shows."""
    out = ["| n | method | V r (gain ± sd) | A r (gain ± sd) | sd ratio V / A | MAE V / A | original r fall (worst) |",
           "|---|---|---|---|---|---|---|"]
    for e in rows:
        note = f" ({', '.join(e['chosen'])})" if "chosen" in e else ""
        out.append(f"| {e['n']} | {e['method']}{note} | {e['valence_r']:.3f} ({e['valence_gain']:+.3f} ± "
                   f"{e['valence_gain_sd']:.3f}) | {e['arousal_r']:.3f} ({e['arousal_gain']:+.3f} ± "
                   f"{e['arousal_gain_sd']:.3f}) | {e['valence_sd_ratio']:.2f} / {e['arousal_sd_ratio']:.2f} | "
                   f"{e['valence_mae']:.3f} / {e['arousal_mae']:.3f} | {e['original_drop']:+.3f} |")
    return "\n".join(out)


__all__ = ["NEW", "Setup", "build_setup", "format_summary", "run_bench", "summarise"]
