"""Rater quality: split-half reliability of the mean ratings and raters who disagree with the rest.

Both work on the rows of a ``qdemo rate`` database (``RatingStore.all_ratings()``: participant,
stimulus_id, valence, arousal, dominance on SAM 1-9).

**Split-half reliability** (per dimension, per source and over all stimuli): the raters are
split at random into two halves, each stimulus gets a mean rating in each half, and the two
halves' means are correlated across the stimuli (Pearson r over stimuli rated in both halves).
The split-half r of ``n_splits`` seeded random splits are averaged (as Fisher z), then the
Spearman-Brown formula ``2 r / (1 + r)`` corrects the mean from half the raters to all of them:
it estimates how well the full panel's means would correlate with the means of another panel
of the same size. ``range``: the corrected 2.5th-97.5th percentiles of r over the splits (how
much the estimate depends on the split, not a confidence interval of the population value).

**Leave-one-out agreement** (per rater): Pearson r between a rater's ratings and the mean of
all other raters on the same stimuli, per dimension. A rater is *flagged* when the mean of
those r over ``dims`` (default valence and arousal) is below ``threshold``, or undefined
(the rater gave one answer to every picture, or shared fewer than 3 stimuli with others).
``qdemo validate`` reports the flags; ``qdemo regressor adapt`` and ``qdemo stimuli export``
leave flagged raters out with ``--exclude-flagged`` and say how many.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from qdemo.errors import DataError
from qdemo.web.ratings import DIMS, RatingStore

FLAG_THRESHOLD = 0.2
"""Default: flag a rater whose mean leave-one-out r (valence, arousal) is below this."""
FLAG_DIMS = ("valence", "arousal")
"""Default dimensions whose leave-one-out r decides a flag."""
N_SPLITS = 200
"""Random rater splits averaged in the split-half reliability."""


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or x[ok].std() < 1e-12 or y[ok].std() < 1e-12:
        return None
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def rating_matrix(ratings: Iterable[dict[str, Any]]) -> tuple[list[str], list[str], np.ndarray]:
    """(raters, stimuli, R (n_raters, n_stimuli, 3) SAM 1-9 with NaN where not rated)."""
    rows = list(ratings)
    raters = sorted({r["participant"] for r in rows})
    stimuli = sorted({r["stimulus_id"] for r in rows})
    ri = {p: i for i, p in enumerate(raters)}
    si = {s: i for i, s in enumerate(stimuli)}
    R = np.full((len(raters), len(stimuli), len(DIMS)), np.nan)
    for r in rows:
        R[ri[r["participant"]], si[r["stimulus_id"]]] = [float(r[d]) for d in DIMS]
    return raters, stimuli, R


def spearman_brown(r: float) -> float:
    """Reliability of the full panel from the correlation of its two halves: 2r / (1 + r)."""
    return 2.0 * r / (1.0 + r) if r > -1.0 else float("nan")


def _split_half_one(R: np.ndarray, d: int, rng: np.random.Generator, n_splits: int) -> dict[str, Any]:
    """Split-half reliability of dimension ``d`` over the stimuli (columns) of ``R``."""
    n_raters = R.shape[0]
    out: dict[str, Any] = {"n_raters": int(n_raters), "n_stimuli": int(np.isfinite(R[:, :, d]).any(0).sum()),
                           "r_half": None, "spearman_brown": None, "range": None, "n_splits": 0}
    if n_raters < 2 or out["n_stimuli"] < 3:
        return out
    rs = []
    with np.errstate(invalid="ignore"):
        for _ in range(n_splits):
            perm = rng.permutation(n_raters)
            a, b = perm[: n_raters // 2], perm[n_raters // 2:]
            ma, mb = np.nanmean(R[a, :, d], axis=0), np.nanmean(R[b, :, d], axis=0)  # (n_stimuli,)
            r = _pearson(ma, mb)
            if r is not None:
                rs.append(r)
    if not rs:
        return out
    rs = np.clip(np.asarray(rs), -0.999999, 0.999999)
    r_mean = float(np.tanh(np.arctanh(rs).mean()))  # averaged as Fisher z, then corrected once
    out.update({"r_half": r_mean, "spearman_brown": spearman_brown(r_mean),
                "range": [spearman_brown(float(np.percentile(rs, 2.5))), spearman_brown(float(np.percentile(rs, 97.5)))],
                "n_splits": int(len(rs))})
    return out


def split_half(ratings: Iterable[dict[str, Any]], sources: dict[str, str] | None = None, *,
               n_splits: int = N_SPLITS, seed: int = 0) -> dict[str, dict[str, dict[str, Any]]]:
    """``{source or 'all': {dim: {r_half, spearman_brown, range, n_raters, n_stimuli, n_splits}}}``.

    ``sources`` maps stimulus ids to their source (``elite``, ``generator``, ``photo``; from
    the study key); without it only ``all`` is reported. Values are None where fewer than 2
    raters or 3 stimuli make a split meaningless."""
    raters, stimuli, R = rating_matrix(ratings)
    groups: dict[str, list[int]] = {}
    if sources:
        for j, s in enumerate(stimuli):
            groups.setdefault(sources.get(s, "unknown"), []).append(j)
    groups["all"] = list(range(len(stimuli)))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, cols in groups.items():
        rng = np.random.default_rng(seed)  # the same splits for every source and dimension
        out[name] = {d: _split_half_one(R[:, cols], k, np.random.default_rng(rng.integers(1 << 31)), n_splits)
                     for k, d in enumerate(DIMS)}
    return out


def leave_one_out(ratings: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per rater: ``{"n": stimuli rated, "r": {dim: r with the others' mean or None}}``."""
    raters, _, R = rating_matrix(ratings)
    out = {}
    with np.errstate(invalid="ignore"):
        total = np.nansum(R, axis=0)  # (n_stimuli, 3)
        count = np.isfinite(R).sum(axis=0)  # (n_stimuli, 3)
        for i, p in enumerate(raters):
            mine = R[i]
            has = np.isfinite(mine)
            others = np.where(count - has > 0, (total - np.where(has, mine, 0.0)) / (count - has), np.nan)
            out[p] = {"n": int(has[:, 0].sum()),
                      "r": {d: _pearson(mine[:, k], others[:, k]) for k, d in enumerate(DIMS)}}
    return out


