"""The explorer: every emitter fills cells, outputs follow docs/formats.md, resume is exact."""

from __future__ import annotations

import json
import os
import pickle
import signal

import numpy as np
import pandas as pd
import pytest

from qdemo.config import load_config
from qdemo.emotion import TinyEmotionModel
from qdemo.errors import CheckpointError, ConfigError, QdemoError
from qdemo.qd import EMITTERS, EvolveConfig, Explorer, RunInterrupted
from qdemo.qd.checkpoint import MAGIC


def tiny_cfg(tmp_path, **over) -> EvolveConfig:
    base = {"iterations": 4, "batch_size": 8, "num_emitters": 2, "searcher": "tiny", "critic": "tiny:1",
            "renderer.name": "pixels", "renderer.resolution": 16, "grid.cells": [4, 4, 3], "out_root": str(tmp_path),
            "checkpoint_every": 2, "device": "cpu"}
    base["emitter.num_emitters"] = base.pop("num_emitters")
    base.update(over)
    return load_config(EvolveConfig, None, base)


@pytest.mark.parametrize("emitter", EMITTERS)
def test_each_emitter_runs_and_fills_cells(tmp_path, emitter):
    cfg = tiny_cfg(tmp_path, **{"emitter.name": emitter})
    ex = Explorer(cfg)
    rows = [ex.ask_tell_step() for _ in range(3)]
    assert rows[-1]["num_elites"] >= 3
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    extra = sum(k in ("cma-mega", "cma-maega") for k in cfg.emitter.kinds())  # gradient points
    assert rows[-1]["evaluations"] == 3 * (cfg.batch_size + extra)
    assert 0 < rows[-1]["best"] <= 100
    el = ex.elites()
    assert np.all((el["objective"] >= 0) & (el["objective"] <= 100))


def test_random_baseline_ignores_the_archive(tmp_path):
    cfg = tiny_cfg(tmp_path, **{"emitter.name": "random", "emitter.sigma": 0.01, "batch_size": 64})
    ex = Explorer(cfg)
    ex.ask_tell_step()
    sols = ex.scheduler.ask()  # archive is non-empty now, yet samples stay around x0
    assert np.abs(sols - ex.x0).max() < 0.1
    assert np.abs(sols - ex.x0).max() > 0  # but they are random


def test_run_writes_the_run_folder(tmp_path):
    cfg = tiny_cfg(tmp_path, **{"emitter.name": "map-elites", "name": "run1"})
    res = Explorer(cfg).run(progress=False)
    out = tmp_path / "run1"
    assert res.out_dir == out and res.status == "complete"
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["seed"] == 0
    assert man["grid"] == {"name": "vad", "dims": ["valence", "arousal", "dominance"], "cells": [4, 4, 3],
                           "ranges": [[-1.0, 1.0]] * 3}
    assert man["renderer"]["name"] == "pixels" and man["renderer"]["resolution"] == 16
    for role in ("searcher", "critic"):
        assert len(man["models"][role]["sha256"]) == 64
    assert man["models"]["searcher"]["sha256"] != man["models"]["critic"]["sha256"]
    m = man["metrics"]
    assert set(m) >= {"qd_score", "qd_score_normalised", "coverage", "best", "evaluations", "critic_confirmed",
                      "critic_within_one_cell", "dataset_coverage"}
    assert m["evaluations"] == 4 * 8 and m["dataset_coverage"] is None
    df = pd.read_csv(out / "archive.csv")
    assert list(df.columns) == ["index", "cell_v", "cell_a", "cell_d", "objective", "valence", "arousal",
                                "dominance", "valence_sd", "arousal_sd", "dominance_sd", "critic_valence",
                                "critic_arousal", "critic_dominance", "critic_same_cell", "critic_within_one",
                                "image"]
    assert len(df) == round(m["coverage"] * 48) and df["index"].is_unique
    assert m["qd_score"] == pytest.approx(df["objective"].sum(), rel=1e-5)
    assert m["critic_confirmed"] == pytest.approx(df["critic_same_cell"].mean())
    assert m["critic_within_one_cell"] == pytest.approx(df["critic_within_one"].mean())
    assert (df["critic_within_one"] >= df["critic_same_cell"]).all()
    # cell coordinates agree with the flat index and with the searcher's measures
    assert (df["index"] == df["cell_v"] * 12 + df["cell_a"] * 3 + df["cell_d"]).all()
    assert (np.clip(np.floor((df["valence"] + 1) / 2 * 4), 0, 3) == df["cell_v"]).all()
    sols = np.load(out / "solutions.npy")
    assert sols.shape == (len(df), 192)
    for img in df["image"]:
        assert (out / img).exists()
    mt = pd.read_csv(out / "metrics.csv")
    assert list(mt["iteration"]) == [1, 2, 3, 4] and mt["coverage"].is_monotonic_increasing
    assert (out / "config.yaml").exists() and (out / "checkpoint" / "state.bin").exists()


