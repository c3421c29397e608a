"""qdemo export-study: blinded, shuffled stimuli with a complete hidden key."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from qdemo.cli import main
from qdemo.compare.study import KEY_FIELDS


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_export_study(tmp_path, archive_factory, tiny_generator, photo_dir, capsys):
    a = archive_factory("run_a", n=6)
    out = tmp_path / "study"
    rc = main(["export-study", "--archive", str(a), "--generator", str(tiny_generator), "--photos", str(photo_dir),
               "--n-photos", "4", "--size", "32", "--critic", "tiny:1", "--device", "cpu", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    stimuli, key = _rows(out / "stimuli.csv"), _rows(out / "key.csv")
    assert list(key[0]) == KEY_FIELDS
    assert len(stimuli) == len(key) == 6 + 6 + 4
    assert [r["stimulus_id"] for r in stimuli] == [r["stimulus_id"] for r in key]
    assert {r["source"] for r in key} == {"elite", "generator", "photo"}
    assert sum(r["source"] == "photo" for r in key) == 4
    # names say nothing: sNNNN.png, all the same size, no text chunks
    for r in stimuli:
        assert r["file"] == f"stimuli/{r['stimulus_id']}.png" and r["stimulus_id"][0] == "s"
        with Image.open(out / r["file"]) as im:
            assert im.size == (32, 32) and not getattr(im, "text", {})
    # shuffled: sources are not in blocks
    sources = [r["source"] for r in key]
    assert sources != sorted(sources, key=["elite", "generator", "photo"].index)
    # elites and generator samples carry their intended VAD (cell centre); every row a prediction
    for r in key:
        assert all(np.isfinite(float(r[f"predicted_{d}"])) for d in ("valence", "arousal", "dominance"))
        if r["source"] != "photo":
            assert -1 <= float(r["intended_valence"]) <= 1
    # refuses to overwrite an existing set
    rc = main(["export-study", "--archive", str(a), "--no-generator", "--critic", "tiny:1", "--out", str(out)])
    assert rc == 2 and "already holds" in capsys.readouterr().err


def test_export_study_photo_ratings_from_a_rated_set(tmp_path, archive_factory, datasets_dir):
    a = archive_factory("run_a", n=2)
    out = tmp_path / "study"
    rc = main(["export-study", "--archive", str(a), "--no-generator", "--photos", str(datasets_dir / "oasis" / "images"),
               "--n-photos", "3", "--size", "16", "--critic", "tiny:1", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    photos = [r for r in _rows(out / "key.csv") if r["source"] == "photo"]
    assert len(photos) == 3
    for r in photos:  # OASIS has human valence and arousal, no dominance
        assert -1 <= float(r["intended_valence"]) <= 1 and -1 <= float(r["intended_arousal"]) <= 1
        assert r["intended_dominance"] == ""
