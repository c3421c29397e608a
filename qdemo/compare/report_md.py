"""``report.md`` of a comparison: one table per archive, sources side by side, the best marked."""

from __future__ import annotations

import math
from typing import Any, Sequence

EXPLORER = "explorer"


def _fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return f"{x:.3f}" if abs(x) < 100 else f"{x:.0f}"


def _table(block: dict[str, Any], title: str, sources: list[str], metrics: dict[str, tuple]) -> list[str]:
    lines = [f"## {title} ({block['extra']['cells']} cells)", "",
             "| metric | " + " | ".join(sources) + " | best |", "|---|" + "---:|" * len(sources) + "---|"]
    for m, (label, lower, _) in metrics.items():
        row = block["metrics"][m]
        arrow = "lower is better" if lower else "higher is better"
        cells = [(f"**{_fmt(row.get(s))}**" if row.get("winner") == s else _fmt(row.get(s))) for s in sources]
        lines.append(f"| {label} ({arrow}) | " + " | ".join(cells) + f" | {row.get('winner', 'n/a')} |")
    ex = block["extra"]
    lines.append("")
    for s in sources[1:]:
        x = ex.get(s)
        if x:
            lines.append(f"- `{s}`: within / across-cell diversity {_fmt(x['within_over_across'])}; "
                         f"{x['usable_images']} of {x['images']} samples usable; sampling alone "
                         f"{_fmt(x['marginal_cost_per_usable_image'])} s per usable image.")
    x = ex.get(EXPLORER)
    if x:
        lines.append(f"- `explorer`: {x['usable_images']} of {x['images']} elites usable; "
                     f"{_fmt(x.get('evaluations_per_filled_cell'))} evaluations per filled cell.")
    lines.append(f"- real images among themselves: diversity {_fmt(ex['real_images_self_diversity'])}.")
    lines.append("")
    return lines


def _selection(cfg) -> str:
    if cfg.select_from <= cfg.samples_per_cell:
        return " (no selection: every draw is kept)"
    return (f", kept from {cfg.select_from} draws: the {cfg.samples_per_cell} the searcher places nearest the centre "
            "(as the explorer keeps its best evaluation per cell; the scoring counts in the sampling cost)")


def report_md(summary: dict[str, Any], runs: Sequence, cfg, metrics: dict[str, tuple]) -> str:
    """The report of a summary (``summary.json``'s layout)."""
    gens = summary.get("generators", {})
    lines = ["# Explorer elites vs conditional generators", "",
             f"Archives: {', '.join(f'`{r.path}`' for r in runs)}. Each generator draws {cfg.samples_per_cell} "
             f"samples per occupied cell, conditioned on the cell centre{_selection(cfg)}. Critic: `{cfg.critic}`; searcher (the "
             f"judge every source was trained against): `{cfg.searcher}` = {summary['judge'].get('name')} "
             f"(sha256 {str(summary['judge'].get('sha256', ''))[:12]}). Tolerance for coverage and usable images: "
             f"{cfg.tolerance} (max abs error over the grid's dims). Diversity, realism and the nearest real image "
             f"are measured in a {summary['pca_dim']}-dimensional PCA subspace of the critic's features of "
             f"{summary['real_photos']} real images.", ""]
    for name, g in gens.items():
        stale = f" **STALE: {g['stale']}**" if g.get("stale") else ""
        lines.append(f"- `{name}`: `{g['file']}`, {g.get('steps')} steps, trained "
                     f"{_fmt(g.get('train_seconds'))} s against {(g.get('judge') or {}).get('name', 'an unrecorded judge')}."
                     f"{stale}")
    lines += ["", "Valence and arousal of the emotion models are trained on human ratings; dominance is a "
              "word-norm proxy, so errors that include dominance mix human-rated and proxy dimensions.", ""]
    if len(runs) > 1:
        lines += _table(summary["all"], "All archives", [EXPLORER] + list(gens), metrics)
    for r in runs:
        block = summary["archives"][r.name]
        lines += _table(block, f"Archive `{r.name}`", block["sources"], metrics)
        for src, why in block.get("left_out", {}).items():
            lines.append(f"`{src}` left out of this archive: {why}.")
        lines.append("")
    lines.append("Files: `cells.csv` (per cell), `samples.csv` + `samples/<archive>/<source>/` (generator images), "
                 "`heatmaps/` (each generator minus the explorer, on the valence x arousal plane, averaged over "
                 "dominance), `sheets/` (per region: elite, then each generator's samples).")
    return "\n".join(lines) + "\n"


__all__ = ["report_md"]