def test_va_grid_and_cvt_archive(tmp_path):
    res = Explorer(tiny_cfg(tmp_path, **{"grid.name": "va", "name": "va"})).run(progress=False)
    df = pd.read_csv(res.out_dir / "archive.csv")
    assert "cell_d" not in df.columns and "dominance" in df.columns
    assert json.loads((res.out_dir / "manifest.json").read_text())["grid"]["cells"] == [4, 4]
    res = Explorer(tiny_cfg(tmp_path, **{"grid.name": "cvt", "grid.cvt_cells": 20, "grid.cvt_samples": 500,
                                        "name": "cvt"})).run(progress=False)
    df = pd.read_csv(res.out_dir / "archive.csv")
    assert len(df) > 0 and "cell_v" not in df.columns


def _archive_table(out):
    df = pd.read_csv(out / "archive.csv")
    return df.drop(columns=["image"]), np.load(out / "solutions.npy")


@pytest.mark.parametrize("emitter", ["cma-mae", "cma-mega", "bandit", "hybrid"])
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, emitter, monkeypatch):
    over = {"emitter.name": emitter, "iterations": 6, "checkpoint_every": 4,
            "emitter.hybrid_pool": ["cma-maega", "map-elites"]}
    full = Explorer(tiny_cfg(tmp_path, name="full", **over)).run(progress=False)

    ex = Explorer(tiny_cfg(tmp_path, name="cut", **over))
    step = ex.ask_tell_step

    def step_then_signal():
        row = step()
        if row["iteration"] == 3:  # between checkpoints: the signal handler must save
            os.kill(os.getpid(), signal.SIGTERM)
        return row

    monkeypatch.setattr(ex, "ask_tell_step", step_then_signal)
    with pytest.raises(RunInterrupted) as exc:
        ex.run(progress=False)
    assert exc.value.exit_code == 143 and "--resume" in str(exc.value)
    cut = tmp_path / "cut"
    assert json.loads((cut / "manifest.json").read_text())["status"] == "interrupted"
    assert json.loads((cut / "checkpoint" / "meta.json").read_text())["iteration"] == 3
    assert len(pd.read_csv(cut / "metrics.csv")) == 3

    res = Explorer(tiny_cfg(tmp_path, name="cut", **over)).run(progress=False, resume=True)
    a, sa = _archive_table(full.out_dir)
    b, sb = _archive_table(res.out_dir)
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(sa, sb)
    assert res.metrics["evaluations"] == full.metrics["evaluations"]
    assert pd.read_csv(cut / "metrics.csv")["iteration"].tolist() == list(range(1, 7))


def test_resume_can_extend_iterations(tmp_path):
    Explorer(tiny_cfg(tmp_path, name="ext", iterations=2)).run(progress=False)
    res = Explorer(tiny_cfg(tmp_path, name="ext", iterations=4)).run(progress=False, resume=True)
    assert res.metrics["evaluations"] == 4 * 8


def test_resume_with_other_config_is_refused(tmp_path):
    Explorer(tiny_cfg(tmp_path, name="r")).run(progress=False)
    with pytest.raises(CheckpointError, match="emitter"):
        Explorer(tiny_cfg(tmp_path, name="r", **{"emitter.name": "map-elites"})).run(progress=False, resume=True)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        Explorer(tiny_cfg(tmp_path, name="nothing")).run(progress=False, resume=True)


