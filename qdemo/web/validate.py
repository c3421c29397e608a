"""``qdemo validate``: do people feel what the images were made to convey?

Human SAM ratings (1-9) from ``qdemo rate`` are averaged over raters per stimulus and put
on the canonical scale by ``(x - 5) / 4``. They are compared with the study key
(``key.csv`` of ``qdemo export-study``): the *intended* VAD (cell centre, requested VAD or
the photo's own human rating) and the *predicted* VAD (the critic model), per source
(``elite``, ``generator``, ``photo``) and over all stimuli: Pearson r, mean absolute error
(canonical units; x4 for SAM points) and n (stimuli with a rating and a target).

All three human dimensions are rated by the participants of this study; the *predicted*
dominance comes from a model whose dominance head was trained on proxy targets (word
norms), and the intended dominance of photos is usually missing (OASIS has none).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from qdemo.errors import DataError
from qdemo.tables import read_output_table, table_text
from qdemo.web.ratings import DIMS, RatingStore

TARGETS = ("intended", "predicted")
SOURCES = ("elite", "generator", "photo")


def _f(text: str | None) -> float:
    try:
        x = float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan
    return x if math.isfinite(x) else math.nan


def human_means(ratings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per stimulus: mean canonical VAD over raters, its sd and the number of raters
    (:func:`qdemo.web.reliability.stimulus_means`)."""
    from qdemo.web.reliability import stimulus_means

    return {sid: {"mean": m["mean"], "sd": m["sd"], "n_raters": m["n_raters"]}
            for sid, m in stimulus_means(ratings).items()}


def agreement(human: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    """r, MAE and n over the pairs where both are finite (r is None below 3 pairs or no variance)."""
    ok = np.isfinite(human) & np.isfinite(target)
    h, t = human[ok], target[ok]
    n = int(ok.sum())
    r = None
    if n >= 3 and h.std() > 1e-12 and t.std() > 1e-12:
        r = float(np.corrcoef(h, t)[0, 1])
    mae = float(np.mean(np.abs(h - t))) if n else None
    return {"r": r, "mae": mae, "mae_sam": None if mae is None else mae * 4.0, "n": n}


def validate(ratings: list[dict[str, Any]], key_rows: list[dict[str, str]]) -> dict[str, Any]:
    """The agreement table as a dict (see module docstring)."""
    means = human_means(ratings)
    key = {row["stimulus_id"].strip(): row for row in key_rows}
    stimuli = []
    for sid, m in sorted(means.items()):
        row = key.get(sid)
        if row is None:
            continue
        stimuli.append({
            "stimulus_id": sid,
            "source": (row.get("source") or "").strip() or "unknown",
            "human": m["mean"], "human_sd": m["sd"], "n_raters": m["n_raters"],
            "intended": [_f(row.get(f"intended_{d}")) for d in DIMS],
            "predicted": [_f(row.get(f"predicted_{d}")) for d in DIMS],
        })
    sources = [s for s in SOURCES if any(x["source"] == s for x in stimuli)]
    sources += sorted({x["source"] for x in stimuli} - set(SOURCES))
    table: dict[str, Any] = {}
    for src in sources + ["all"]:
        sel = [x for x in stimuli if src == "all" or x["source"] == src]
        entry: dict[str, Any] = {"n_stimuli": len(sel)}
        for tgt in TARGETS:
            entry[tgt] = {}
            for k, d in enumerate(DIMS):
                h = np.array([x["human"][k] for x in sel], dtype=np.float64)
                t = np.array([x[tgt][k] for x in sel], dtype=np.float64)
                entry[tgt][d] = agreement(h, t)
        table[src] = entry
    participants = {r["participant"] for r in ratings}
    return {
        "n_ratings": len(ratings),
        "n_participants": len(participants),
        "n_stimuli_rated": len(means),
        "n_stimuli_in_key": len(key),
        "n_rated_not_in_key": sum(1 for sid in means if sid not in key),
        "scale": "canonical [-1, 1]; human SAM 1-9 mapped by (x - 5) / 4; mae_sam = MAE in SAM points",
        "human_rated": list(DIMS),
        "notes": "Human valence, arousal and dominance are all rated by this study's participants. "
                 "Predicted dominance comes from the critic's dominance head, trained on proxy targets "
                 "(no image dataset has human dominance ratings); intended dominance of photos is "
                 "usually unknown.",
        "agreement": table,
        "stimuli": stimuli,
    }


def format_table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['n_ratings']} ratings by {result['n_participants']} participant(s) of "
        f"{result['n_stimuli_rated']} stimuli ({result['n_stimuli_in_key']} in the key)",
        f"{'source':<10} {'target':<10} {'dim':<10} {'n':>4} {'r':>7} {'MAE':>7} {'MAE(SAM)':>9}",
    ]
    for src, entry in result["agreement"].items():
        for tgt in TARGETS:
            for d in DIMS:
                a = entry[tgt][d]
                r = "–" if a["r"] is None else f"{a['r']:+.3f}"
                mae = "–" if a["mae"] is None else f"{a['mae']:.3f}"
                sam = "–" if a["mae_sam"] is None else f"{a['mae_sam']:.2f}"
                lines.append(f"{src:<10} {tgt:<10} {d:<10} {a['n']:>4} {r:>7} {mae:>7} {sam:>9}")
    lines.append("(dominance: predicted values come from a proxy-trained model head)")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    """Scatter: human mean (y) against intended / predicted (x), per dimension, by source
    (drawn by :func:`qdemo.viz.ratings.plot_validation`)."""
    from qdemo.viz.ratings import plot_validation

    plot_validation(result, path, targets=TARGETS, dims=DIMS)


