"""Assembling a comparison: cells.csv, samples.csv, heatmaps, region sheets, summary, report.

Sources: ``explorer`` (the run's elites, one per cell) and one ``generator-<kind>`` per
generator that joins the run (K samples per cell, conditioned on the cell centre). Metric
definitions (judged by the critic unless said otherwise), per source:

* ``critic_error``: mean absolute error of the critic's VAD to the cell centre over the grid's
  dims (every image of the source); also per valence / arousal;
* ``searcher_error``: the same with the searcher (what every source was optimised against);
* ``coverage``: fraction of the run's occupied cells where the critic puts an image of the
  source within ``tolerance`` (max abs error over the grid's dims) of the centre;
* ``diversity``: across cells, mean pairwise distance in the critic's (PCA) feature space among
  one image per cell (the elites; each generator's first sample of every cell);
* ``within_cell_diversity`` (generators only): the same among the K samples of one cell,
  averaged over cells; mode collapse shows as within-cell far below across-cell diversity;
* ``realism_fid``: FID-like Frechet distance of the one-per-cell set to the real images;
* ``nearest_real``: mean distance of the source's images to their nearest real image;
* ``cost_per_usable_image`` (seconds per image the critic places within tolerance): explorer,
  the run's wall time over its usable elites; a generator, its training time plus the sampling
  time over its usable samples (the cost of this comparison's images from scratch; the
  sampling-only cost is ``marginal_cost_per_usable_image`` in ``extra``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qdemo import DIMS
from qdemo.compare.archive_io import ArchiveRun
from qdemo.compare.config import CompareConfig
from qdemo.compare.figures import heatmaps, overview, sheets
from qdemo.compare.metrics import FeatureSpace, mean_pairwise_distance
from qdemo.compare.report_md import report_md
from qdemo.io import atomic_write_json, atomic_write_text
from qdemo.tables import table_text

EXPLORER = "explorer"
# metric -> (label, lower is better, generators only)
METRICS: dict[str, tuple[str, bool, bool]] = {
    "critic_error": ("critic VAD error to cell centre (mean abs over grid dims)", True, False),
    "critic_error_valence": ("critic valence error", True, False),
    "critic_error_arousal": ("critic arousal error", True, False),
    "searcher_error": ("searcher VAD error to cell centre", True, False),
    "coverage": ("coverage (cells with an image within tolerance / occupied cells)", False, False),
    "diversity": ("across-cell diversity (critic features, one image per cell)", False, False),
    "within_cell_diversity": ("within-cell diversity (critic features, K samples of one cell)", False, True),
    "realism_fid": ("realism, FID-like distance to real images (one image per cell)", True, False),
    "nearest_real": ("distance to the nearest real image", True, False),
    "cost_per_usable_image": ("cost per usable image, seconds (training amortised over these)", True, False),
}


@dataclass
class CompareContext:
    """What the driver decided before the tasks ran: the judge, the generators, who joins which run."""

    judge: dict[str, Any] = field(default_factory=dict)
    sources: list = field(default_factory=list)
    """:class:`qdemo.compare.sources.GeneratorSource` of every generator."""
    per_run: dict[str, list] = field(default_factory=dict)
    left_out: dict[str, dict[str, str]] = field(default_factory=dict)


def _arrays(rows: list[dict[str, Any]], source: str) -> dict[str, np.ndarray] | None:
    """(n, K, 3) critic / searcher VAD, (n, K, d) features, (n, 3) targets, sampling seconds."""
    have = [r for r in rows if source == EXPLORER or source in r["gen"]]
    if not have:
        return None
    part = [r["elite"] if source == EXPLORER else r["gen"][source] for r in have]
    return {"tgt": np.array([r["target"] for r in have]), "crit": np.array([p["critic"] for p in part]),
            "srch": np.array([p["searcher"] for p in part]), "feat": np.array([p["feat"] for p in part]),
            "seconds": float(sum(p.get("seconds", 0.0) for p in part))}


def _errors(a: dict[str, np.ndarray], dims: list[int], key: str = "crit") -> np.ndarray:
    """(n, K) mean abs error over the grid's dims."""
    return np.abs(a[key][..., dims] - a["tgt"][:, None, dims]).mean(axis=-1)


def _within(a: dict[str, np.ndarray], dims: list[int], tol: float) -> np.ndarray:
    """(n, K) max abs error over the grid's dims <= tol."""
    return np.abs(a["crit"][..., dims] - a["tgt"][:, None, dims]).max(axis=-1) <= tol


