"""Assembling a comparison: cells.csv, samples.csv, heatmaps, region sheets, summary, report.

Metric definitions (all judged by the critic unless said otherwise):

* ``critic_error``: mean absolute error of the critic's VAD to the cell centre, averaged over
  the grid's dims (explorer: the elite; generator: each of its K samples);
* ``searcher_error``: the same with the searcher (what both sources were optimised against);
* ``diversity``: mean pairwise distance in the critic's (PCA) feature space among one image per
  cell (the elites; the generator's first sample of each cell) - higher is more varied;
* ``realism_fid``: FID-like Fréchet distance of those one-per-cell sets to the real photos
  (lower is more photo-like);
* ``coverage``: fraction of the archive's occupied cells where the critic puts the image
  within ``tolerance`` of the centre (explorer: its elite; generator: any of its K samples).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qdemo import DIMS
from qdemo.compare.archive_io import ArchiveRun
from qdemo.compare.config import CompareConfig
from qdemo.compare.metrics import FeatureSpace, cell_error, mean_pairwise_distance, within
from qdemo.io import atomic_write_json, atomic_write_text
from qdemo.measure_space import MeasureSpace
from qdemo.tables import table_text

# metric -> (label, lower is better)
METRICS: dict[str, tuple[str, bool]] = {
    "critic_error": ("critic VAD error to cell centre (mean abs error over grid dims)", True),
    "critic_error_valence": ("critic valence error", True),
    "critic_error_arousal": ("critic arousal error", True),
    "searcher_error": ("searcher VAD error to cell centre", True),
    "diversity": ("diversity (mean pairwise critic-feature distance, one image per cell)", False),
    "realism_fid": ("realism, FID-like distance to real photos (one image per cell)", True),
    "coverage": ("coverage (cells within tolerance / occupied cells)", False),
}


def _csv_text(rows: list[dict[str, Any]], fields: Sequence[str]) -> str:
    """cells.csv / samples.csv text: floats with 5 significant digits."""
    return table_text(fields, ({k: (f"{v:.5g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows))


def _winner(name: str, explorer: float, generator: float) -> str:
    if any(math.isnan(x) for x in (explorer, generator)):
        return "n/a"
    if abs(explorer - generator) <= 1e-9:
        return "tie"
    lower = METRICS[name][1]
    return "generator" if (generator < explorer) == lower else "explorer"


def _summarise(run_dims: list[int], rows: list[dict[str, Any]], space: FeatureSpace, tol: float) -> dict[str, Any]:
    tgt = np.array([r["target"] for r in rows])  # (n, 3)
    e_crit = np.array([r["elite_critic"] for r in rows])  # (n, 3)
    g_crit = np.array([r["gen_critic"] for r in rows])  # (n, K, 3)
    e_srch = np.array([r["elite_searcher"] for r in rows])
    g_srch = np.array([r["gen_searcher"] for r in rows])
    e_feat = np.array([r["elite_feat"] for r in rows])  # (n, d)
    g_feat = np.array([r["gen_feat"] for r in rows])  # (n, K, d)
    ex: dict[str, float] = {}
    ge: dict[str, float] = {}
    ex["critic_error"] = float(np.mean([cell_error(e_crit[i], tgt[i], run_dims) for i in range(len(rows))]))
    ge["critic_error"] = float(np.mean([cell_error(g_crit[i], tgt[i], run_dims).mean() for i in range(len(rows))]))
    for d in ("valence", "arousal"):
        j = DIMS.index(d)
        ex[f"critic_error_{d}"] = float(np.abs(e_crit[:, j] - tgt[:, j]).mean())
        ge[f"critic_error_{d}"] = float(np.abs(g_crit[:, :, j] - tgt[:, None, j]).mean())
    ex["searcher_error"] = float(np.mean([cell_error(e_srch[i], tgt[i], run_dims) for i in range(len(rows))]))
    ge["searcher_error"] = float(np.mean([cell_error(g_srch[i], tgt[i], run_dims).mean() for i in range(len(rows))]))
    ex["diversity"] = mean_pairwise_distance(e_feat)
    ge["diversity"] = mean_pairwise_distance(g_feat[:, 0])
    ex["realism_fid"] = space.fid(e_feat)
    ge["realism_fid"] = space.fid(g_feat[:, 0])
    ex["coverage"] = float(np.mean([within(e_crit[i], tgt[i], run_dims, tol) for i in range(len(rows))]))
    ge["coverage"] = float(np.mean([within(g_crit[i], tgt[i], run_dims, tol).any() for i in range(len(rows))]))
    extra = {
        "generator_within_cell_diversity": float(np.nanmean([mean_pairwise_distance(g) for g in g_feat])),
        "generator_realism_fid_all_samples": space.fid(g_feat.reshape(-1, g_feat.shape[-1])),
        "real_photos_self_diversity": mean_pairwise_distance(space.real[:: max(1, len(space.real) // 500)]),
        "elite_nearest_photo_distance": float(space.nearest_real(e_feat).mean()),
        "generator_nearest_photo_distance": float(space.nearest_real(g_feat.reshape(-1, g_feat.shape[-1])).mean()),
        "cells": len(rows),
    }
    table = {m: {"explorer": ex[m], "generator": ge[m], "winner": _winner(m, ex[m], ge[m])} for m in METRICS}
    return {"metrics": table, "extra": extra}


def write_outputs(runs: Sequence[ArchiveRun], by_run: dict[str, list[dict[str, Any]]], cfg: CompareConfig,
                  space: FeatureSpace, out: Path) -> dict[str, Any]:
    """Write cells.csv, samples.csv, heatmaps/, sheets/, summary.json, report.md; return the summary."""
    cell_rows: list[dict[str, Any]] = []
    sample_rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"archives": {}, "tolerance": cfg.tolerance, "samples_per_cell": cfg.samples_per_cell,
                               "critic": cfg.critic, "searcher": cfg.searcher, "generator": cfg.generator or "shipped",
                               "pca_dim": int(space.components.shape[1]), "real_photos": int(len(space.real))}
    pooled: list[dict[str, Any]] = []
    for run in runs:
        rows = sorted(by_run[run.name], key=lambda r: r["index"])
        di = run.dim_idx
        for r in rows:
            t = np.array(r["target"])
            e_near = float(space.nearest_real(np.array([r["elite_feat"]]))[0])
            g_near = space.nearest_real(np.array(r["gen_feat"]))
            e_err = float(cell_error(np.array(r["elite_critic"]), t, di))
            g_err = cell_error(np.array(r["gen_critic"]), t, di)
            row = {"archive": run.name, "index": r["index"]}
            row.update({f"target_{d}": float(t[i]) for i, d in enumerate(DIMS)})
            row.update({f"elite_critic_{d}": float(r["elite_critic"][i]) for i, d in enumerate(DIMS)})
            row.update({f"gen_critic_{d}": float(np.mean(np.array(r["gen_critic"])[:, i])) for i, d in enumerate(DIMS)})
            row.update({
                "elite_critic_error": e_err, "gen_critic_error": float(g_err.mean()), "gen_best_critic_error": float(g_err.min()),
                "elite_searcher_error": float(cell_error(np.array(r["elite_searcher"]), t, di)),
                "gen_searcher_error": float(cell_error(np.array(r["gen_searcher"]), t, di).mean()),
                "gen_diversity": mean_pairwise_distance(np.array(r["gen_feat"])),
                "elite_nearest_photo": e_near, "gen_nearest_photo": float(g_near.mean()),
                "elite_within_tolerance": int(within(np.array(r["elite_critic"]), t, di, cfg.tolerance)),
                "gen_reached": int(within(np.array(r["gen_critic"]), t, di, cfg.tolerance).any()),
                "diff_critic_error": float(g_err.mean()) - e_err,
                "diff_nearest_photo": float(g_near.mean()) - e_near,
                "elite_image": str(Path(r["elite_image"])),
            })
            cell_rows.append(row)
            for k, (img, vad) in enumerate(zip(r["gen_images"], r["gen_critic"])):
                sample_rows.append({
                    "archive": run.name, "index": r["index"], "k": k, "image": img,
                    **{f"critic_{d}": float(vad[i]) for i, d in enumerate(DIMS)},
                    **{f"target_{d}": float(t[i]) for i, d in enumerate(DIMS)},
                })
        summary["archives"][run.name] = {"path": str(run.path), "grid": run.grid_name, "dims": run.dims,
                                         **_summarise(di, rows, space, cfg.tolerance)}
        pooled.extend({**r, "_dims": tuple(di)} for r in rows)
        _heatmaps(run, [c for c in cell_rows if c["archive"] == run.name], out / "heatmaps")
        _sheets(run, rows, cfg, out / "sheets", out)
    if len(runs) > 1:
        dims_all = sorted(set.intersection(*(set(r.dim_idx) for r in runs)))
        summary["all"] = _summarise(dims_all, pooled, space, cfg.tolerance)
    else:
        summary["all"] = summary["archives"][runs[0].name]
    cell_fields = list(cell_rows[0].keys())
    atomic_write_text(out / "cells.csv", _csv_text(cell_rows, cell_fields))
    sample_fields = ["archive", "index", "k", "image", "critic_valence", "critic_arousal", "critic_dominance",
                     "target_valence", "target_arousal", "target_dominance"]
    atomic_write_text(out / "samples.csv", _csv_text(sample_rows, sample_fields))
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "report.md", _report(summary, runs, cfg))
    return summary


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _report(summary: dict[str, Any], runs: Sequence[ArchiveRun], cfg: CompareConfig) -> str:
    lines = ["# Explorer elites vs conditional generator", ""]
    lines.append(f"Archives: {', '.join(f'`{r.path}`' for r in runs)}. Generator: `{summary['generator']}`, "
                 f"{cfg.samples_per_cell} samples per occupied cell conditioned on the cell centre. "
                 f"Critic: `{cfg.critic}`; searcher: `{cfg.searcher}`. Tolerance for coverage: {cfg.tolerance} "
                 f"(max abs error over the grid's dims). Realism and diversity are measured in a "
                 f"{summary['pca_dim']}-dimensional PCA subspace of the critic's features of {summary['real_photos']} real photos.")
    lines.append("")
    lines.append("Valence and arousal of the emotion models are trained on human ratings; dominance is a "
                 "word-norm proxy, so errors that include dominance mix human-rated and proxy dimensions.")
    lines.append("")

    def table(block: dict[str, Any], title: str) -> None:
        lines.append(f"## {title} ({block['extra']['cells']} cells)")
        lines.append("")
        lines.append("| metric | explorer | generator | winner |")
        lines.append("|---|---:|---:|---|")
        for m, (label, lower) in METRICS.items():
            v = block["metrics"][m]
            arrow = "lower is better" if lower else "higher is better"
            lines.append(f"| {label} ({arrow}) | {_fmt(v['explorer'])} | {_fmt(v['generator'])} | {v['winner']} |")
        ex = block["extra"]
        lines.append("")
        lines.append(f"Generator only: within-cell diversity {_fmt(ex['generator_within_cell_diversity'])} "
                     f"(real photos: {_fmt(ex['real_photos_self_diversity'])}), FID-like over all samples "
                     f"{_fmt(ex['generator_realism_fid_all_samples'])}. Mean distance to the nearest real photo: "
                     f"elites {_fmt(ex['elite_nearest_photo_distance'])}, generator {_fmt(ex['generator_nearest_photo_distance'])}.")
        lines.append("")

    if len(runs) > 1:
        table(summary["all"], "All archives")
    for r in runs:
        table(summary["archives"][r.name], f"Archive `{r.name}`")
    lines.append("Files: `cells.csv` (per cell), `samples.csv` + `samples/` (generator images), `heatmaps/` "
                 "(generator minus explorer, on the valence x arousal plane, averaged over dominance), `sheets/` "
                 "(per region: elite, then the generator's samples).")
    return "\n".join(lines) + "\n"


def _va_space(run: ArchiveRun) -> MeasureSpace | None:
    """The valence x arousal plane of the run's grid (None for CVT or a grid without both)."""
    if not run.cells_shape or "valence" not in run.dims or "arousal" not in run.dims:
        return None
    at = [run.dims.index("valence"), run.dims.index("arousal")]
    return MeasureSpace.grid([run.ranges[d] for d in at], [run.cells_shape[d] for d in at])