def run_validate(db: str | os.PathLike, *, key: str | os.PathLike | None = None,
                 out: str | os.PathLike | None = None, quiet: bool = False,
                 flag_below: float | None = None) -> dict[str, Any]:
    """Read ``db`` and the key, print the table, write ``validate.json`` / ``.csv`` / ``.png`` and
    ``raters.csv``; rater quality (:mod:`qdemo.web.reliability`) flags raters whose mean
    leave-one-out r is below ``flag_below`` (default ``FLAG_THRESHOLD``)."""
    from qdemo.io import atomic_write_json, atomic_write_text
    from qdemo.web.reliability import FLAG_THRESHOLD, format_quality, rater_quality, split_half

    store = RatingStore(db, create=False)
    try:
        ratings = store.all_ratings()
        meta = store.meta()
    finally:
        store.close()
    if key is None:
        if "stimuli_dir" not in meta:
            raise DataError(f"{db}: no stimulus folder recorded; give --key KEY.csv")
        key = Path(meta["stimuli_dir"]) / "key.csv"
        if not Path(key).is_file():
            raise DataError(f"{key}: key not found (the study's key.csv); give --key KEY.csv")
    key = Path(key)
    if not key.is_file():
        raise DataError(f"{key}: key file not found")
    key_rows = read_output_table(key, required=("stimulus_id", "source")).dicts()
    if not ratings:
        raise DataError(f"{db}: no ratings yet")
    result = validate(ratings, key_rows)
    sources = {row["stimulus_id"].strip(): (row.get("source") or "").strip() or "unknown" for row in key_rows}
    result["reliability"] = split_half(ratings, sources)
    result["raters"] = rater_quality(ratings, threshold=FLAG_THRESHOLD if flag_below is None else flag_below)
    result["db"] = str(Path(db))
    result["key"] = str(key)
    if result["n_stimuli_rated"] and result["n_rated_not_in_key"] == result["n_stimuli_rated"]:
        raise DataError(f"{key}: none of the {result['n_stimuli_rated']} rated stimuli is in this key "
                        "(wrong key.csv for this database?)")
    out_dir = Path(out) if out else Path(db).with_name(Path(db).stem + "_validate")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / "validate.json", result)
    header = ["stimulus_id", "source", "n_raters", *[f"human_{d}" for d in DIMS],
              *[f"{t}_{d}" for t in TARGETS for d in DIMS]]
    rows = ([x["stimulus_id"], x["source"], x["n_raters"]] +
            ["" if not math.isfinite(v) else f"{v:.4f}" for v in x["human"] + x["intended"] + x["predicted"]]
            for x in result["stimuli"])
    atomic_write_text(out_dir / "validate.csv", table_text(header, rows))  # the one CSV formatter (quotes ids)
    _write_raters(result["raters"], out_dir / "raters.csv")
    plot(result, out_dir / "validate.png")
    if not quiet:
        print(format_table(result))
        print(format_quality(result["reliability"], result["raters"]))
        if result["n_rated_not_in_key"]:
            print(f"warning: {result['n_rated_not_in_key']} rated stimuli are not in {key}")
        print(f"wrote {out_dir / 'validate.json'}, {out_dir / 'validate.csv'}, {out_dir / 'raters.csv'}, "
              f"{out_dir / 'validate.png'}")
    return result


def _write_raters(quality: dict[str, Any], path: Path) -> None:
    """raters.csv: one row per rater, its leave-one-out r per dimension and whether it is flagged."""
    from qdemo.io import atomic_write_text
    from qdemo.tables import table_text

    rows = [[p, q["n"], *("" if q["r"][d] is None else round(q["r"][d], 4) for d in DIMS),
             "" if q["mean_r"] is None else round(q["mean_r"], 4), int(q["flagged"]), q["reason"]]
            for p, q in quality["raters"].items()]
    atomic_write_text(path, table_text(["participant", "n_stimuli", *(f"loo_r_{d}" for d in DIMS), "mean_r",
                                        "flagged", "reason"], rows))


__all__ = ["agreement", "format_table", "human_means", "plot", "run_validate", "validate"]
