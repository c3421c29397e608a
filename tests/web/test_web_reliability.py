"""Rater quality: split-half reliability (Spearman-Brown), leave-one-out flags, --exclude-flagged input."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from qdemo.errors import DataError
from qdemo.web import RateApp, RatingStore, run_validate
from qdemo.web.reliability import (leave_one_out, rater_quality, read_db_ratings, spearman_brown, split_half)


def _panel(n_stimuli: int = 30, good: int = 6, noise: float = 0.6, seed: int = 0) -> tuple[list[dict], np.ndarray]:
    """``good`` raters who follow a hidden rule + noise, one random rater, one who always answers 5."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(2, 8, size=(n_stimuli, 3))  # (stimuli, 3) on SAM 1-9
    rows = []
    for p in range(good + 2):
        for s in range(n_stimuli):
            if p < good:
                v = np.clip(np.rint(truth[s] + rng.normal(0, noise, 3)), 1, 9)
            elif p == good:
                v = rng.integers(1, 10, 3)
            else:
                v = np.full(3, 5)
            rows.append({"participant": f"r{p}", "stimulus_id": f"s{s:02d}",
                         **{d: int(x) for d, x in zip(("valence", "arousal", "dominance"), v)}})
    return rows, truth


def test_spearman_brown_formula():
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    assert spearman_brown(1.0) == pytest.approx(1.0)
    assert spearman_brown(0.0) == 0.0


def test_flags_the_random_and_the_straight_liner_only():
    rows, _ = _panel()
    q = rater_quality(rows, threshold=0.3)
    assert q["flagged"] == ["r6", "r7"] and q["n_flagged"] == 2 and q["n_raters"] == 8
    assert "undefined" in q["raters"]["r7"]["reason"]  # always 5: no variance
    assert "< 0.3" in q["raters"]["r6"]["reason"]
    for p in (f"r{i}" for i in range(6)):
        assert q["raters"][p]["mean_r"] > 0.8 and not q["raters"][p]["flagged"]
    # the threshold is the user's: above every good rater's r flags everyone with a defined r too
    assert rater_quality(rows, threshold=0.999)["n_flagged"] == 8
    with pytest.raises(ValueError, match="flag dims"):
        rater_quality(rows, dims=("pleasure",))


def test_leave_one_out_matches_a_hand_computation():
    rows, _ = _panel(n_stimuli=10, good=3)
    loo = leave_one_out(rows)
    mine = np.array([r["valence"] for r in rows if r["participant"] == "r0"], float)
    others = np.array([[r["valence"] for r in rows if r["participant"] == p] for p in ("r1", "r2", "r3", "r4")],
                      float).mean(0)
    assert loo["r0"]["r"]["valence"] == pytest.approx(np.corrcoef(mine, others)[0, 1])
    assert loo["r4"]["r"]["valence"] is None and loo["r0"]["n"] == 10


def test_split_half_reliability_per_source_and_dimension():
    rows, _ = _panel()
    good = [r for r in rows if r["participant"] not in ("r6", "r7")]
    sources = {f"s{s:02d}": ("elite" if s % 2 else "photo") for s in range(30)}
    rel = split_half(good, sources, n_splits=50)
    assert set(rel) == {"elite", "photo", "all"}
    for src in rel:
        for d, e in rel[src].items():
            assert e["n_raters"] == 6 and e["spearman_brown"] > 0.9 and e["spearman_brown"] >= e["r_half"]
            lo, hi = e["range"]
            assert lo <= e["spearman_brown"] <= hi
    assert rel["elite"]["valence"]["n_stimuli"] == 15 and rel["all"]["valence"]["n_stimuli"] == 30
    # pure noise raters: reliability near zero
    rng = np.random.default_rng(0)
    noise = [{**r, "valence": int(rng.integers(1, 10))} for r in good]
    assert abs(split_half(noise, n_splits=50)["all"]["valence"]["spearman_brown"]) < 0.2
    # one rater: nothing to split
    one = [r for r in good if r["participant"] == "r0"]
    assert split_half(one)["all"]["valence"]["spearman_brown"] is None