def source_metrics(a: dict[str, np.ndarray], dims: list[int], space: FeatureSpace, tol: float,
                   cost_seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    """``(metrics, extra)`` of one source's arrays; ``cost_seconds`` is what making them cost
    (the explorer's wall time; a generator's training time + ``a['seconds']``)."""
    feat = a["feat"]
    usable = int(_within(a, dims, tol).sum())
    m = {"critic_error": float(_errors(a, dims).mean()), "searcher_error": float(_errors(a, dims, "srch").mean())}
    for d in ("valence", "arousal"):
        j = DIMS.index(d)
        m[f"critic_error_{d}"] = float(np.abs(a["crit"][..., j] - a["tgt"][:, None, j]).mean())
    m["coverage"] = float(_within(a, dims, tol).any(axis=1).mean())
    m["diversity"] = mean_pairwise_distance(feat[:, 0])
    m["within_cell_diversity"] = (float(np.nanmean([mean_pairwise_distance(f) for f in feat]))
                                  if feat.shape[1] > 1 else float("nan"))
    m["realism_fid"] = space.fid(feat[:, 0])
    m["nearest_real"] = float(space.nearest_real(feat.reshape(-1, feat.shape[-1])).mean())
    m["cost_per_usable_image"] = cost_seconds / usable if usable else float("inf")
    extra = {"images": int(feat.shape[0] * feat.shape[1]), "usable_images": usable,
             "within_over_across": m["within_cell_diversity"] / m["diversity"] if m["diversity"] else float("nan"),
             "marginal_cost_per_usable_image": a["seconds"] / usable if usable else float("inf")}
    return m, extra


def _winner(values: dict[str, float], lower: bool) -> str:
    ok = {s: v for s, v in values.items() if isinstance(v, float) and not math.isnan(v)}
    if not ok:
        return "n/a"
    best = min(ok.values()) if lower else max(ok.values())
    top = [s for s, v in ok.items() if abs(v - best) <= 1e-9]
    return top[0] if len(top) == 1 else "tie"


def summarise(dims: list[int], rows: list[dict[str, Any]], space: FeatureSpace, tol: float,
              sources: Sequence, explorer_seconds: float, explorer_evaluations: float) -> dict[str, Any]:
    """``{"metrics": {metric: {source: value, "winner": source}}, "extra": {source: {...}}}``."""
    table: dict[str, dict[str, Any]] = {m: {} for m in METRICS}
    extra: dict[str, Any] = {"cells": len(rows), "real_images_self_diversity":
                             mean_pairwise_distance(space.real[:: max(1, len(space.real) // 500)])}
    for name in [EXPLORER] + [s.name for s in sources]:
        a = _arrays(rows, name)
        if a is None:
            continue
        src = next((s for s in sources if s.name == name), None)
        cost = explorer_seconds if src is None else src.train_seconds + a["seconds"]
        m, x = source_metrics(a, dims, space, tol, cost)
        if src is None:
            x["evaluations_per_filled_cell"] = explorer_evaluations / len(rows) if rows else float("nan")
        for metric, (_, _, gen_only) in METRICS.items():
            if not (gen_only and src is None):
                table[metric][name] = m[metric]
        extra[name] = x
    for metric, (_, lower, _) in METRICS.items():
        table[metric]["winner"] = _winner({k: v for k, v in table[metric].items()}, lower)
    return {"metrics": table, "extra": extra}


def _fmt(v: Any) -> Any:
    return f"{v:.5g}" if isinstance(v, float) else v


def _cell_rows(run: ArchiveRun, rows: list[dict[str, Any]], sources: Sequence, space: FeatureSpace,
               tol: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """cells.csv rows (one per cell; per source ``<kind>_...`` columns) and samples.csv rows."""
    di = run.dim_idx
    cell_rows, sample_rows = [], []
    for r in rows:
        t = np.array(r["target"])
        e = np.array(r["elite"]["critic"])  # (1, 3)
        row: dict[str, Any] = {"archive": run.name, "index": r["index"],
                               **{f"target_{d}": float(t[i]) for i, d in enumerate(DIMS)},
                               **{f"elite_critic_{d}": float(e[0, i]) for i, d in enumerate(DIMS)}}
        e_err = float(np.abs(e[0, di] - t[di]).mean())
        row.update({"elite_critic_error": e_err, "elite_within_tolerance": int(np.abs(e[0, di] - t[di]).max() <= tol),
                    "elite_nearest_real": float(space.nearest_real(np.array(r["elite"]["feat"]))[0]),
                    "elite_image": str(Path(r["elite_image"]))})
        for s in sources:
            g = r["gen"].get(s.name)
            k = s.kind
            if g is None:
                row.update({f"{k}_{c}": "" for c in ("critic_error", "best_critic_error", "reached",
                                                      "within_cell_diversity", "nearest_real", "minus_elite_critic_error")})
                continue
            crit = np.array(g["critic"])  # (K, 3)
            err = np.abs(crit[:, di] - t[di]).mean(axis=1)
            row.update({f"{k}_critic_error": float(err.mean()), f"{k}_best_critic_error": float(err.min()),
                        f"{k}_reached": int((np.abs(crit[:, di] - t[di]).max(axis=1) <= tol).any()),
                        f"{k}_within_cell_diversity": mean_pairwise_distance(np.array(g["feat"])),
                        f"{k}_nearest_real": float(space.nearest_real(np.array(g["feat"])).mean()),
                        f"{k}_minus_elite_critic_error": float(err.mean()) - e_err})
            for j, (img, vad) in enumerate(zip(g["images"], g["critic"])):
                sample_rows.append({"archive": run.name, "source": s.name, "index": r["index"], "k": j, "image": img,
                                    **{f"critic_{d}": float(vad[i]) for i, d in enumerate(DIMS)},
                                    **{f"target_{d}": float(t[i]) for i, d in enumerate(DIMS)}})
        cell_rows.append(row)
    return cell_rows, sample_rows


SAMPLE_FIELDS = ["archive", "source", "index", "k", "image", "critic_valence", "critic_arousal", "critic_dominance",
                 "target_valence", "target_arousal", "target_dominance"]


def _header(cfg: CompareConfig, space: FeatureSpace, ctx: CompareContext) -> dict[str, Any]:
    return {"archives": {}, "tolerance": cfg.tolerance, "samples_per_cell": cfg.samples_per_cell,
            "select_from": max(cfg.select_from, cfg.samples_per_cell),
            "critic": cfg.critic, "searcher": cfg.searcher, "judge": ctx.judge,
            "generators": {s.name: {"spec": s.spec, "file": s.path.name, "kind": s.kind, "renderer": s.renderer,
                                    "judge": s.meta.get("judge"), "stale": s.stale, "train_seconds": s.train_seconds,
                                    "steps": s.meta.get("steps")} for s in ctx.sources},
            "pca_dim": int(space.components.shape[1]), "real_photos": int(len(space.real))}


def write_outputs(runs: Sequence[ArchiveRun], by_run: dict[str, list[dict[str, Any]]], cfg: CompareConfig,  # long: one pass
                  space: FeatureSpace, out: Path, ctx: CompareContext | None = None) -> dict[str, Any]:
    """Write cells.csv, samples.csv, heatmaps/, sheets/, summary.json, report.md; return the summary."""
    ctx = ctx or CompareContext()
    summary = _header(cfg, space, ctx)
    all_cells, all_samples, pooled = [], [], []
    for run in runs:
        rows = sorted(by_run[run.name], key=lambda r: r["index"])
        srcs = ctx.per_run.get(run.name, [])
        cell_rows, sample_rows = _cell_rows(run, rows, ctx.sources, space, cfg.tolerance)
        all_cells += cell_rows
        all_samples += sample_rows
        block = summarise(run.dim_idx, rows, space, cfg.tolerance, srcs, run.seconds,
                          float(run.metrics.get("evaluations", float("nan"))))
        summary["archives"][run.name] = {"path": str(run.path), "grid": run.grid_name, "dims": run.dims,
                                         "renderer": run.renderer.get("name"), "searcher": run.searcher.get("name"),
                                         "searcher_sha256": run.searcher.get("sha256"),
                                         "sources": [EXPLORER] + [s.name for s in srcs],
                                         "left_out": ctx.left_out.get(run.name, {}), **block}
        pooled.append((run, rows))
        heatmaps(run, cell_rows, srcs, out / "heatmaps")
        sheets(run, rows, srcs, cfg, out / "sheets", out)
        overview(run, rows, srcs, cfg, out / "sheets", out)
    if len(runs) > 1:
        dims_all = sorted(set.intersection(*(set(r.dim_idx) for r in runs)))
        rows_all = [r for _, rows in pooled for r in rows]
        secs = float(np.nansum([r.seconds for r in runs]))
        evals = float(np.nansum([float(r.metrics.get("evaluations", float("nan"))) for r in runs]))
        summary["all"] = summarise(dims_all, rows_all, space, cfg.tolerance, ctx.sources, secs, evals)
    else:
        summary["all"] = summary["archives"][runs[0].name]
    fields = list(dict.fromkeys(k for row in all_cells for k in row))
    atomic_write_text(out / "cells.csv", table_text(fields, ({k: _fmt(row.get(k, "")) for k in fields}
                                                             for row in all_cells)))
    atomic_write_text(out / "samples.csv", table_text(SAMPLE_FIELDS, ({k: _fmt(v) for k, v in r.items()}
                                                                      for r in all_samples)))
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "report.md", report_md(summary, runs, cfg, METRICS))
    return summary


__all__ = ["CompareContext", "EXPLORER", "METRICS", "SAMPLE_FIELDS", "source_metrics", "summarise", "write_outputs"]
