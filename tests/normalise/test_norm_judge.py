"""The normaliser records the emotion model D_emo was (its judge), with no machine paths, and
``normalise apply`` warns about (or, --strict, refuses) one trained against another model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from norm_helpers import make_groups, tiny_cfg
from qdemo.cli import main
from qdemo.emotion.judge import judge_of_spec
from qdemo.normalise import collect, run_shine
from qdemo.normalise.train import Trainer


@pytest.fixture()
def shine_dir(tmp_path) -> Path:
    images = collect(make_groups(tmp_path / "g", n_per_group=4, size=16))
    run_shine(images, tmp_path / "shine", tiny_cfg(), backend="serial")
    return tmp_path / "shine"


def test_training_records_the_judge_and_apply_checks_it(shine_dir, tmp_path, capsys):
    pre = tiny_cfg(steps=2)
    pre.train.lambda_emo = 0.0
    Trainer(shine_dir, tmp_path / "pre", pre, progress=False).run()
    cfg = tiny_cfg(steps=2)
    cfg.train.init_from = str(tmp_path / "pre")
    Trainer(shine_dir, tmp_path / "run", cfg, progress=False).run()
    meta = json.loads((tmp_path / "run" / "generator.json").read_text())
    assert meta["info"]["judge"] == judge_of_spec("tiny")
    assert str(tmp_path) not in json.dumps(meta)  # init_from by name, not a machine path
    pre_meta = json.loads((tmp_path / "pre" / "generator.json").read_text())
    assert pre_meta["info"]["judge"] is None  # lambda_emo 0: not trained against any judge

    model = tmp_path / "run" / "generator.safetensors"
    images = make_groups(tmp_path / "imgs", n_per_group=1, size=16)
    base = ["normalise", "apply", "--model", str(model), str(images), "--device", "cpu"]
    assert main(base + ["--out", str(tmp_path / "a"), "--searcher", "tiny"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "b"), "--searcher", "tiny:5"]) == 0
    warn = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]
    assert len(warn) == 1 and "generator.safetensors: normaliser: trained against tiny-seed0" in warn[0]
    assert main(base + ["--out", str(tmp_path / "c"), "--searcher", "tiny:5", "--strict"]) == 2
    assert "--strict refuses" in capsys.readouterr().err and not (tmp_path / "c").exists()
    # a model trained without D_emo is not checked
    pre_model = ["normalise", "apply", "--model", str(tmp_path / "pre" / "generator.safetensors"), str(images),
                 "--device", "cpu", "--strict", "--searcher", "tiny:5", "--out", str(tmp_path / "d")]
    assert main(pre_model) == 0