def test_corrupt_and_foreign_checkpoints_are_refused(tmp_path):
    cfg = tiny_cfg(tmp_path, name="c")
    Explorer(cfg).run(progress=False)
    state = tmp_path / "c" / "checkpoint" / "state.bin"
    good = state.read_bytes()

    state.write_bytes(good[:-50])  # truncated
    with pytest.raises(CheckpointError, match="checksum"):
        Explorer(cfg).run(progress=False, resume=True)

    state.write_bytes(b"\x80\x04garbage")  # not ours
    with pytest.raises(CheckpointError, match="not a qdemo checkpoint"):
        Explorer(cfg).run(progress=False, resume=True)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    import hashlib

    payload = pickle.dumps({"scheduler": Evil()})
    state.write_bytes(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    with pytest.raises(CheckpointError, match="not allowed"):
        Explorer(cfg).run(progress=False, resume=True)
    assert not (tmp_path / "pwned").exists()


def test_existing_run_folder_needs_force(tmp_path):
    cfg = tiny_cfg(tmp_path, name="x", iterations=1)
    Explorer(cfg).run(progress=False)
    before = (tmp_path / "x" / "archive.csv").read_bytes()
    with pytest.raises(QdemoError, match="--force"):
        Explorer(cfg).run(progress=False)
    assert (tmp_path / "x" / "archive.csv").read_bytes() == before  # untouched
    Explorer(tiny_cfg(tmp_path, name="x", iterations=1, seed=5)).run(progress=False, force=True)
    assert json.loads((tmp_path / "x" / "manifest.json").read_text())["seed"] == 5
    # a non-empty folder that is not a run is never deleted, even with force
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(QdemoError, match="not a qdemo run folder"):
        Explorer(tiny_cfg(tmp_path, name="mine", iterations=1)).run(progress=False, force=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_reference_photos_and_unreadable_files(tmp_path, image_dir):
    (image_dir / "broken.jpg").write_bytes(b"not a jpeg")
    cfg = tiny_cfg(tmp_path, name="ref", **{"dataset.path": str(image_dir)})
    with pytest.warns(UserWarning, match="broken.jpg"):
        res = Explorer(cfg).run(progress=False)
    ref = pd.read_csv(res.out_dir / "reference.csv")
    assert len(ref) == 6
    for img in ref["image"]:
        assert (res.out_dir / img).exists()
    cells = ref["index"].nunique()
    assert res.metrics["dataset_coverage"] == pytest.approx(cells / 48)
    assert any("broken.jpg" in n for n in res.notes)


def test_missing_optional_dataset_is_a_note_but_required_is_an_error(tmp_path):
    cfg = tiny_cfg(tmp_path, name="d1", iterations=1, **{"dataset.path": str(tmp_path / "nope"),
                                                          "dataset.required": False})
    res = Explorer(cfg).run(progress=False)
    assert res.metrics["dataset_coverage"] is None and any("not found" in n for n in res.notes)
    cfg = tiny_cfg(tmp_path, name="d2", iterations=1, **{"dataset.path": str(tmp_path / "nope")})
    with pytest.raises(QdemoError, match="nope"):
        Explorer(cfg).run(progress=False)


def test_searcher_and_critic_objects_can_be_passed(tmp_path):
    cfg = tiny_cfg(tmp_path, name="objs", iterations=1, critic="none")
    res = Explorer(cfg, searcher=TinyEmotionModel(seed=4)).run(progress=False)
    assert res.metrics["critic_confirmed"] is None
    res2 = Explorer(tiny_cfg(tmp_path, name="objs2", iterations=1), searcher=TinyEmotionModel(seed=4),
                    critic=TinyEmotionModel(seed=4)).run(progress=False)
    assert res2.metrics["critic_confirmed"] == 1.0  # the critic is the searcher: all confirmed


@pytest.mark.parametrize("over, match", [
    ({"emitter.name": "nsga"}, "valid emitters: random, map-elites"),
    ({"grid.name": "vadx"}, "valid grids"),
    ({"grid.ranges": [[1, -1], [-1, 1], [-1, 1]]}, "impossible range"),
    ({"grid.ranges": [[2, 3], [-1, 1], [-1, 1]]}, "outside the emotion scale"),
    ({"grid.cells": [4, 0, 3]}, ">= 1"),
    ({"batch_size": 7}, "multiple"),
    ({"emitter.name": "hybrid", "emitter.hybrid_pool": ["cma-maega", "bandit"]}, "'bandit' cannot be mixed"),
    ({"emitter.name": "hybrid", "emitter.hybrid_pool": []}, "hybrid_pool is empty"),
])
def test_bad_configs_are_clear_errors(tmp_path, over, match):
    with pytest.raises(ConfigError, match=match):
        Explorer(tiny_cfg(tmp_path, **over))


def test_unknown_renderer_lists_valid_ones(tmp_path):
    with pytest.raises(QdemoError, match="valid renderers") as exc:
        Explorer(tiny_cfg(tmp_path, **{"renderer.name": "svg"}))
    for name in ("pixels", "fourier", "cppn"):
        assert name in str(exc.value)
    with pytest.raises(ConfigError, match="renderer.options"):
        Explorer(tiny_cfg(tmp_path, **{"renderer.options": {"nope": 1}}))


def test_reference_from_a_rated_oasis_set(tmp_path, datasets_dir):
    cfg = tiny_cfg(tmp_path, name="oasis", iterations=1,
                   **{"dataset.path": str(datasets_dir / "oasis"), "dataset.max_images": 12})
    res = Explorer(cfg).run(progress=False)
    ref = pd.read_csv(res.out_dir / "reference.csv")
    assert len(ref) == 12 and ref["human_valence"].between(-1, 1).all() and ref["human_dominance"].isna().all()
    assert 0 < res.metrics["dataset_coverage"] <= 12 / 48


def test_zero_iterations_gives_an_empty_but_valid_run(tmp_path):
    res = Explorer(tiny_cfg(tmp_path, name="zero", iterations=0)).run(progress=False)
    assert res.metrics["coverage"] == 0 and res.metrics["evaluations"] == 0
    assert res.metrics["critic_confirmed"] is None
    df = pd.read_csv(res.out_dir / "archive.csv")
    assert len(df) == 0 and "objective" in df.columns
