"""Ray: a worker killed mid-run is retried and the comparison still completes with all results."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

pytest.importorskip("ray")


@pytest.mark.slow
def test_worker_killed_mid_run_is_retried(tmp_path, archive_factory, tiny_compare_config):
    import ray

    from qdemo.compare import run_compare
    from qdemo.compare.elites_vs_samples import compare_chunk

    a, b = archive_factory("run_a", n=4, seed=0), archive_factory("run_b", n=3, seed=1)
    marker = tmp_path / "crashed-once"

    def crash_first_attempt(*args):
        # The first task to start kills its worker process outright (no exception, no cleanup).
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)
        return compare_chunk(*args)

    out = tmp_path / "cmp"
    try:
        summary = run_compare([a, b], tiny_compare_config, out, backend="ray", num_cpus=2,
                              task_fn=crash_first_attempt, progress=False)
    finally:
        ray.shutdown()
    assert marker.exists()  # a worker really died
    with open(out / "cells.csv", newline="") as f:
        cells = list(csv.DictReader(f))
    assert len(cells) == 7  # every cell of both archives is there
    assert summary["archives"]["run_a"]["extra"]["cells"] == 4
    assert summary["archives"]["run_b"]["extra"]["cells"] == 3
    assert len(list((out / "cache").glob("*.json"))) == 3  # chunks of 3 cells: 2 + 1
