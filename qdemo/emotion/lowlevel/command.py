"""``python -m qdemo.emotion.lowlevel --data DIR [--data DIR2] ...``: the low-level features +
ridge baseline, out-of-fold, median over split seeds; with two sets also cross-dataset
(train on one, test on the other)."""

from __future__ import annotations

import argparse
from typing import Any, Sequence

import numpy as np

from qdemo.emotion.lowlevel.baseline import lowlevel_baseline, median_metrics
from qdemo.emotion.lowlevel.features import cached_lowlevel_features


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m qdemo.emotion.lowlevel",
                                 description="Low-level image features + ridge baseline (out-of-fold).")
    ap.add_argument("--data", required=True, action="append", help="rated set folder or CSV (repeatable)")
    ap.add_argument("--format", default="auto", help="oasis | emotion6 | bass | csv | auto")
    ap.add_argument("--scale", default=None, help="native scale for --format csv, e.g. 1,9")
    ap.add_argument("--norms", default=None, help="word-norms folder: fill dominance with the word proxy")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seeds", default="0", help="split seeds, e.g. 0,1,2,3,4 (metrics: median)")
    ap.add_argument("--max-side", type=int, default=256)
    ap.add_argument("--cache", default=None, help="folder to cache features in")
    ap.add_argument("--json", default=None, help="write the metrics here (atomic)")
    return ap


def _one_set(rs, X: np.ndarray, args, seeds: list[int]) -> dict[str, Any]:
    """Baseline and prior of one set over the split seeds (printed; returned for the JSON)."""
    from qdemo.emotion.metrics import format_metrics_table

    runs = [lowlevel_baseline(rs, k=args.k, seed=s, features=X) for s in seeds]
    med = median_metrics([r["metrics"] for r in runs])
    prior = median_metrics([r["prior_metrics"] for r in runs])
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
    print(format_metrics_table(rows, sources=rs.sources, split=split))
    for s, r in zip(seeds, runs):
        print(f"  seed {s}: " + ", ".join(f"{d} r={m['r']:.3f}" for d, m in r["metrics"].items() if m["n"]))
    print()
    return res


def _cross(sets: list, feats: list[np.ndarray], results: dict[str, Any]) -> None:
    """Train on all of one set, test on all of the other (both directions)."""
    from qdemo.emotion.metrics import format_metrics_table, regression_metrics
    from qdemo.emotion.ridge import ridge_fit_predict

    for a, b in ((0, 1), (1, 0)):
        ga = sets[a].groups if len(np.unique(sets[a].groups)) < len(sets[a]) else None
        pred, _ = ridge_fit_predict(feats[a], sets[a].targets, feats[b], groups=ga)
        m = regression_metrics(pred, sets[b].targets, sets[b].mask())
        key = f"train {sets[a].name} -> test {sets[b].name}"
        split = f"cross-dataset: fit on all of {sets[a].name} (alpha by inner CV), test on all of {sets[b].name}"
        results[key] = {"split": split, "metrics": m, "sources": dict(sets[b].sources)}
        print(format_metrics_table({key: m}, sources=sets[b].sources, split=split))
        print()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; 0 on success, 2 on a data error (printed)."""
    from qdemo.emotion.datasets import load_dataset
    from qdemo.errors import QdemoError
    from qdemo.io import atomic_write_json

    args = _parser().parse_args(argv)
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
            results[rs.name] = _one_set(rs, X, args, seeds)
            sets.append(rs)
            feats.append(X)
        if len(sets) == 2:
            _cross(sets, feats, results)
    except QdemoError as exc:
        print(f"qdemo: error: {exc}")
        return 2
    if args.json:
        atomic_write_json(args.json, results)
    return 0


__all__ = ["main"]
