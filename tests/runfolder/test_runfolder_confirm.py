"""confirm_run (``qdemo confirm``): fills only the critic columns, through the run-folder reader and writer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qdemo.emotion import TinyEmotionModel
from qdemo.errors import DataError
from qdemo.runfolder import CRITIC_COLUMNS, FLAG_COLUMNS, run_evolve
from qdemo.runfolder.confirm import confirm_run
from qdemo.tables import read_output_table


@pytest.fixture()
def unconfirmed(tiny_evolve_cfg):
    return run_evolve(tiny_evolve_cfg(name="nc", iterations=2, critic="none"), progress=False).out_dir


def test_confirm_fills_only_the_critic_columns(unconfirmed):
    before = read_output_table(unconfirmed / "archive.csv")
    assert all(v == "" for c in CRITIC_COLUMNS for v in before.column(c))
    metrics = confirm_run(unconfirmed, critic="tiny:1", device="cpu")
    after = read_output_table(unconfirmed / "archive.csv")
    assert after.header == before.header and len(after) == len(before) > 0
    for col in before.header:
        if col in (*CRITIC_COLUMNS, *FLAG_COLUMNS):
            assert all(v != "" for v in after.column(col))
        else:
            assert after.column(col) == before.column(col), col
    same = [int(v) for v in after.column("critic_same_cell")]
    assert metrics["critic_confirmed"] == pytest.approx(np.mean(same))
    man = json.loads((unconfirmed / "manifest.json").read_text())
    assert man["metrics"] == metrics and man["models"]["critic"]["spec"] == "tiny:1"
    # the searcher as its own critic confirms every elite
    assert confirm_run(unconfirmed, critic=TinyEmotionModel(seed=0), device="cpu")["critic_confirmed"] == 1.0


def test_confirm_refuses_solutions_that_do_not_fit(unconfirmed):
    np.save(unconfirmed / "solutions.npy", np.zeros((1, 3), np.float32))
    with pytest.raises(DataError, match="solutions.npy"):
        confirm_run(unconfirmed, critic="tiny:1", device="cpu")
    (unconfirmed / "solutions.npy").unlink()
    with pytest.raises(DataError, match="missing"):
        confirm_run(unconfirmed, critic="tiny:1", device="cpu")


def test_manifest_records_the_machine_a_seed_reproduces_on(unconfirmed):
    """A seed reproduces a run on one machine and thread count: the manifest says which."""
    import torch

    from qdemo.runfolder.manifest import cpu_model

    man = json.loads((unconfirmed / "manifest.json").read_text())
    m = man["machine"]
    assert m["torch_threads"] == torch.get_num_threads() and m["cpu"] == cpu_model() and m["cpu"]
    assert m["device"] == man["device"] == "cpu" and m["cpu_count"] >= 1
