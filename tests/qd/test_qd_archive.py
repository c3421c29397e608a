"""Archive contract (as pyribs' archive_base_test.py), for every grid kind (vad, va, cvt, emotions):
it builds, takes elites with their VAD fields, reports them where the run-folder reader
places them, and the CMA-MAE soft archive follows its threshold rule. Also cell agreement
and coverage, the geometry behind critic confirmation and reference coverage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qdemo.qd.archive import build_archives
from qdemo.qd.config import GRIDS, GridConfig
from qdemo.runfolder import read_run
from qdemo.runfolder.writer import ArchiveTable, write_archive

DIM = 5  # solution size
GRID_CFGS = {
    "vad": GridConfig(name="vad", cells=[4, 3, 2]),
    "va": GridConfig(name="va", cells=[5, 4]),
    "cvt": GridConfig(name="cvt", cvt_cells=12, cvt_samples=400),
    "emotions": GridConfig(name="emotions", slots=["joy", "fear", "anger"], intensity_bands=3),
}
assert set(GRID_CFGS) == set(GRIDS)  # a new grid kind must join the contract


def _add(archive, measures, objective, seed=0):
    """Insert N elites at ``measures`` (N, m) with ``objective`` (N,); VAD fields (and an emotions
    archive's distribution) filled in."""
    n, m = measures.shape
    vad = np.concatenate([measures, np.full((n, 3 - m), 0.3)], axis=1)  # (N, 3)
    sols = np.random.default_rng(seed).normal(size=(n, DIM))
    extra = {"dist": np.full((n, 7), 1 / 7)} if "dist" in archive.field_list else {}
    return archive.add(sols, objective, measures, vad=vad, vad_sd=np.full((n, 3), 0.1), **extra)


def grid_ranges(grid):
    """(m, 2) ranges of the grid's measure space."""
    return np.asarray(grid.space().ranges, dtype=np.float64)


def _points(grid, n, seed, *, overshoot=0.0):
    """(n, m) uniform points over the grid's measure ranges (widened by ``overshoot``, then clipped)."""
    rg = grid_ranges(grid)
    width = rg[:, 1] - rg[:, 0]
    pts = np.random.default_rng(seed).uniform(rg[:, 0] - overshoot * width, rg[:, 1] + overshoot * width,
                                              (n, len(rg)))
    return pts.clip(rg[:, 0], rg[:, 1])


@pytest.fixture(params=sorted(GRID_CFGS))
def grid(request):
    return GRID_CFGS[request.param]


def test_builds_plain_and_soft(grid):
    plain = build_archives(grid.space(), DIM, seed=0)
    assert plain.result is None and plain.report is plain.archive
    soft = build_archives(grid.space(), DIM, learning_rate=0.01, seed=0)
    assert soft.result is not None and soft.report is soft.result
    cells = {"cvt": grid.cvt_cells, "emotions": len(grid.slots) * grid.intensity_bands}.get(
        grid.name, int(np.prod(grid.cells[: grid.measure_dim])))
    for a in (plain.archive, soft.archive, soft.result):
        assert a.solution_dim == DIM and a.cells == cells and len(a) == 0
        np.testing.assert_array_equal(np.stack([a.lower_bounds, a.upper_bounds], 1), grid_ranges(grid))
        assert {"vad", "vad_sd"} <= set(a.field_list)


def test_add_keeps_the_best_per_cell_with_its_fields(grid):
    a = build_archives(grid.space(), DIM, seed=0).archive
    m = grid.measure_dim
    pts = _points(grid, 30, 1)
    obj = np.random.default_rng(1).uniform(0, 100, 30)
    _add(a, pts, obj)
    idx = a.index_of(pts)
    data = a.data()
    assert len(a) == len(np.unique(idx)) == len(data["index"])
    for cell, best in zip(data["index"], data["objective"]):
        assert best == pytest.approx(obj[idx == cell].max())  # elitist: the best of the cell stays
    np.testing.assert_allclose(data["vad"][:, :m], data["measures"])
    assert data["vad"].shape == (len(a), 3) and np.all(data["vad_sd"] == 0.1)


def test_elites_sit_where_the_run_folder_reader_places_them(grid, tmp_path):
    """The writer's cell columns (the space's coords) and the reader's placement agree."""
    space = grid.space()
    a = build_archives(space, DIM, seed=0).archive
    m = grid.measure_dim
    pts = _points(grid, 40, 2, overshoot=0.1)
    _add(a, pts, np.full(40, 50.0))
    data = a.data()
    order = np.argsort(data["index"])
    idx = data["index"][order].astype(np.int64)
    coords = None if grid.name == "cvt" else space.coords(idx)
    if coords is None:
        with pytest.raises(ValueError, match="no grid coordinates"):  # a CVT's cells have none
            space.coords(idx)
    slots = grid.slot_names() if grid.name == "emotions" else []
    write_archive(tmp_path, ArchiveTable(index=idx, cells=coords, objective=data["objective"][order],
                                         vad=data["vad"][order], vad_sd=data["vad_sd"][order],
                                         emotion=[slots[c] for c in coords[:, 0]] if slots else None,
                                         dist=data["dist"][order] if slots else None))
    cells = {"cvt": [grid.cvt_cells], "emotions": [len(slots), grid.intensity_bands]}.get(grid.name, list(grid.cells[:m]))
    (tmp_path / "manifest.json").write_text(json.dumps({"grid": {"name": grid.name, "cells": cells, "slots": slots,
                                                                 "ranges": grid_ranges(grid).tolist()}}))
    run = read_run(tmp_path)
    assert run.indices == idx.tolist()
    measures = data["measures"][order]
    for i in range(run.n):
        assert run.coords[i] == run.grid.locate(list(measures[i]))  # the elite's measures lie in its cell
        if coords is not None:
            assert run.coords[i] == coords[i].tolist() == list(np.unravel_index(idx[i], cells))


def test_soft_archive_threshold_follows_the_learning_rate(grid):
    """CMA-MAE: a cell's threshold moves by alpha toward each accepted objective; a worse
    solution above the threshold replaces the soft elite, while the result archive keeps the best."""
    alpha = 0.1
    arch = build_archives(grid.space(), DIM, learning_rate=alpha, threshold_min=0.0, seed=0)
    pt = np.full((1, grid.measure_dim), 0.1)
    for a in (arch.archive, arch.result):
        _add(a, pt, np.array([50.0]))
    assert arch.archive.data()["threshold"][0] == pytest.approx(alpha * 50.0)
    status = _add(arch.archive, pt, np.array([10.0]), seed=1)["status"]
    _add(arch.result, pt, np.array([10.0]), seed=1)
    assert status[0] > 0  # 10 > threshold 5: accepted, although worse than the elite's 50
    assert arch.archive.data()["threshold"][0] == pytest.approx((1 - alpha) * 5.0 + alpha * 10.0)
    assert arch.archive.data()["objective"][0] == 10.0 and arch.result.data()["objective"][0] == 50.0
    status = _add(arch.archive, pt, np.array([1.0]), seed=2)["status"]
    assert status[0] == 0  # below the threshold: rejected
    plain = build_archives(grid.space(), DIM, learning_rate=1.0, seed=0).archive
    _add(plain, pt, np.array([50.0]))
    _add(plain, pt, np.array([10.0]), seed=1)
    assert plain.data()["objective"][0] == 50.0


def test_cell_agreement_grid():
    space = GridConfig(name="va", cells=[4, 4], ranges=[[-1, 1], [-1, 1]]).space()
    a = build_archives(space, 2).archive
    elites = a.index_of(np.array([[-0.9, -0.9], [0.1, 0.1], [0.1, 0.1]]))
    critic = np.array([[-0.9, -0.9], [0.6, 0.1], [-0.9, 0.9]])  # same, neighbour, far
    same, within = space.agreement(elites, vad=critic)
    assert same.tolist() == [True, False, False]
    assert within.tolist() == [True, True, False]
    idx, cov = space.coverage(np.array([[-0.9, -0.9], [-0.95, -0.95], [0.9, 0.9], [5.0, 5.0]]))
    assert cov == pytest.approx(2 / 16)  # (5, 5) clips into the corner cell of (0.9, 0.9)


def test_cell_agreement_cvt():
    space = GridConfig(name="cvt", cvt_cells=20, cvt_samples=500).space(seed=0)
    a = build_archives(space, 2, seed=0).archive
    pts = np.array([[0.2, 0.3, -0.1], [0.9, 0.9, 0.9]])
    idx = a.index_of(pts)
    same, within = space.agreement(idx, vad=np.array([[0.2, 0.3, -0.1], [-0.9, -0.9, -0.9]]))
    assert same.tolist() == [True, False] and within.tolist() == [True, False]
