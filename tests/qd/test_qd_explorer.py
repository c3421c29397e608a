"""The explorer: an ask/tell loop handed its scheduler and scorer; every emitter fills cells.

Running it into a run folder (checkpoints, resume, outputs) is tested in tests/runfolder.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from qdemo.errors import ConfigError, QdemoError
from qdemo.qd import EMITTERS, Explorer, build_search
from qdemo.qd.archive import build_archives
from qdemo.qd.emitters import build_scheduler


@pytest.mark.parametrize("emitter", EMITTERS)
def test_each_emitter_runs_and_fills_cells(tiny_evolve_cfg, emitter):
    cfg = tiny_evolve_cfg(**{"emitter.name": emitter})
    ex = build_search(cfg).explorer
    rows = [ex.step() for _ in range(3)]
    assert rows[-1]["num_elites"] >= 3
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    extra = sum(k in ("cma-mega", "cma-maega") for k in cfg.emitter.kinds())  # gradient points
    assert rows[-1]["evaluations"] == 3 * (cfg.batch_size + extra)
    assert 0 < rows[-1]["best"] <= 100
    assert ex.history == rows
    el = ex.elites()
    assert np.all((el["objective"] >= 0) & (el["objective"] <= 100))
    assert np.all(np.diff(el["index"]) > 0)  # sorted by cell, one elite per cell


def test_random_baseline_ignores_the_archive(tiny_evolve_cfg):
    search = build_search(tiny_evolve_cfg(**{"emitter.name": "random", "emitter.sigma": 0.01, "batch_size": 64}))
    search.explorer.step()
    x0 = search.renderer.initial_solution()
    sols = search.explorer.scheduler.ask()  # archive is non-empty now, yet samples stay around x0
    assert np.abs(sols - x0).max() < 0.1
    assert np.abs(sols - x0).max() > 0  # but they are random


def test_explorer_uses_what_it_is_handed_and_writes_nothing(tiny_evolve_cfg, tmp_path, monkeypatch):
    """An Explorer built by hand from a scheduler, a scorer and archives; it does no file I/O."""
    search = build_search(tiny_evolve_cfg(**{"emitter.name": "map-elites"}))
    cfg = search.config
    archives = build_archives(cfg.grid.space(seed=cfg.seed), search.renderer.solution_dim, seed=3)
    scheduler = build_scheduler(cfg.emitter, archives, search.renderer.initial_solution(), batch_size=8, seed=3)
    ex = Explorer(scheduler, search.scorer, archives)
    assert vars(ex).keys() == {"scheduler", "scorer", "archives", "dqd", "iteration", "evaluations", "wall_s",
                               "history"}
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    row = ex.step()
    assert sorted(tmp_path.rglob("*")) == before
    assert ex.archive is archives.archive and row["num_elites"] == len(archives.archive)
    assert search.scorer.evaluations == 8 == ex.evaluations


def test_state_round_trip_continues_the_same_search(tiny_evolve_cfg):
    """load_state(state()) of a copy continues exactly as the original (what a checkpoint relies on)."""
    a = build_search(tiny_evolve_cfg(**{"emitter.name": "cma-mae"})).explorer
    for _ in range(2):
        a.step()
    b = build_search(tiny_evolve_cfg(**{"emitter.name": "cma-mae"})).explorer
    b.load_state(copy.deepcopy(a.state()))
    assert b.iteration == 2 and b.history == a.history
    ra, rb = a.step(), b.step()
    assert {k: v for k, v in ra.items() if k != "wall_s"} == {k: v for k, v in rb.items() if k != "wall_s"}
    np.testing.assert_array_equal(a.elites()["solution"], b.elites()["solution"])


@pytest.mark.parametrize("over, match", [
    ({"emitter.name": "nsga"}, "valid emitters: random, map-elites"),
    ({"grid.name": "vadx"}, "valid grids"),
    ({"grid.ranges": [[1, -1], [-1, 1], [-1, 1]]}, "impossible range"),
    ({"grid.ranges": [[2, 3], [-1, 1], [-1, 1]]}, "outside the emotion scale"),
    ({"grid.cells": [4, 0, 3]}, ">= 1"),
    ({"batch_size": 7}, "multiple"),
    ({"emitter.name": "hybrid", "emitter.hybrid_pool": ["cma-maega", "bandit"]}, "'bandit' cannot be mixed"),
    ({"emitter.name": "hybrid", "emitter.hybrid_pool": []}, "hybrid_pool is empty"),
    ({"objective.views": ["rotate"]}, "objective.views"),
])
def test_bad_configs_are_clear_errors(tiny_evolve_cfg, over, match):
    with pytest.raises(ConfigError, match=match):
        build_search(tiny_evolve_cfg(**over))


def test_unknown_renderer_lists_valid_ones(tiny_evolve_cfg):
    with pytest.raises(QdemoError, match="valid renderers") as exc:
        build_search(tiny_evolve_cfg(**{"renderer.name": "svg"}))
    for name in ("pixels", "fourier", "cppn"):
        assert name in str(exc.value)
    with pytest.raises(ConfigError, match="renderer.options"):
        build_search(tiny_evolve_cfg(**{"renderer.options": {"nope": 1}}))
