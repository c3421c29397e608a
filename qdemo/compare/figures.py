"""The comparison's figures: per-cell heatmaps on the valence x arousal plane and per-region
image sheets (elite, then each generator's K samples), handed to :mod:`qdemo.viz.compare_plots`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qdemo.compare.archive_io import ArchiveRun
from qdemo.compare.config import CompareConfig
from qdemo.measure_space import MeasureSpace


def _va_space(run: ArchiveRun) -> MeasureSpace | None:
    """The valence x arousal plane of the run's grid (None for CVT or a grid without both)."""
    if not run.cells_shape or "valence" not in run.dims or "arousal" not in run.dims:
        return None
    at = [run.dims.index("valence"), run.dims.index("arousal")]
    return MeasureSpace.grid([run.ranges[d] for d in at], [run.cells_shape[d] for d in at])


def _va_grid(run: ArchiveRun, rows: list[dict[str, Any]], key: str) -> np.ndarray | None:
    """(n_arousal, n_valence) mean of ``key`` over the cells of each valence x arousal square."""
    space = _va_space(run)
    if space is None:
        return None
    nv, na = space.cells
    acc, cnt = np.zeros((na, nv)), np.zeros((na, nv))
    rows = [r for r in rows if r.get(key) not in ("", None)]
    if rows:
        cells = space.grid_coords([[r["target_valence"], r["target_arousal"]] for r in rows])  # the targets' VA cells
        for r, (iv, ia) in zip(rows, cells):
            acc[ia, iv] += r[key]
            cnt[ia, iv] += 1
    with np.errstate(invalid="ignore"):
        return np.where(cnt > 0, acc / np.maximum(cnt, 1), np.nan)


def heatmaps(run: ArchiveRun, cell_rows: list[dict[str, Any]], sources: Sequence, folder: Path) -> None:
    """``<run>_differences.png``: the critic error of the explorer and of each generator, and each
    generator minus the explorer, on the valence x arousal plane (averaged over dominance)."""
    panels = [("elite_critic_error", "explorer: critic error", "viridis", False)]
    panels += [(f"{s.kind}_critic_error", f"{s.name}: critic error", "viridis", False) for s in sources]
    panels += [(f"{s.kind}_minus_elite_critic_error", f"critic error: {s.kind} - explorer", "RdBu_r", True)
               for s in sources]
    grids = [(_va_grid(run, cell_rows, k), t, cm, sym) for k, t, cm, sym in panels]
    if grids[0][0] is None:
        return
    from qdemo.viz.compare_plots import plot_differences

    (vlo, vhi), (alo, ahi) = run.ranges[run.dims.index("valence")], run.ranges[run.dims.index("arousal")]
    plot_differences(grids, (vlo, vhi, alo, ahi), f"{run.name}: per cell, averaged over dominance "
                     f"(blue = generator lower)", folder / f"{run.name}_differences.png")


def sheet_row(r: dict[str, Any], sources: Sequence, out: Path) -> tuple[str, list[tuple[str, str]]]:
    """One sheet row: the elite, then each source's samples, labelled with the critic's V and A."""
    t = r["target"]
    imgs = [(r["elite_image"], r["elite"]["critic"][0])]
    for s in sources:
        g = r["gen"][s.name]
        imgs += [(str(out / p), vad) for p, vad in zip(g["images"], g["critic"])]
    return (f"cell {r['index']}\n({t[0]:+.2f},{t[1]:+.2f},{t[2]:+.2f})",
            [(p, f"{vad[0]:+.2f} {vad[1]:+.2f}") for p, vad in imgs])


def sheet_columns(sources: Sequence, k: int) -> list[str]:
    """Column titles of a sheet: ``elite``, then ``shapes #1`` ... per source."""
    return ["elite"] + [f"{s.kind} #{j}" for s in sources for j in range(1, k + 1)]


def sheets(run: ArchiveRun, rows: list[dict[str, Any]], sources: Sequence, cfg: CompareConfig, folder: Path,
           out: Path) -> None:
    """One picture per valence x arousal region: rows = cells, columns = elite then each generator's K samples."""
    from qdemo.viz.compare_plots import plot_sheet

    bins = max(1, cfg.region_bins)
    names = {0: "low", bins - 1: "high"}
    objective = {c.index: c.objective for c in run.cells}
    regions: dict[tuple[int, int], list[dict[str, Any]]] = {}
    plane = MeasureSpace.grid([[-1.0, 1.0]] * 2, [bins, bins])  # bins x bins regions of the VA plane
    for r, (iv, ia) in zip(rows, plane.grid_coords([r["target"][:2] for r in rows]).tolist() if rows else []):
        regions.setdefault((iv, ia), []).append(r)
    k = cfg.samples_per_cell
    for (iv, ia), cells in sorted(regions.items()):
        cells = sorted(cells, key=lambda r: -np.nan_to_num(objective.get(r["index"], 0.0), nan=-1e9))[: cfg.sheet_cells]
        vname = names.get(iv, "mid") if bins > 1 else "all"
        aname = names.get(ia, "mid") if bins > 1 else "all"
        plot_sheet([sheet_row(r, sources, out) for r in cells], sheet_columns(sources, k),
                   f"{run.name}: valence {vname}, arousal {aname} (labels: critic V A)",
                   folder / f"{run.name}_V{iv}_A{ia}.png")


def spread_cells(rows: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Up to ``n`` cells spread over the valence x arousal plane: the lowest-valence cell first,
    then each time the cell farthest (in V, A) from those picked; shown in valence order."""
    if not rows:
        return []
    va = np.array([r["target"][:2] for r in rows])  # (n, 2)
    picked = [int(np.argmin(va[:, 0] + 1e-3 * va[:, 1]))]
    while len(picked) < min(n, len(rows)):
        d = np.min(np.linalg.norm(va[:, None] - va[picked][None], axis=-1), axis=1)  # (n,)
        picked.append(int(np.argmax(d)))
    return sorted((rows[i] for i in picked), key=lambda r: (r["target"][0], r["target"][1]))


def overview(run: ArchiveRun, rows: list[dict[str, Any]], sources: Sequence, cfg: CompareConfig, folder: Path,
             out: Path, n: int = 5) -> None:
    """``<run>_overview.png``: a few cells across the plane, each the elite then every generator's samples."""
    from qdemo.viz.compare_plots import plot_sheet

    cells = spread_cells(rows, n)
    if cells:
        plot_sheet([sheet_row(r, sources, out) for r in cells], sheet_columns(sources, cfg.samples_per_cell),
                   f"{run.name}: cells across the valence x arousal plane (labels: critic V A)",
                   folder / f"{run.name}_overview.png")


__all__ = ["heatmaps", "overview", "sheet_columns", "sheet_row", "sheets", "spread_cells"]
