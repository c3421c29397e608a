"""Evaluation: does normalisation remove low-level differences between emotion groups,
and does it keep the emotion?

For each variant (original, SHINE, each pix2pix) on the held-out images:

* **between-group spread** of low-level statistics: images are grouped by emotion
  (Emotion6 folder / category, and tertiles of human-rated valence and arousal); for each
  statistic the group means are compared and their standard deviation across groups is
  the spread. Statistics: mean luminance, RMS contrast (SD of luminance), the luminance
  histogram, the rotationally averaged log-amplitude spectrum, and HSV colour (mean S, V
  and saturation-weighted hue vector; reported apart: luminance-mode SHINE keeps colour).
  The *spread index* of a variant is the mean over the four luminance statistics of
  spread(variant) / spread(original): 1 = no change, 0 = groups identical.
* **emotion drift**: the critic's VAD of the variant minus that of the original, as the
  mean Euclidean distance over valence and arousal (human-rated), dominance apart (proxy).

A generator trained with ``train.condition=group`` gets the between-group equalisation of
the evaluated images (by folder / category) as its proposal, computed on those images alone,
as ``shine_group`` is.

Targets (issue 5): retention = (1 - index(pix2pix)) / (1 - index(SHINE)) >= 0.8 and
drift(pix2pix) / drift(SHINE) <= 0.5.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from qdemo.errors import DataError
from qdemo.io import atomic_write_json, atomic_write_text

from qdemo.normalise.config import NormaliseConfig
from qdemo.normalise.data import group_indices, load_fixed, tertile_labels
from qdemo.normalise.lowlevel import luminance, radial_log_amplitude

LUM_STATS = ("mean_luminance", "contrast", "luminance_histogram", "amplitude_spectrum")
"""Statistics in the spread index (what SHINE equalises)."""
COLOUR_STATS = ("hsv_colour",)


def radial_profile(lum: torch.Tensor) -> np.ndarray:
    """(N, H, W) -> (N, R) mean log amplitude per integer spatial frequency (numpy, float64)."""
    with torch.no_grad():
        return radial_log_amplitude(lum.double()).numpy()


def hsv_features(x: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) -> (N, 4): mean S, mean V, mean S*cos(H), mean S*sin(H)."""
    mx, _ = x.max(dim=1)
    mn, _ = x.min(dim=1)
    delta = mx - mn
    s = torch.where(mx > 0, delta / mx.clamp_min(1e-8), torch.zeros_like(mx))
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    d = delta.clamp_min(1e-8)
    h = torch.where(mx == r, ((g - b) / d) % 6, torch.where(mx == g, (b - r) / d + 2, (r - g) / d + 4)) * (math.pi / 3)
    h = torch.where(delta > 0, h, torch.zeros_like(h))
    feats = torch.stack([s.mean(dim=(1, 2)), mx.mean(dim=(1, 2)), (s * torch.cos(h)).mean(dim=(1, 2)),
                         (s * torch.sin(h)).mean(dim=(1, 2))], dim=1)
    return feats.double().numpy()


def lowlevel(x: torch.Tensor, bins: int = 32) -> dict[str, np.ndarray]:
    """Per-image low-level statistics of (N, 3, H, W) images in [0, 1]."""
    lum = luminance(x.float())
    hist = torch.stack([torch.histc(l, bins=bins, min=0.0, max=1.0) for l in lum])
    hist = hist / hist.sum(dim=1, keepdim=True).clamp_min(1)
    return {
        "mean_luminance": lum.mean(dim=(1, 2)).double().numpy()[:, None],  # (N, 1)
        "contrast": lum.std(dim=(1, 2)).double().numpy()[:, None],  # (N, 1)
        "luminance_histogram": hist.double().numpy(),  # (N, bins)
        "amplitude_spectrum": radial_profile(lum),  # (N, R)
        "hsv_colour": hsv_features(x.float()),  # (N, 4)
    }


def group_spread(values: np.ndarray, groups: dict[str, list[int]]) -> float:
    """Mean over feature columns of the SD across group means."""
    if len(groups) < 2:
        raise DataError(f"need at least two non-empty groups to compare, have {len(groups)}")
    for g, idx in groups.items():
        if not idx:
            raise DataError(f"group {g!r} is empty")
    means = np.stack([values[idx].mean(axis=0) for idx in groups.values()])  # (G, F)
    return float(means.std(axis=0).mean())


def group_curves(values: np.ndarray, groups: dict[str, list[int]]) -> dict[str, list[float]]:
    return {g: values[idx].mean(axis=0).tolist() for g, idx in groups.items()}


