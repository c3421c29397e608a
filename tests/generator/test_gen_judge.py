"""Judge records: what training writes, the one-line warning, --strict, and the spec lookup."""

from __future__ import annotations

import json

import pytest

from qdemo.cli import main
from qdemo.emotion.judge import check_judge, judge_mismatch, judge_of_spec, judge_record, shipped_judge
from qdemo.errors import ConfigError


def test_judge_of_a_spec_matches_the_loaded_model():
    from qdemo.emotion.zoo import describe_model, load_emotion_model

    tiny = load_emotion_model("tiny:2")
    assert judge_of_spec("tiny:2") == judge_record(tiny)
    ship = shipped_judge()
    assert ship["name"].startswith("searcher-") and len(ship["sha256"]) == 64
    model = load_emotion_model("searcher")
    assert ship["sha256"] == describe_model(model, "searcher")["sha256"]  # the key run manifests use


def test_check_judge_warns_once_or_refuses():
    a, b = judge_of_spec("tiny:1"), judge_of_spec("tiny:2")
    assert check_judge(a, a, what="x") is None and judge_mismatch(a, dict(a)) is None
    lines = []
    line = check_judge(a, b, what="G.safetensors: pixels generator", warn=lines.append)
    assert lines == [line] and "\n" not in line and line.startswith("warning: G.safetensors: pixels generator")
    assert "tiny-seed1" in line and "tiny-seed2" in line
    with pytest.raises(ConfigError, match=r"G: trained against tiny-seed1 .* \(--strict refuses"):
        check_judge(a, b, what="G", strict=True)
    assert "records no judge" in judge_mismatch({"name": "old"}, b)


def test_sample_warns_about_a_stale_generator_and_strict_refuses(tmp_path, tiny_generator_path, capsys):
    args = ["generator", "sample", "--vad=0,0,0", "-n", "1", "--generator", str(tiny_generator_path),
            "--searcher", "tiny", "--device", "cpu"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    warnings = [x for x in err.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1 and str(tiny_generator_path) in warnings[0] and "records no judge" in warnings[0]
    assert main(args + ["--out", str(tmp_path / "b"), "--strict"]) == 2
    assert "--strict refuses" in capsys.readouterr().err and not (tmp_path / "b").exists()
    # a generator that records this judge: no warning
    meta_file = tiny_generator_path.with_suffix(".json")
    meta = json.loads(meta_file.read_text())
    meta["judge"] = judge_of_spec("tiny")
    meta_file.write_text(json.dumps(meta))
    assert main(args + ["--out", str(tmp_path / "c"), "--strict"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_sample_generator_names_and_bad_files(tmp_path, capsys):
    rc = main(["generator", "sample", "--vad=0,0,0", "--out", str(tmp_path), "--generator",
               str(tmp_path / "nope.safetensors")])
    assert rc == 2 and "nope.safetensors: generator checkpoint not found" in capsys.readouterr().err
    from qdemo.emotion.zoo import shipped_path

    rc = main(["generator", "sample", "--vad=0,0,0", "--out", str(tmp_path), "--generator",
               str(shipped_path("critic"))])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "critic.safetensors: a qdemo emotion model" in err[0]