def rater_quality(ratings: Iterable[dict[str, Any]], *, threshold: float = FLAG_THRESHOLD,
                  dims: Sequence[str] = FLAG_DIMS) -> dict[str, Any]:
    """Leave-one-out agreement of every rater and the flags (see the module docstring)."""
    bad = [d for d in dims if d not in DIMS]
    if bad or not dims:
        raise ValueError(f"flag dims must be among {', '.join(DIMS)}; got {list(dims)}")
    loo = leave_one_out(ratings)
    raters = {}
    for p, q in loo.items():
        rs = [q["r"][d] for d in dims]
        mean_r = None if any(r is None for r in rs) else float(np.mean(rs))
        if mean_r is None:
            reason = "agreement undefined (one answer to every picture, or fewer than 3 shared stimuli)"
        elif mean_r < threshold:
            reason = f"mean leave-one-out r {mean_r:.2f} < {threshold:g}"
        else:
            reason = ""
        raters[p] = {**q, "mean_r": mean_r, "flagged": bool(reason), "reason": reason}
    flagged = sorted(p for p, q in raters.items() if q["flagged"])
    return {"threshold": float(threshold), "dims": list(dims), "n_raters": len(raters), "n_flagged": len(flagged),
            "flagged": flagged, "raters": raters}


def exclude(ratings: Iterable[dict[str, Any]], participants: Iterable[str]) -> list[dict[str, Any]]:
    """The ratings of everyone but ``participants``."""
    drop = set(participants)
    return [r for r in ratings if r["participant"] not in drop]


@dataclass
class DbRatings:
    """The ratings of a database, checked, with the raters left out on request."""

    ratings: list[dict[str, Any]]
    """Rows of the raters kept (participant, stimulus_id, valence, arousal, dominance, ...)."""
    meta: dict[str, str]
    """The database's study metadata (stimuli_dir, stimulus_set, n_stimuli, seed)."""
    quality: dict[str, Any]
    """:func:`rater_quality` over every rater (before exclusion)."""
    excluded: list[str]
    """Raters left out (flagged, with ``exclude_flagged``)."""

    @property
    def n_raters(self) -> int:
        return len({r["participant"] for r in self.ratings})


def read_db_ratings(db: str | os.PathLike, *, exclude_flagged: bool = False, threshold: float = FLAG_THRESHOLD,
                    dims: Sequence[str] = FLAG_DIMS) -> DbRatings:
    """Every rating of ``db``; DataError naming the file when it has none or holds a value outside
    1-9 (a hand-edited database); flagged raters dropped with ``exclude_flagged``."""
    store = RatingStore(db, create=False)
    try:
        rows, meta = store.all_ratings(), store.meta()
    finally:
        store.close()
    if not rows:
        raise DataError(f"{db}: no ratings in this database (nothing to use yet)")
    for r in rows:
        for d in DIMS:
            v = r.get(d)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 1 <= v <= 9 or v != int(v):
                raise DataError(f"{db}: rating of {d} = {v!r} by {r['participant']} for {r['stimulus_id']} is "
                                f"outside the SAM scale 1-9 (whole points)")
    quality = rater_quality(rows, threshold=threshold, dims=dims)
    excluded = list(quality["flagged"]) if exclude_flagged else []
    kept = exclude(rows, excluded)
    if not kept:
        raise DataError(f"{db}: every rater is flagged (threshold {threshold:g}); nothing left with --exclude-flagged")
    return DbRatings(kept, meta, quality, excluded)