def vad_drift(orig: np.ndarray, new: np.ndarray) -> dict[str, float]:
    """Mean Euclidean distance over (valence, arousal), and mean |Δ| per dimension."""
    d = new - orig
    return {"va_distance": float(np.sqrt((d[:, :2] ** 2).sum(axis=1)).mean()),
            "valence": float(np.abs(d[:, 0]).mean()), "arousal": float(np.abs(d[:, 1]).mean()),
            "dominance_proxy": float(np.abs(d[:, 2]).mean())}


def groupings(groups: Sequence[str], targets: np.ndarray | None, critic_orig: np.ndarray,
              dims: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Named groupings of the images: 'emotion' (folder / category) and '<dim>_tertiles'."""
    from qdemo import DIMS

    out: dict[str, dict[str, Any]] = {}
    g = group_indices(groups)
    if len(g) >= 2:
        out["emotion"] = {"groups": g, "source": "folder / category of the set"}
    for dim in dims:
        if dim not in DIMS:
            raise DataError(f"report.tertiles: unknown dimension {dim!r} (use {', '.join(DIMS)})")
        k = DIMS.index(dim)
        human = targets is not None and np.isfinite(targets[:, k]).sum() >= 3
        vals = targets[:, k] if human else critic_orig[:, k]
        labels = tertile_labels(vals, dim)
        gi = {n: i for n, i in group_indices(labels).items() if not n.endswith("-unrated")}
        out[f"{dim}_tertiles"] = {"groups": gi, "source": "human ratings" if human else "critic prediction on the original"}
    if not out:
        raise DataError("no grouping with at least two groups (one folder only and no tertiles asked)")
    return out


def evaluate(variants: dict[str, torch.Tensor], groups: Sequence[str], targets: np.ndarray | None, critic,
             cfg: NormaliseConfig) -> dict[str, Any]:
    """Spread and drift for every variant (``variants['original']`` and ``['shine']`` required)."""
    from qdemo.normalise.train import predict_vad

    r = cfg.report
    vad = {k: predict_vad(critic, v, r.batch_size).numpy() for k, v in variants.items()}
    stats = {k: lowlevel(v, r.hist_bins) for k, v in variants.items()}
    gs = groupings(groups, targets, vad["original"], r.tertiles)
    result: dict[str, Any] = {"groupings": {}, "variants": {}}
    for gname, g in gs.items():
        groups_i = g["groups"]
        gres: dict[str, Any] = {"source": g["source"], "sizes": {k: len(v) for k, v in groups_i.items()},
                                "variants": {}}
        for k in variants:
            sp = {s: group_spread(stats[k][s], groups_i) for s in LUM_STATS + COLOUR_STATS}
            gres["variants"][k] = {"spread": sp}
        base = gres["variants"]["original"]["spread"]
        for k in variants:
            sp = gres["variants"][k]["spread"]
            ratios = {s: (sp[s] / base[s] if base[s] > 0 else float("nan")) for s in sp}
            index = float(np.nanmean([ratios[s] for s in LUM_STATS]))
            gres["variants"][k].update({"ratio_to_original": ratios, "spread_index": index,
                                        "reduction": 1.0 - index})
        red_shine = gres["variants"]["shine"]["reduction"]
        for k in variants:
            v = gres["variants"][k]
            v["retention_of_shine_reduction"] = v["reduction"] / red_shine if red_shine > 0 else float("nan")
        gres["curves"] = {k: {s: group_curves(stats[k][s], groups_i) for s in ("luminance_histogram", "amplitude_spectrum")}
                          for k in variants}
        result["groupings"][gname] = gres
    drift_shine = vad_drift(vad["original"], vad["shine"])["va_distance"]
    for k in variants:
        dr = vad_drift(vad["original"], vad[k])
        dr["ratio_to_shine"] = dr["va_distance"] / drift_shine if drift_shine > 0 else float("nan")
        result["variants"][k] = {"drift": dr, "n_images": int(len(variants[k]))}
    return result


def _split_indices(shine, cfg: NormaliseConfig, split: str, shine_dir: str | Path) -> tuple[list[int], dict[str, list[int]]]:
    """(indices evaluated, the seeded train / val / test split) of a SHINE folder."""
    from qdemo.normalise.train import splits_of

    if split not in ("test", "val", "all"):
        raise DataError(f"split={split!r}: use 'test', 'val' or 'all'")
    sp = splits_of(shine, cfg)
    idx = list(range(len(shine.sources))) if split == "all" else sp[split]
    if not idx:
        raise DataError(f"{shine_dir}: no {split} images (train.test_fraction={cfg.train.test_fraction}, "
                        f"train.val_fraction={cfg.train.val_fraction})")
    return idx, sp


def _to_tensor(a: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(a).permute(0, 3, 1, 2).float().div_(255.0)


def _group_variants(shine, idx: Sequence[int], orig: np.ndarray, variants: dict[str, torch.Tensor], cfg: NormaliseConfig,
                    conditioned: bool, split: str, shine_dir: str | Path) -> torch.Tensor | None:
    """Between-group equalisation of exactly the evaluated images (transductive): adds
    ``variants['shine_group']`` when asked; returns the proposal of group-conditioned
    generators (by folder), or None when nothing needs it."""
    from qdemo.normalise.groupwise import equalise_partitions, groupings_of

    proposal = None
    if not (cfg.report.group_equalise or conditioned):
        return proposal
    s = cfg.shine
    folders = [shine.groups[i] for i in idx]
    by_folder = tuple(s.group_by) == ("folder",)
    try:
        if by_folder or conditioned:
            # group-conditioned generators were trained on proposals by folder / category
            proposal = _to_tensor(np.stack(equalise_partitions(list(orig), [folders], s.group_iterations, s.seed)))
        if cfg.report.group_equalise:
            parts = groupings_of(folders, shine.targets[idx], s.group_by, where=f"the {split} images")
            variants["shine_group"] = proposal if by_folder else _to_tensor(np.stack(
                equalise_partitions(list(orig), parts, s.group_iterations, s.seed, names=list(s.group_by))))
    except ValueError as exc:
        raise DataError(f"between-group equalisation of the {split} images of {shine_dir}: {exc}") from None
    return proposal


def _generator_variants(loaded: dict[str, tuple[Any, dict]], models: dict[str, str | Path],
                        variants: dict[str, torch.Tensor], proposal: torch.Tensor | None, device: str) -> dict[str, dict]:
    """Run every generator on ``variants['original']`` (adds ``variants[name]``); their infos."""
    gen_info = {}
    n = len(variants["original"])
    for name, (g, info) in loaded.items():
        if variants["original"].shape[-1] % g.multiple:
            raise DataError(f"{models[name]}: generator needs sides that are multiples of {g.multiple}")
        with torch.no_grad():
            variants[name] = torch.cat([
                g(variants["original"][i:i + 16].to(device),
                  *((proposal[i:i + 16].to(device),) if g.conditioned else ())).cpu()
                for i in range(0, n, 16)])
        gen_info[name] = info
    return gen_info


def _targets(res: dict[str, Any], chosen: str, variants: Sequence[str]) -> dict[str, Any]:
    """Issue 5's targets judged on the ``chosen`` variant in the first grouping."""
    if chosen not in variants:
        raise DataError(f"chosen variant {chosen!r} is not among {', '.join(variants)}")
    g0 = next(iter(res["groupings"]))
    v = res["groupings"][g0]["variants"][chosen]
    dr = res["variants"][chosen]["drift"]["ratio_to_shine"]
    return {"chosen": chosen, "grouping": g0,
            "retention_of_shine_reduction": v["retention_of_shine_reduction"],
            "retention_target": 0.8, "drift_ratio_to_shine": dr, "drift_target": 0.5,
            "met": bool(v["retention_of_shine_reduction"] >= 0.8 and dr <= 0.5)}


def run_report(shine_dir: str | Path, models: dict[str, str | Path], out: str | Path, cfg: NormaliseConfig, *,
               chosen: str | None = None, device: str = "cpu", critic=None, split: str = "test",
               progress: bool = True,
               plot: Callable[[dict[str, Any], Path, list[str]], list[str]] | None = None) -> dict[str, Any]:
    """Write ``report.json``, ``report.md`` and figures to ``out``.

    ``models``: variant name -> generator (path for :func:`load_generator`). ``chosen``:
    the variant the targets are judged on (fixed before looking: Zhang & Kim's lambda 20).
    ``plot(result, out, variants)`` draws the figures and returns their file names (the
    command hands in :func:`qdemo.viz.normalise.plot_report`); without it none are drawn.
    """
    from qdemo.normalise.shine_files import ShineOutput
    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.normalise.weights_io import load_generator

    out = Path(out)
    shine = ShineOutput.read(shine_dir)
    idx, sp = _split_indices(shine, cfg, split, shine_dir)
    d = shine.summary["config"]["data"]
    orig = np.stack([load_fixed(shine.sources[i], d["size"], d["fit"]) for i in idx])
    sh = np.stack([load_fixed(shine.outputs[i], None) for i in idx])
    variants: dict[str, torch.Tensor] = {"original": _to_tensor(orig), "shine": _to_tensor(sh)}
    for a in cfg.report.blends:  # baseline: (1 - a) * original + a * SHINE, pixel by pixel
        if not 0.0 <= a <= 1.0:
            raise DataError(f"report.blends: {a} is not a weight between 0 and 1")
        variants[f"blend_{a:g}"] = (1 - a) * variants["original"] + a * variants["shine"]  # (N, 3, H, W)
    loaded = {name: load_generator(path, device=device) for name, path in models.items()}
    proposal = _group_variants(shine, idx, orig, variants, cfg, any(g.conditioned for g, _ in loaded.values()),
                               split, shine_dir)
    gen_info = _generator_variants(loaded, models, variants, proposal, device)
    critic = critic if critic is not None else load_emotion_model(cfg.report.critic, role="critic", device=device)
    groups = [shine.groups[i] for i in idx]
    targets = shine.targets[idx] if np.isfinite(shine.targets[idx]).any() else None
    res = evaluate(variants, groups, targets, critic, cfg)
    never = "the generators never saw these images" if split != "all" else "includes training images"
    res["split"] = {"evaluated": split, "n_images": len(idx), "n_train": len(sp["train"]), "n_val": len(sp["val"]),
                    "how": f"seeded stratified split by group (seed {cfg.data.seed}, test_fraction "
                           f"{cfg.train.test_fraction}, val_fraction {cfg.train.val_fraction}); {never}"}
    res["vad_dimensions"] = {"human_rated": ["valence", "arousal"], "proxy": ["dominance"],
                             "note": "drift is reported on valence+arousal; dominance is the critic's proxy output"}
    res["critic"] = getattr(getattr(critic, "info", None), "name", type(critic).__name__)
    res["shine"] = {"dir": str(shine_dir), "mode": shine.summary.get("mode"), "color": shine.summary.get("color")}
    if cfg.report.group_equalise:
        res["shine_group"] = {"group_by": list(cfg.shine.group_by), "iterations": cfg.shine.group_iterations,
                              "on": f"the {split} images themselves"}
    res["generators"] = gen_info
    res["size"] = d["size"]
    if chosen is not None:
        res["targets"] = _targets(res, chosen, list(variants))
    out.mkdir(parents=True, exist_ok=True)
    res["figures"] = plot(res, out, list(variants)) if plot is not None else []
    atomic_write_json(out / "report.json", res)
    atomic_write_text(out / "report.md", render_markdown(res))
    return res


def render_markdown(res: dict[str, Any]) -> str:
    lines = ["# Low-level normalisation report", "",
             f"Images evaluated ({res['split']['evaluated']} split): {res['split']['n_images']} ({res['split']['how']}). "
             f"Critic: {res['critic']}. VAD drift on valence+arousal (human-rated); dominance is a proxy.", ""]
    if "targets" in res:
        t = res["targets"]
        lines += [f"**Targets** (variant `{t['chosen']}`, grouping `{t['grouping']}`): retention of SHINE's "
                  f"spread reduction {t['retention_of_shine_reduction']:.2f} (target >= 0.8), drift / SHINE drift "
                  f"{t['drift_ratio_to_shine']:.2f} (target <= 0.5): {'met' if t['met'] else 'NOT met'}.", ""]
    if "shine_group" in res:
        sg = res["shine_group"]
        lines += [f"`shine_group`: between-group equalisation by {' + '.join(sg['group_by'])} "
                  f"({sg['iterations']} rounds), run on {sg['on']}.", ""]
    for gname, g in res["groupings"].items():
        lines += [f"## Grouping: {gname} ({g['source']}; sizes {g['sizes']})", "",
                  "| variant | spread index | retention | mean lum | contrast | lum hist | spectrum | colour | VA drift | drift / SHINE |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for k, v in g["variants"].items():
            r = v["ratio_to_original"]
            dr = res["variants"][k]["drift"]
            lines.append(f"| {k} | {v['spread_index']:.3f} | {v['retention_of_shine_reduction']:.2f} | "
                         f"{r['mean_luminance']:.2f} | {r['contrast']:.2f} | {r['luminance_histogram']:.2f} | "
                         f"{r['amplitude_spectrum']:.2f} | {r['hsv_colour']:.2f} | {dr['va_distance']:.4f} | "
                         f"{dr['ratio_to_shine']:.2f} |")
        lines.append("")
    figures = f" Figures: {', '.join(res['figures'])}" if res["figures"] else ""  # none when no plot is handed in
    lines += ["Per-statistic columns are spread(variant) / spread(original)." + figures, ""]
    return "\n".join(lines)
