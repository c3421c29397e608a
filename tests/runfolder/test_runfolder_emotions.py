"""An emotions run folder: archive.csv with slots, distributions and the critic's emotion;
the manifest's emotions report; re-confirmation; resume; bad input refused before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from qdemo import EMOTIONS
from qdemo.errors import ConfigError, DataError
from qdemo.runfolder import archive_columns, confirm_run, read_run, run_evolve


def test_emotions_run_folder(emotions_run):
    out = emotions_run("emo")
    man = json.loads((out / "manifest.json").read_text())
    assert man["grid"] == {"name": "emotions", "dims": ["emotion"], "cells": [7], "ranges": [[0.0, 7.0]],
                           "slots": list(EMOTIONS)}
    assert man["objective"].startswith("emotions grid: slot = most probable of anger, disgust")
    df = pd.read_csv(out / "archive.csv")
    assert list(df.columns) == archive_columns(1, emotions=True)
    assert {"cell_slot", "emotion", "p_joy", "critic_emotion", "critic_p", "critic_p_slot", "critic_match"} <= set(df)
    assert (df["index"] == df["cell_slot"]).all()
    assert (df["emotion"] == [EMOTIONS[i] for i in df["cell_slot"]]).all()
    dist = df[[f"p_{e}" for e in EMOTIONS]].to_numpy()
    np.testing.assert_allclose(dist.sum(1), 1, atol=1e-4)
    assert (dist.argmax(1) == df["cell_slot"]).all()  # the searcher's top emotion is the slot
    assert (df["objective"] <= 100 * dist.max(1) + 1e-3).all()
    assert (df["critic_match"] == (df["critic_emotion"] == df["emotion"]).astype(int)).all()
    assert (df["critic_same_cell"] == df["critic_match"]).all()  # no bands: same cell = same emotion
    assert (df["critic_within_one"] >= df["critic_same_cell"]).all()
    assert df[["critic_valence", "critic_arousal", "critic_dominance"]].notna().all().all()
    m, e = man["metrics"], man["emotions"]
    assert m["critic_emotion_match"] == pytest.approx(df["critic_match"].mean()) == pytest.approx(e["critic_match"])
    assert m["coverage"] == pytest.approx(len(df) / 7)
    assert e["slots"] == list(EMOTIONS) and e["chance"] == pytest.approx(1 / 7)
    assert e["critic_heldout_accuracy"] is None  # a tiny critic: not a shipped model
    per = e["critic_match_by_slot"]
    assert sum(v["n"] for v in per.values()) == len(df)
    for name, v in per.items():
        rows = df[df["emotion"] == name]
        assert v["n"] == len(rows) and (v["match"] is None if rows.empty else v["match"] == rows["critic_match"].mean())
    run = read_run(out, require=("emotion",))
    assert run.grid.is_slots and run.grid.slots == list(EMOTIONS) and run.coords == [[i] for i in df["index"]]


def test_bands_and_reconfirmation(emotions_run, tiny_dist_model):
    out = emotions_run("bands", **{"grid.intensity_bands": 3, "grid.slots": ["joy", "sadness", "fear"]})
    man = json.loads((out / "manifest.json").read_text())
    assert man["grid"]["cells"] == [3, 3] and man["grid"]["dims"] == ["emotion", "intensity"]
    df = pd.read_csv(out / "archive.csv")
    assert list(df.columns) == archive_columns(2, emotions=True)
    assert (df["index"] == df["cell_slot"] * 3 + df["cell_band"]).all()
    assert (df["critic_same_cell"] <= df["critic_match"]).all()  # same cell = same emotion and band
    before = df.copy()
    metrics = confirm_run(out, critic=tiny_dist_model(2))  # another critic
    after = pd.read_csv(out / "archive.csv")
    assert list(after.columns) == list(before.columns)
    pd.testing.assert_frame_equal(after[["index", "objective", "emotion", "p_joy"]],
                                  before[["index", "objective", "emotion", "p_joy"]])
    assert not after["critic_p"].equals(before["critic_p"])
    assert metrics["critic_emotion_match"] == pytest.approx(after["critic_match"].mean())
    man = json.loads((out / "manifest.json").read_text())
    assert man["emotions"]["critic_match"] == pytest.approx(after["critic_match"].mean())
    assert man["models"]["critic"]["name"] == "tiny-dist-2"


def test_a_critic_without_a_head_is_refused_before_anything_is_written(tiny_evolve_cfg, tiny_dist_model, tmp_path):
    cfg = tiny_evolve_cfg(**{"grid.name": "emotions", "name": "refused"})  # critic: tiny:1, no head
    with pytest.raises(ConfigError, match=r"--critic \(tiny:1\): model 'tiny-seed1' has no emotion-distribution"):
        run_evolve(cfg, searcher=tiny_dist_model(0), progress=False)
    assert not (tmp_path / "refused").exists()
    cfg = tiny_evolve_cfg(**{"grid.name": "emotions", "name": "nocritic", "critic": "none"})
    res = run_evolve(cfg, searcher=tiny_dist_model(0), progress=False)
    man = json.loads((res.out_dir / "manifest.json").read_text())
    assert man["metrics"]["critic_emotion_match"] is None and man["emotions"]["critic_match"] is None
    assert pd.read_csv(res.out_dir / "archive.csv")["critic_emotion"].isna().all()


def test_resume_ends_with_the_uninterrupted_archive(tiny_evolve_cfg, tiny_dist_model):
    over = {"grid.name": "emotions", "emitter.name": "cma-mae", "critic": "none"}
    full = run_evolve(tiny_evolve_cfg(**over, name="full"), searcher=tiny_dist_model(0), progress=False).out_dir
    half = tiny_evolve_cfg(**over, name="half", iterations=2)
    out = run_evolve(half, searcher=tiny_dist_model(0), progress=False).out_dir
    half.iterations = 4
    run_evolve(half, searcher=tiny_dist_model(0), out_dir=out, resume=True, progress=False)
    a, b = pd.read_csv(full / "archive.csv"), pd.read_csv(out / "archive.csv")
    pd.testing.assert_frame_equal(a.drop(columns="image"), b.drop(columns="image"))


def test_reader_refuses_broken_emotions_folders(emotions_run):
    out = emotions_run("broken")
    man = json.loads((out / "manifest.json").read_text())
    for grid, match in (({**man["grid"], "slots": ["joy", "happy"]}, "grid.slots, distinct names"),
                        ({**man["grid"], "cells": [5]}, r"must be \[7\] or \[7, bands\]"),
                        ({**man["grid"], "dims": ["valence"]}, r"must be \['emotion'\]")):
        (out / "manifest.json").write_text(json.dumps({**man, "grid": grid}))
        with pytest.raises(DataError, match=match):
            read_run(out)
    (out / "manifest.json").write_text(json.dumps(man))
    df = pd.read_csv(out / "archive.csv")
    df.drop(columns="cell_slot").to_csv(out / "archive.csv", index=False)
    with pytest.raises(DataError, match="missing column.*'cell_slot'.*places its elites by slot"):
        read_run(out)