def _va_grid(run: ArchiveRun, rows: list[dict[str, Any]], key: str) -> np.ndarray | None:
    space = _va_space(run)
    if space is None:
        return None
    nv, na = space.cells
    acc = np.zeros((na, nv))
    cnt = np.zeros((na, nv))
    cells = space.grid_coords([[r["target_valence"], r["target_arousal"]] for r in rows])  # the targets' VA cells
    for r, (iv, ia) in zip(rows, cells):
        acc[ia, iv] += r[key]
        cnt[ia, iv] += 1
    with np.errstate(invalid="ignore"):
        return np.where(cnt > 0, acc / np.maximum(cnt, 1), np.nan)


def _heatmaps(run: ArchiveRun, rows: list[dict[str, Any]], folder: Path) -> None:
    """``<run>_differences.png``: four valence x arousal panels (explorer, generator, differences)."""
    panels = [("elite_critic_error", "explorer: critic error", "viridis", False),
              ("gen_critic_error", "generator: critic error", "viridis", False),
              ("diff_critic_error", "critic error: generator - explorer", "RdBu_r", True),
              ("diff_nearest_photo", "distance to nearest photo: gen - explorer", "RdBu_r", True)]
    grids = [(_va_grid(run, rows, k), t, cm, s) for k, t, cm, s in panels]
    if grids[0][0] is None:
        return
    from qdemo.viz.compare_plots import plot_differences

    (vlo, vhi), (alo, ahi) = run.ranges[run.dims.index("valence")], run.ranges[run.dims.index("arousal")]
    plot_differences(grids, (vlo, vhi, alo, ahi),
                     f"{run.name}: per cell, averaged over dominance (blue = generator lower)",
                     folder / f"{run.name}_differences.png")