def stimulus_means(ratings: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per stimulus: ``mean`` / ``sd`` over raters on the canonical scale ((x - 5) / 4; sd NaN with
    one rater), the same on SAM 1-9 (``mean_sam`` / ``sd_sam``) and ``n_raters``."""
    by: dict[str, list[list[float]]] = {}
    for r in ratings:
        by.setdefault(r["stimulus_id"], []).append([float(r[d]) for d in DIMS])
    out = {}
    for sid, rows in by.items():
        sam = np.asarray(rows)  # (n_raters, 3) on 1-9
        sd = sam.std(axis=0, ddof=1) if len(sam) > 1 else np.full(len(DIMS), np.nan)
        out[sid] = {"mean_sam": sam.mean(axis=0).tolist(), "sd_sam": sd.tolist(),
                    "mean": ((sam.mean(axis=0) - 5.0) / 4.0).tolist(), "sd": (sd / 4.0).tolist(),
                    "n_raters": len(sam)}
    return out


@dataclass
class Study:
    """A rating database with its stimulus folder: what adapting and exporting read."""

    db: DbRatings
    stimuli: dict[str, Any]
    """Stimulus id -> :class:`~qdemo.web.ratings.Stimulus` (its image path)."""
    means: dict[str, dict[str, Any]]
    """:func:`stimulus_means` of the raters kept."""
    folder: Path
    """The stimulus folder."""
    db_path: Path
    """The database file."""


def read_study(db: str | os.PathLike, *, exclude_flagged: bool = False, threshold: float = FLAG_THRESHOLD) -> Study:
    """The database's ratings, its stimulus folder (recorded in the database) and the mean rating
    per stimulus; DataError naming the file when the folder is gone, holds another stimulus set
    than the ratings, or lacks a rated stimulus."""
    from qdemo.web.ratings import load_stimuli, stimulus_fingerprint

    got = read_db_ratings(db, exclude_flagged=exclude_flagged, threshold=threshold)
    folder = got.meta.get("stimuli_dir")
    if not folder:
        raise DataError(f"{db}: no stimulus folder recorded (not a database of `qdemo rate`)")
    stimuli = {s.id: s for s in load_stimuli(folder)}
    if got.meta.get("stimulus_set") and stimulus_fingerprint(list(stimuli)) != got.meta["stimulus_set"]:
        raise DataError(f"{db}: its ratings belong to another stimulus set than the one now in {folder}")
    means = stimulus_means(got.ratings)
    missing = sorted(set(means) - set(stimuli))
    if missing:
        raise DataError(f"{db}: rated stimuli {', '.join(missing[:3])} are not in {folder}")
    return Study(got, stimuli, means, Path(folder), Path(db))


def format_quality(rel: dict[str, dict[str, dict[str, Any]]], quality: dict[str, Any]) -> str:
    """The printed table of ``qdemo validate``: reliability per source and dimension, then the flags."""
    def num(x: float | None, fmt: str = "{:.2f}") -> str:
        return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt.format(x)

    lines = ["split-half reliability (Spearman-Brown corrected; mean over random rater splits):",
             f"{'source':<10} {'dim':<10} {'raters':>6} {'stimuli':>7} {'r_half':>7} {'SB':>6}  2.5-97.5%"]
    for src, per in rel.items():
        for d, e in per.items():
            rng = "" if e["range"] is None else f"{e['range'][0]:.2f}-{e['range'][1]:.2f}"
            lines.append(f"{src:<10} {d:<10} {e['n_raters']:>6} {e['n_stimuli']:>7} {num(e['r_half']):>7} "
                         f"{num(e['spearman_brown']):>6}  {rng}")
    lines.append(f"raters: {quality['n_raters']}, flagged {quality['n_flagged']} (mean leave-one-out r over "
                 f"{', '.join(quality['dims'])} < {quality['threshold']:g})")
    for p in quality["flagged"]:
        q = quality["raters"][p]
        lines.append(f"  flagged {p}: {q['reason']} (" + ", ".join(
            f"{d} {num(r)}" for d, r in q["r"].items()) + f"; {q['n']} stimuli)")
    return "\n".join(lines)


__all__ = ["DbRatings", "FLAG_DIMS", "FLAG_THRESHOLD", "N_SPLITS", "exclude", "format_quality", "leave_one_out", "rater_quality",
           "rating_matrix", "read_db_ratings", "read_study", "spearman_brown", "split_half", "stimulus_means", "Study"]
