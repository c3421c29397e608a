"""run_evolve: the run folder follows docs/formats.md, resume is exact, bad input is refused."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal

import numpy as np
import pandas as pd
import pytest

from qdemo.emotion import TinyEmotionModel
from qdemo.errors import CheckpointError, QdemoError
from qdemo.qd import build_search
from qdemo.runfolder import RunInterrupted, archive_columns, read_run, run_evolve
from qdemo.runfolder.checkpoint import OLD_STATE, STATE


def test_run_writes_the_run_folder(tiny_evolve_cfg, tmp_path):
    cfg = tiny_evolve_cfg(**{"emitter.name": "map-elites", "name": "run1"})
    res = run_evolve(cfg, progress=False)
    out = tmp_path / "run1"
    assert res.out_dir == out and res.status == "complete"
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["seed"] == 0
    assert man["grid"] == {"name": "vad", "dims": ["valence", "arousal", "dominance"], "cells": [4, 4, 3],
                           "ranges": [[-0.9, 0.8], [-0.7, 0.55], [-0.4, 0.45]]}  # HUMAN_REGION
    assert man["renderer"]["name"] == "pixels" and man["renderer"]["resolution"] == 16
    assert man["objective"].startswith("objective = 100 * agreement^(1/2) * content^(1/2)")
    assert "spectral slope" in man["objective"] and man["views"] == ["identity"]
    for role in ("searcher", "critic"):
        assert len(man["models"][role]["sha256"]) == 64
    assert man["models"]["searcher"]["sha256"] != man["models"]["critic"]["sha256"]
    m = man["metrics"]
    assert set(m) >= {"qd_score", "qd_score_normalised", "coverage", "best", "evaluations", "critic_confirmed",
                      "critic_within_one_cell", "dataset_coverage", "va_cells", "va_cells_filled",
                      "va_cells_confirmed", "near_uniform_elites", "elite_diversity"}
    assert m["va_cells"] == 16 and 0 < m["va_cells_filled"] <= 16
    assert 0 <= m["va_cells_confirmed"] <= m["va_cells_filled"]
    assert 0 <= m["near_uniform_elites"] <= round(m["coverage"] * 48)
    assert m["evaluations"] == 4 * 8 and m["dataset_coverage"] is None
    df = pd.read_csv(out / "archive.csv")
    assert list(df.columns) == archive_columns(3) == [
        "index", "cell_v", "cell_a", "cell_d", "objective", "valence", "arousal", "dominance", "valence_sd",
        "arousal_sd", "dominance_sd", "critic_valence", "critic_arousal", "critic_dominance", "critic_same_cell",
        "critic_within_one", "image"]
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
    run = read_run(out, check_images=True)  # the package's own reader accepts what its writer wrote
    assert run.n == len(df) and run.coords == df[["cell_v", "cell_a", "cell_d"]].values.tolist()
    mt = pd.read_csv(out / "metrics.csv")
    assert list(mt["iteration"]) == [1, 2, 3, 4] and mt["coverage"].is_monotonic_increasing
    assert (out / "config.yaml").exists() and (out / "checkpoint" / "state.npz").exists()


def test_va_grid_and_cvt_archive(tiny_evolve_cfg):
    res = run_evolve(tiny_evolve_cfg(**{"grid.name": "va", "name": "va"}), progress=False)
    df = pd.read_csv(res.out_dir / "archive.csv")
    assert list(df.columns) == archive_columns(2) and "dominance" in df.columns
    assert json.loads((res.out_dir / "manifest.json").read_text())["grid"]["cells"] == [4, 4]
    res = run_evolve(tiny_evolve_cfg(**{"grid.name": "cvt", "grid.cvt_cells": 20, "grid.cvt_samples": 500,
                                        "name": "cvt"}), progress=False)
    df = pd.read_csv(res.out_dir / "archive.csv")
    assert len(df) > 0 and list(df.columns) == archive_columns(0)
    assert read_run(res.out_dir).n == len(df)


def _archive_table(out):
    df = pd.read_csv(out / "archive.csv")
    return df.drop(columns=["image"]), np.load(out / "solutions.npy")


@pytest.mark.parametrize("emitter", ["cma-mae", "cma-mega", "bandit", "hybrid"])
def test_interrupted_and_resumed_run_equals_uninterrupted(tiny_evolve_cfg, tmp_path, emitter):
    over = {"emitter.name": emitter, "iterations": 6, "checkpoint_every": 4,
            "emitter.hybrid_pool": ["cma-maega", "map-elites"]}
    full = run_evolve(tiny_evolve_cfg(name="full", **over), progress=False)

    cfg = tiny_evolve_cfg(name="cut", **over)
    search = build_search(cfg)
    step = search.explorer.step

    def step_then_signal():
        row = step()
        if row["iteration"] == 3:  # between checkpoints: the signal handler must save
            os.kill(os.getpid(), signal.SIGTERM)
        return row

    search.explorer.step = step_then_signal
    with pytest.raises(RunInterrupted) as exc:
        run_evolve(cfg, search=search, progress=False)
    assert exc.value.exit_code == 143 and "--resume" in str(exc.value)
    cut = tmp_path / "cut"
    assert json.loads((cut / "manifest.json").read_text())["status"] == "interrupted"
    assert json.loads((cut / "checkpoint" / "meta.json").read_text())["iteration"] == 3
    assert len(pd.read_csv(cut / "metrics.csv")) == 3

    res = run_evolve(tiny_evolve_cfg(name="cut", **over), progress=False, resume=True)
    a, sa = _archive_table(full.out_dir)
    b, sb = _archive_table(res.out_dir)
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(sa, sb)
    assert res.metrics["evaluations"] == full.metrics["evaluations"]
    assert pd.read_csv(cut / "metrics.csv")["iteration"].tolist() == list(range(1, 7))


def test_resume_can_extend_iterations(tiny_evolve_cfg):
    run_evolve(tiny_evolve_cfg(name="ext", iterations=2), progress=False)
    res = run_evolve(tiny_evolve_cfg(name="ext", iterations=4), progress=False, resume=True)
    assert res.metrics["evaluations"] == 4 * 8


def test_resume_with_other_config_is_refused(tiny_evolve_cfg):
    run_evolve(tiny_evolve_cfg(name="r"), progress=False)
    with pytest.raises(CheckpointError, match="emitter"):
        run_evolve(tiny_evolve_cfg(name="r", **{"emitter.name": "map-elites"}), progress=False, resume=True)
    with pytest.raises(CheckpointError, match="searcher.s weights differ.*calibrated v2.*start a new run"):
        run_evolve(tiny_evolve_cfg(name="r"), searcher=TinyEmotionModel(seed=9), progress=False, resume=True)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        run_evolve(tiny_evolve_cfg(name="nothing"), progress=False, resume=True)


def test_corrupt_and_foreign_checkpoints_are_refused(tiny_evolve_cfg, tmp_path):
    cfg = tiny_evolve_cfg(name="c")
    run_evolve(cfg, progress=False)
    state = tmp_path / "c" / "checkpoint" / STATE
    good = state.read_bytes()

    state.write_bytes(good[:-50])  # truncated
    with pytest.raises(CheckpointError, match=r"state\.npz: not a readable state file"):
        run_evolve(cfg, progress=False, resume=True)

    state.write_bytes(b"\x80\x04garbage")  # not ours
    with pytest.raises(CheckpointError, match="not a readable state file"):
        run_evolve(cfg, progress=False, resume=True)

    # a checkpoint of the old format (a pickle) is never unpickled: one line naming the file
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

    payload = pickle.dumps({"scheduler": Evil()})
    state.unlink()
    old = tmp_path / "c" / "checkpoint" / OLD_STATE
    old.write_bytes(b"QDEMO-CHECKPOINT 1 " + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    with pytest.raises(CheckpointError) as info:
        run_evolve(cfg, progress=False, resume=True)
    assert str(info.value) == (f"{old}: a checkpoint of the old pickle format is not read any more (a pickle can run "
                               "code); start the run again, or finish it with the qdemo version that wrote it")
    assert not (tmp_path / "pwned").exists()


def test_existing_run_folder_needs_force(tiny_evolve_cfg, tmp_path):
    cfg = tiny_evolve_cfg(name="x", iterations=1)
    run_evolve(cfg, progress=False)
    before = (tmp_path / "x" / "archive.csv").read_bytes()
    with pytest.raises(QdemoError, match="--force"):
        run_evolve(cfg, progress=False)
    assert (tmp_path / "x" / "archive.csv").read_bytes() == before  # untouched
    run_evolve(tiny_evolve_cfg(name="x", iterations=1, seed=5), progress=False, force=True)
    assert json.loads((tmp_path / "x" / "manifest.json").read_text())["seed"] == 5
    # a non-empty folder that is not a run is never deleted, even with force
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(QdemoError, match="not a qdemo run folder"):
        run_evolve(tiny_evolve_cfg(name="mine", iterations=1), progress=False, force=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_search_of_another_config_is_refused(tiny_evolve_cfg):
    search = build_search(tiny_evolve_cfg(name="a"))
    with pytest.raises(ValueError, match="another config"):
        run_evolve(tiny_evolve_cfg(name="a"), search=search, progress=False)


def test_reference_photos_and_unreadable_files(tiny_evolve_cfg, image_dir):
    (image_dir / "broken.jpg").write_bytes(b"not a jpeg")
    cfg = tiny_evolve_cfg(name="ref", **{"dataset.path": str(image_dir)})
    with pytest.warns(UserWarning, match="broken.jpg"):
        res = run_evolve(cfg, progress=False)
    ref = pd.read_csv(res.out_dir / "reference.csv")
    assert len(ref) == 6 and ref["human_valence"].isna().all()
    for img in ref["image"]:
        assert (res.out_dir / img).exists()
    cells = ref["index"].nunique()
    assert res.metrics["dataset_coverage"] == pytest.approx(cells / 48)
    assert any("broken.jpg" in n for n in res.notes)


def test_missing_optional_dataset_is_a_note_but_required_is_an_error(tiny_evolve_cfg, tmp_path):
    cfg = tiny_evolve_cfg(name="d1", iterations=1, **{"dataset.path": str(tmp_path / "nope"),
                                                      "dataset.required": False})
    res = run_evolve(cfg, progress=False)
    assert res.metrics["dataset_coverage"] is None and any("not found" in n for n in res.notes)
    cfg = tiny_evolve_cfg(name="d2", iterations=1, **{"dataset.path": str(tmp_path / "nope")})
    with pytest.raises(QdemoError, match="nope"):
        run_evolve(cfg, progress=False)


def test_searcher_and_critic_objects_can_be_passed(tiny_evolve_cfg):
    res = run_evolve(tiny_evolve_cfg(name="objs", iterations=1, critic="none"), searcher=TinyEmotionModel(seed=4),
                     progress=False)
    assert res.metrics["critic_confirmed"] is None
    assert any("critic confirmation skipped" in n for n in res.notes)
    res2 = run_evolve(tiny_evolve_cfg(name="objs2", iterations=1), searcher=TinyEmotionModel(seed=4),
                      critic=TinyEmotionModel(seed=4), progress=False)
    assert res2.metrics["critic_confirmed"] == 1.0  # the critic is the searcher: all confirmed


def test_reference_from_a_rated_oasis_set(tiny_evolve_cfg, datasets_dir):
    cfg = tiny_evolve_cfg(name="oasis", iterations=1,
                          **{"dataset.path": str(datasets_dir / "oasis"), "dataset.max_images": 12})
    res = run_evolve(cfg, progress=False)
    ref = pd.read_csv(res.out_dir / "reference.csv")
    assert len(ref) == 12 and ref["human_valence"].between(-1, 1).all() and ref["human_dominance"].isna().all()
    assert 0 < res.metrics["dataset_coverage"] <= 12 / 48


def test_zero_iterations_gives_an_empty_but_valid_run(tiny_evolve_cfg):
    res = run_evolve(tiny_evolve_cfg(name="zero", iterations=0), progress=False)
    assert res.metrics["coverage"] == 0 and res.metrics["evaluations"] == 0
    assert res.metrics["critic_confirmed"] is None
    df = pd.read_csv(res.out_dir / "archive.csv")
    assert len(df) == 0 and list(df.columns) == archive_columns(3)
    assert read_run(res.out_dir).n == 0
