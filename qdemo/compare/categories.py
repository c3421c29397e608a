"""Categorical versus continuous emotion: an emotions archive beside a VAD-grid archive.

``qdemo compare-categories RUN_EMOTIONS RUN_VAD --out DIR`` reads two finished run folders
(no model is loaded: both runs' critic columns are used as they were confirmed) and writes

- ``DIR/categories.csv``: per emotion slot, the elites' mean VAD by searcher and critic, the
  critic's agreement, and the human mean valence / arousal of the Emotion6 photos of that
  emotion (its folder; and the photos whose raters' most voted emotion it is);
- ``DIR/summary.json`` and ``DIR/report.md``: the same, with how well each representation's
  elites are confirmed by the critic (categorical: the critic's top emotion is the slot's,
  against chance 1/7 and the critic's held-out accuracy; continuous: the critic puts the elite
  in the same / a neighbouring VAD cell), and whether each categorical elite's VA lies nearest
  to the human mean of its own emotion;
- ``DIR/categories_va.png``: both archives on the valence-arousal plane (:mod:`qdemo.viz.categories`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from qdemo import DIMS, EMOTIONS
from qdemo.errors import DataError
from qdemo.tables import table_text
from qdemo.io import atomic_write_json, atomic_write_text
from qdemo.runfolder import CRITIC_COLUMNS, EMOTION_COLUMN, RunFolder, read_run

SLOT_REQUIRED = (EMOTION_COLUMN, *DIMS, *CRITIC_COLUMNS, "critic_emotion", "critic_match", "critic_within_one")
VAD_REQUIRED = (*DIMS, *CRITIC_COLUMNS, "critic_same_cell", "critic_within_one")


def default_emotion6() -> Path:
    """``shared/datasets/emotion6`` beside the qdemo checkout (where the shipped configs look)."""
    import qdemo

    return Path(qdemo.__file__).resolve().parents[2] / "shared" / "datasets" / "emotion6"


def human_means(root: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Human mean valence / arousal of the Emotion6 photos per emotion (rated-set loader).

    ``{emotion: {"folder": {"n", "valence", "arousal"}, "top_voted": {...}}}``: the photos in
    the emotion's folder (Emotion6 has no 'neutral' folder) and those whose raters' most voted
    emotion it is. Valence and arousal are human ratings on the canonical scale; dominance has none.
    """
    from qdemo.emotion.datasets import load_dataset

    rs = load_dataset(root, "emotion6", on_missing="skip")
    va = np.asarray(rs.targets, dtype=np.float64)[:, :2]  # (N, 2)
    top = np.asarray(rs.emotion_dist).argmax(axis=1)  # (N,)
    out: dict[str, dict[str, Any]] = {}
    for k, emo in enumerate(EMOTIONS):
        out[emo] = {"folder": _mean_va(va[rs.strata == emo]), "top_voted": _mean_va(va[top == k])}
    return out


def _mean_va(va: np.ndarray) -> dict[str, Any]:
    if not len(va):
        return {"n": 0, "valence": None, "arousal": None}
    return {"n": int(len(va)), "valence": float(va[:, 0].mean()), "arousal": float(va[:, 1].mean())}


def _column(run: RunFolder, name: str) -> np.ndarray:
    return np.asarray(run.columns[name], dtype=np.float64)


def _mean(x: np.ndarray) -> Optional[float]:
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None


def read_pair(emotions_run: str | os.PathLike, vad_run: str | os.PathLike) -> tuple[RunFolder, RunFolder]:
    """Both run folders, checked: the first an emotions archive, the second a VAD grid, both confirmed."""
    emo = read_run(emotions_run)
    if not emo.grid.is_slots:
        raise DataError(f"{emo.path}: not an emotions archive (grid {emo.grid.name!r}); the first run of "
                        f"compare-categories is a `qdemo evolve --grid emotions` run")
    emo = read_run(emotions_run, require=SLOT_REQUIRED)
    vad = read_run(vad_run, require=VAD_REQUIRED)
    if vad.grid.is_slots:
        raise DataError(f"{vad.path}: is an emotions archive; the second run of compare-categories is a VAD grid "
                        f"(`qdemo evolve --grid vad`, va or cvt)")
    for run in (emo, vad):
        if run.n and not np.isfinite(_column(run, "critic_valence")).any():
            raise DataError(f"{run.table}: the critic columns are empty; confirm the run first (qdemo confirm {run.path})")
    return emo, vad


