"""qdemo compare-categories: an emotions archive beside a VAD grid, with the human means of an
Emotion6-format folder; wrong runs are refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from qdemo.cli import main
from qdemo.compare.categories import compare_categories, human_means
from qdemo.errors import DataError

HEADER = ("[image_filename]\t[valence]\t[arousal]\t[prob. anger]\t[prob. disgust]\t[prob. fear]\t[prob. joy]\t"
          "[prob. sadness]\t[prob. surprise]\t[prob. neutral]")
PHOTOS = [  # folder/file, valence, arousal (1-9), distribution over the 7 emotions
    ("joy/1.jpg", 7.0, 6.0, [0, 0, 0, 0.8, 0, 0.1, 0.1]),
    ("joy/2.jpg", 8.0, 5.0, [0, 0, 0, 0.9, 0, 0, 0.1]),
    ("sadness/1.jpg", 3.0, 4.0, [0, 0, 0, 0, 0.7, 0, 0.3]),
    ("sadness/2.jpg", 2.0, 3.0, [0, 0, 0.1, 0, 0.3, 0, 0.6]),  # raters' top: neutral
    ("anger/1.jpg", 2.0, 8.0, [0.6, 0.2, 0.2, 0, 0, 0, 0]),
]


def _emotion6(root: Path) -> Path:
    lines = [HEADER]
    for rel, v, a, p in PHOTOS:
        (root / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (40, 90, 160)).save(root / "images" / rel)
        lines.append("\t".join([rel, str(v), str(a), *map(str, p)]))
    (root / "ground_truth.txt").write_text("\n".join(lines) + "\n")
    return root


def test_human_means_per_folder_and_per_most_voted_emotion(tmp_path):
    h = human_means(_emotion6(tmp_path / "e6"))
    assert h["joy"]["folder"] == {"n": 2, "valence": pytest.approx(0.625), "arousal": pytest.approx(0.125)}
    assert h["sadness"]["folder"]["n"] == 2 and h["sadness"]["top_voted"]["n"] == 1
    assert h["neutral"]["folder"]["n"] == 0 and h["neutral"]["top_voted"]["valence"] == pytest.approx(-0.75)
    assert h["fear"]["folder"] == {"n": 0, "valence": None, "arousal": None}


def test_compare_categories_writes_the_side_by_side(emotions_run, tiny_evolve_cfg, tiny_dist_model, tmp_path):
    from qdemo.runfolder import run_evolve

    emo = emotions_run("emo")
    vad = run_evolve(tiny_evolve_cfg(**{"renderer.name": "cppn", "iterations": 6, "batch_size": 16, "name": "vad"}),
                     searcher=tiny_dist_model(0), critic=tiny_dist_model(1), progress=False).out_dir
    out = tmp_path / "cmp"
    s = compare_categories(emo, vad, out, emotion6=_emotion6(tmp_path / "e6"))
    for name in ("summary.json", "report.md", "categories.csv", "categories_va.png"):
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "summary.json").read_text())["categorical"] == s["categorical"]
    e, v = pd.read_csv(emo / "archive.csv"), pd.read_csv(vad / "archive.csv")
    assert s["categorical"]["critic_match"] == pytest.approx(e["critic_match"].mean())
    assert s["continuous"]["critic_same_cell"] == pytest.approx(v["critic_same_cell"].mean())
    assert s["continuous"]["critic_within_one"] == pytest.approx(v["critic_within_one"].mean())
    assert s["categorical"]["chance"] == pytest.approx(1 / 7) and s["evaluations"] == [96, 96]
    rows = {r["emotion"]: r for r in s["per_emotion"]}
    for name, sel in e.groupby("emotion"):
        assert rows[name]["elites"] == len(sel)
        assert rows[name]["searcher_valence"] == pytest.approx(sel["valence"].mean())
        assert rows[name]["critic_arousal"] == pytest.approx(sel["critic_arousal"].mean())
    assert rows["joy"]["human_folder_valence"] == pytest.approx(0.625)
    table = pd.read_csv(out / "categories.csv")
    assert list(table["emotion"]) == list(rows)
    near = s["categorical"]["va_nearest_own_human_mean"]["searcher"]
    in_human = e[e["emotion"].isin(["joy", "sadness", "anger"])]
    assert (near is None) == in_human.empty and s["categorical"]["va_nearest_chance"] == pytest.approx(1 / 3)
    report = (out / "report.md").read_text()
    assert "| joy |" in report and "chance" in report and "![both archives" in report


def test_wrong_runs_and_the_command_line(emotions_run, tmp_path, capsys):
    emo = emotions_run("emo")
    with pytest.raises(DataError, match="is an emotions archive; the second run"):
        compare_categories(emo, emo, tmp_path / "x", emotion6=_emotion6(tmp_path / "e6"))
    from qdemo.web.demo import make_demo_archive

    vad = make_demo_archive(tmp_path / "vad", cells=(4, 4, 2), seed=1, reference=0, image_size=8)
    with pytest.raises(DataError, match="not an emotions archive"):
        compare_categories(vad, vad, tmp_path / "x")
    rc = main(["compare-categories", str(emo), str(vad), "--out", str(tmp_path / "c"), "--emotion6",
               str(tmp_path / "e6")])
    out = capsys.readouterr().out
    assert rc == 0 and "categorical: critic's top emotion = slot" in out and "continuous:" in out
    assert (tmp_path / "c" / "report.md").exists()
    with pytest.raises(DataError, match="emotions archive has emotion slots, not VAD cells"):
        from qdemo.compare.archive_io import read_archive

        read_archive(emo)
    assert np.isfinite(pd.read_csv(emo / "archive.csv")["critic_valence"]).all()