def _sheets(run: ArchiveRun, rows: list[dict[str, Any]], cfg: CompareConfig, folder: Path, out: Path) -> None:
    """One picture per valence x arousal region: rows = cells, columns = elite then K samples."""
    from qdemo.viz.compare_plots import plot_sheet

    bins = max(1, cfg.region_bins)
    names = {0: "low", bins - 1: "high"}
    objective = {c.index: c.objective for c in run.cells}
    regions: dict[tuple[int, int], list[dict[str, Any]]] = {}
    plane = MeasureSpace.grid([[-1.0, 1.0]] * 2, [bins, bins])  # bins x bins regions of the VA plane
    for r, (iv, ia) in zip(rows, plane.grid_coords([r["target"][:2] for r in rows]).tolist()):
        regions.setdefault((iv, ia), []).append(r)
    for (iv, ia), cells in sorted(regions.items()):
        cells = sorted(cells, key=lambda r: -np.nan_to_num(objective.get(r["index"], 0.0), nan=-1e9))[: cfg.sheet_cells]
        k = len(cells[0]["gen_images"])
        sheet_rows = []
        for r in cells:
            imgs = [r["elite_image"]] + [str(out / p) for p in r["gen_images"]]
            vads = [r["elite_critic"]] + r["gen_critic"]
            t = r["target"]
            sheet_rows.append((f"cell {r['index']}\n({t[0]:+.2f},{t[1]:+.2f},{t[2]:+.2f})",
                               [(p, f"{vad[0]:+.2f} {vad[1]:+.2f}") for p, vad in zip(imgs, vads)]))
        vname = names.get(iv, "mid") if bins > 1 else "all"
        aname = names.get(ia, "mid") if bins > 1 else "all"
        plot_sheet(sheet_rows, ["elite"] + [f"G #{j}" for j in range(1, k + 1)],
                   f"{run.name}: valence {vname}, arousal {aname} (labels: critic V A)",
                   folder / f"{run.name}_V{iv}_A{ia}.png")