def per_emotion(emo: RunFolder, human: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per slot: elites, mean searcher / critic VAD, critic agreement, human mean VA."""
    names = np.asarray(emo.columns[EMOTION_COLUMN])
    match, top2 = _column(emo, "critic_match"), _column(emo, "critic_within_one")
    rows = []
    for name in emo.grid.slots:
        sel = names == name
        row: dict[str, Any] = {"emotion": name, "elites": int(sel.sum())}
        for who, cols in (("searcher", DIMS), ("critic", CRITIC_COLUMNS)):
            for d, c in zip(DIMS, cols):
                row[f"{who}_{d}"] = _mean(_column(emo, c)[sel])
        row["critic_match"] = _mean(match[sel])
        row["critic_top2"] = _mean(top2[sel])
        h = (human or {}).get(name) or {}
        for kind in ("folder", "top_voted"):
            g = h.get(kind) or {}
            row[f"human_{kind}_n"] = g.get("n")
            row[f"human_{kind}_valence"] = g.get("valence")
            row[f"human_{kind}_arousal"] = g.get("arousal")
        rows.append(row)
    return rows


def nearest_human(emo: RunFolder, human: dict[str, Any], who: str) -> Optional[float]:
    """Fraction of elites whose ``who`` ('searcher' or 'critic') valence-arousal lies nearer the
    human mean of their own emotion (Emotion6 folder) than of any other emotion's; None without
    human means for the slots."""
    means = {e: (h["folder"]["valence"], h["folder"]["arousal"]) for e, h in human.items()
             if h["folder"]["valence"] is not None}
    if not means:
        return None
    cols = ("valence", "arousal") if who == "searcher" else CRITIC_COLUMNS[:2]
    va = np.stack([_column(emo, c) for c in cols], axis=1)  # (N, 2)
    names = list(means)
    centres = np.asarray([means[e] for e in names])  # (E, 2)
    hits = []
    for point, emotion in zip(va, emo.columns[EMOTION_COLUMN]):
        if emotion not in means or not np.isfinite(point).all():
            continue
        hits.append(names[int(np.argmin(((centres - point) ** 2).sum(1)))] == emotion)
    return float(np.mean(hits)) if hits else None


def summarise(emo: RunFolder, vad: RunFolder, human: Optional[dict[str, Any]]) -> dict[str, Any]:
    """summary.json: budgets, confirmation of each representation, the per-emotion table."""
    e_info = emo.manifest.get("emotions") or {}
    budgets = [((r.manifest.get("metrics") or {}).get("evaluations")) for r in (emo, vad)]
    notes = []
    if all(isinstance(b, (int, float)) and b > 0 for b in budgets) and abs(budgets[0] - budgets[1]) > 0.1 * max(budgets):
        notes.append(f"the runs' budgets differ: {budgets[0]} vs {budgets[1]} evaluations")
    near_means = len(set(e for e in EMOTIONS if human and human[e]["folder"]["n"]))
    return {
        "emotions_run": str(emo.path), "vad_run": str(vad.path), "evaluations": budgets,
        "categorical": {
            "elites": emo.n, "slots": emo.grid.size,
            "critic_match": _mean(_column(emo, "critic_match")),
            "critic_top2": _mean(_column(emo, "critic_within_one")),
            "chance": e_info.get("chance", 1 / len(EMOTIONS)),
            "critic_heldout_accuracy": e_info.get("critic_heldout_accuracy"),
            "va_nearest_own_human_mean": {w: nearest_human(emo, human, w) if human else None
                                          for w in ("searcher", "critic")},
            "va_nearest_chance": 1 / near_means if near_means else None,
        },
        "continuous": {
            "elites": vad.n, "cells": vad.grid.size, "grid": vad.grid.name,
            "critic_same_cell": _mean(_column(vad, "critic_same_cell")),
            "critic_within_one": _mean(_column(vad, "critic_within_one")),
            "chance_same_cell": 1 / vad.grid.size,
        },
        "per_emotion": per_emotion(emo, human),
        "human_source": "Emotion6 photos (human valence and arousal, canonical scale)" if human else None,
        "notes": notes,
    }


def figure_data(emo: RunFolder, vad: RunFolder, summary: dict[str, Any]) -> dict[str, Any]:
    """Plain arrays for :func:`qdemo.viz.categories.plot_categories`."""
    def va(run: RunFolder, cols: tuple[str, ...]) -> np.ndarray:
        return np.stack([_column(run, c) for c in cols[:2]], axis=1) if run.n else np.zeros((0, 2))  # (N, 2)

    same, within = _column(vad, "critic_same_cell"), _column(vad, "critic_within_one")
    human = {r["emotion"]: (r["human_folder_valence"], r["human_folder_arousal"]) for r in summary["per_emotion"]
             if r["human_folder_valence"] is not None}
    return {"emotions": list(emo.columns[EMOTION_COLUMN]), "slot_searcher": va(emo, DIMS),
            "slot_critic": va(emo, CRITIC_COLUMNS), "slot_match": _column(emo, "critic_match"),
            "vad_searcher": va(vad, DIMS), "vad_critic": va(vad, CRITIC_COLUMNS),
            "vad_level": np.where(same > 0.5, 2, np.where(within > 0.5, 1, 0)), "human": human,
            "names": (emo.path.name, vad.path.name), "summary": summary}


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{100 * x:.1f}%" if pct else f"{x:+.2f}"


def report_md(s: dict[str, Any], figure: str) -> str:
    """report.md of a summary."""
    c, v = s["categorical"], s["continuous"]
    L = ["# Categorical vs continuous emotion", "",
         f"Emotions archive `{s['emotions_run']}` beside VAD grid `{s['vad_run']}` "
         f"({' and '.join('?' if b is None else str(b) for b in s['evaluations'])} evaluations).", "",
         "## Confirmed by the critic", "",
         "| representation | elites | critic agrees | looser | chance |", "|---|---|---|---|---|",
         f"| categorical (emotion slots) | {c['elites']} of {c['slots']} slots | top emotion = slot: "
         f"{_fmt(c['critic_match'], True)} | slot among its top two: {_fmt(c['critic_top2'], True)} | "
         f"{_fmt(c['chance'], True)} |",
         f"| continuous ({v['grid']} grid) | {v['elites']} of {v['cells']} cells | same cell: "
         f"{_fmt(v['critic_same_cell'], True)} | within one cell: {_fmt(v['critic_within_one'], True)} | "
         f"{_fmt(v['chance_same_cell'], True)} |", "",
         f"The critic's own held-out max-emotion accuracy on Emotion6 photos: "
         f"{_fmt(c['critic_heldout_accuracy'], True)} (an elite it confirms less often than that is, for the "
         f"critic, no clearer than a photo).", "",
         "## Where the categories fall on the valence-arousal plane", "",
         "| emotion | elites | searcher V, A | critic V, A | critic agrees | human V, A (Emotion6 folder, n) | "
         "human V, A (most voted, n) |", "|---|---|---|---|---|---|---|"]
    for r in s["per_emotion"]:
        L.append(f"| {r['emotion']} | {r['elites']} | {_fmt(r['searcher_valence'])}, {_fmt(r['searcher_arousal'])} | "
                 f"{_fmt(r['critic_valence'])}, {_fmt(r['critic_arousal'])} | {_fmt(r['critic_match'], True)} | "
                 f"{_fmt(r['human_folder_valence'])}, {_fmt(r['human_folder_arousal'])} ({r['human_folder_n'] or 0}) | "
                 f"{_fmt(r['human_top_voted_valence'])}, {_fmt(r['human_top_voted_arousal'])} "
                 f"({r['human_top_voted_n'] or 0}) |")
    near = c["va_nearest_own_human_mean"]
    L += ["", f"Elites whose VA lies nearest the human mean of their own emotion: searcher "
              f"{_fmt(near['searcher'], True)}, critic {_fmt(near['critic'], True)} (chance "
              f"{_fmt(c['va_nearest_chance'], True)}).", "", f"![both archives on the VA plane]({figure})", ""]
    L += [f"Note: {n}" for n in s["notes"]]
    return "\n".join(L) + "\n"


def _csv(rows: list[dict[str, Any]]) -> str:
    """The per-emotion table through the one CSV formatter (floats with six decimals, None empty)."""
    return table_text(list(rows[0]) if rows else ["emotion"],
                      ({k: ("" if x is None else f"{x:.6f}" if isinstance(x, float) else x) for k, x in r.items()}
                       for r in rows))


def compare_categories(emotions_run: str | os.PathLike, vad_run: str | os.PathLike, out: str | os.PathLike, *,
                       emotion6: Optional[str | os.PathLike] = None, require_human: bool = False) -> dict[str, Any]:
    """Write the comparison into ``out`` (module docstring); returns the summary.

    ``emotion6``: the Emotion6 folder for the human means (None: :func:`default_emotion6`,
    skipped with a note when absent unless ``require_human``)."""
    from qdemo.viz.categories import plot_categories

    emo, vad = read_pair(emotions_run, vad_run)
    root = Path(emotion6) if emotion6 is not None else default_emotion6()
    human, note = None, None
    if root.exists() or require_human or emotion6 is not None:
        human = human_means(root)
    else:
        note = f"no human means: {root} not found (pass --emotion6 DIR)"
    summary = summarise(emo, vad, human)
    if note:
        summary["notes"].append(note)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figure = plot_categories(figure_data(emo, vad, summary), out / "categories_va.png")
    atomic_write_text(out / "categories.csv", _csv(summary["per_emotion"]))
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "report.md", report_md(summary, figure.name))
    return summary


__all__ = ["compare_categories", "default_emotion6", "human_means", "nearest_human", "per_emotion", "read_pair",
           "report_md", "summarise"]