def _store(db: Path, stim_dir: Path, rows: list[dict]) -> None:
    app = RateApp(stim_dir, db)
    app.close()
    store = RatingStore(db)
    for r in rows:
        store.session(r["participant"], app.ids, 0)
        store.rate(r["participant"], r["stimulus_id"], 0, {d: r[d] for d in ("valence", "arousal", "dominance")})
    store.close()


def test_db_ratings_exclude_flagged_and_bad_databases(stim_dir: Path, tmp_path: Path):
    ids = [f"s{i:04d}" for i in range(6)]
    rng = np.random.default_rng(3)
    truth = rng.uniform(2, 8, (6, 3))
    rows = [{"participant": f"p{p}", "stimulus_id": sid,
             **{d: int(np.clip(np.rint(truth[i, k] + (rng.normal(0, 0.5) if p < 4 else 0)), 1, 9)) if p < 4 else 5
                for k, d in enumerate(("valence", "arousal", "dominance"))}}
            for p in range(5) for i, sid in enumerate(ids)]
    db = tmp_path / "r.sqlite"
    _store(db, stim_dir, rows)
    kept = read_db_ratings(db)
    assert kept.n_raters == 5 and kept.excluded == [] and kept.quality["flagged"] == ["p4"]
    ex = read_db_ratings(db, exclude_flagged=True)
    assert ex.excluded == ["p4"] and ex.n_raters == 4 and len(ex.ratings) == 24
    assert ex.meta["n_stimuli"] == "6"

    empty = tmp_path / "empty.sqlite"
    RateApp(stim_dir, empty).close()
    with pytest.raises(DataError, match=r"empty\.sqlite: no ratings"):
        read_db_ratings(empty)
    # a hand-made database without the CHECK constraint, holding a 12
    bad = tmp_path / "bad.sqlite"
    con = sqlite3.connect(bad)
    con.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                      "CREATE TABLE ratings (participant TEXT, stimulus_id TEXT, position INTEGER, valence INTEGER,"
                      " arousal INTEGER, dominance INTEGER, rt_ms REAL, created TEXT, updated TEXT, revisions INTEGER);"
                      "INSERT INTO ratings VALUES ('p', 's0000', 0, 12, 5, 5, NULL, '', '', 0);")
    con.commit()
    con.close()
    with pytest.raises(DataError, match=r"bad\.sqlite: rating of valence = 12 .* outside the SAM scale 1-9"):
        read_db_ratings(bad)


def test_validate_reports_reliability_and_writes_raters_csv(stim_dir: Path, tmp_path: Path, capsys):
    rows = []
    rng = np.random.default_rng(0)
    truth = rng.uniform(2, 8, (6, 3))
    for p in range(4):
        for i in range(6):
            rows.append({"participant": f"p{p}", "stimulus_id": f"s{i:04d}",
                         **{d: int(np.clip(np.rint(truth[i, k] + rng.normal(0, 0.4)), 1, 9))
                            for k, d in enumerate(("valence", "arousal", "dominance"))}})
    rows += [{"participant": "lazy", "stimulus_id": f"s{i:04d}", "valence": 5, "arousal": 5, "dominance": 5}
             for i in range(6)]
    db = tmp_path / "r.sqlite"
    _store(db, stim_dir, rows)
    res = run_validate(db, out=tmp_path / "val", flag_below=0.5)
    printed = capsys.readouterr().out
    assert "split-half reliability" in printed and "flagged lazy" in printed
    assert set(res["reliability"]) == {"elite", "generator", "photo", "all"}
    assert res["reliability"]["all"]["valence"]["n_raters"] == 5
    assert res["raters"]["threshold"] == 0.5 and res["raters"]["flagged"] == ["lazy"]
    with open(tmp_path / "val" / "raters.csv", newline="") as f:
        table = {r["participant"]: r for r in csv.DictReader(f)}
    assert table["lazy"]["flagged"] == "1" and table["p0"]["flagged"] == "0" and float(table["p0"]["mean_r"]) > 0.5
    saved = json.loads((tmp_path / "val" / "validate.json").read_text())
    assert saved["raters"]["flagged"] == ["lazy"]
