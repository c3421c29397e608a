"""The lambda_emo sweep as an experiment grid (serial backend here; the same tasks run on Ray)."""

from __future__ import annotations

import csv

import pytest


def test_lambda_sweep_tiny(tmp_path, photo_dir):
    from qdemo.compare.experiments import run_lambda_sweep

    overrides = {"photos": [str(photo_dir)], "resolution": 16, "z_dim": 8, "g_channels": 4, "d_channels": 4,
                 "embed_dim": 8, "batch_size": 4, "steps": 2, "searcher": "tiny", "cache_dir": str(tmp_path / "c"),
                 "sample_every": 10, "checkpoint_every": 10}
    out = tmp_path / "sweep"
    table = run_lambda_sweep(None, out, lambdas=[0, 50], seeds=[0], overrides=overrides, critic="tiny:1",
                             targets_per_axis=2, per_target=2, backend="serial", progress=False)
    with open(out / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["lambda_emo"]) for r in rows] == [0.0, 50.0]
    for r in rows:
        assert int(r["steps"]) == 2 and 0 <= float(r["critic_error_va"]) <= 2
        assert float(r["realism_fid"]) >= 0
    assert (out / "runs" / "lam50_seed0" / "generator.safetensors").exists()
    assert "| lambda_emo |" in table and (out / "sweep.md").exists()

    def must_not_run(*args):
        raise AssertionError("recomputed")

    run_lambda_sweep(None, out, lambdas=[0, 50], seeds=[0], overrides=overrides, critic="tiny:1",
                     targets_per_axis=2, per_target=2, backend="serial", progress=False, task_fn=must_not_run)
