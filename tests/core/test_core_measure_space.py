"""Contract of the measure space (qdemo.measure_space.MeasureSpace), for every kind: every point it
places lands in the cell the pyribs archive it builds gives that point (boundaries, points beyond
the ranges, emotion distributions included), and it survives a trip through manifest.json."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdemo import EMOTIONS
from qdemo.errors import DataError
from qdemo.measure_space import KINDS, MeasureSpace
from qdemo.qd.config import GridConfig

CONFIGS = {
    "vad": GridConfig(name="vad", cells=[7, 3, 5], ranges=[[-0.9, 0.8], [-0.7, 0.55], [-0.4, 0.45]]),
    "va": GridConfig(name="va", cells=[10, 6], ranges=[[-0.9, 0.8], [-0.7, 0.55]]),
    "cvt": GridConfig(name="cvt", cvt_cells=30, cvt_samples=600, ranges=[[-0.5, 0.5], [-1, 1], [-0.2, 0.9]]),
    "emotions": GridConfig(name="emotions", slots=["joy", "fear", "anger", "neutral"], intensity_bands=3,
                           intensity_range=[0.2, 0.9]),
    "emotions-1d": GridConfig(name="emotions", slots=["sadness", "surprise"]),
}
assert {c.name for c in CONFIGS.values()} == set(KINDS)  # a new kind of space must join the contract
SPACES = {k: c.space(seed=3) for k, c in CONFIGS.items()}
ARCHIVES = {k: s.build_archive(4, seed=3) for k, s in SPACES.items()}
ROOT = Path(__file__).resolve().parents[2] / "qdemo"

unit = st.floats(0.0, 1.0, allow_nan=False)


def _point(space, fractions, overshoot):
    """A point of the space's measure box from fractions of each range, widened by ``overshoot``."""
    lo, hi = space.bounds()
    return lo - overshoot * (hi - lo) + np.asarray(fractions) * (1 + 2 * overshoot) * (hi - lo)


def _on_edges(space, draws):
    """Points exactly on cell boundaries (where rounding decides the cell)."""
    lo, hi = space.bounds()
    n = np.asarray(space.cells)
    k = np.minimum(np.asarray(draws), n)
    return lo + k * (hi - lo) / n


@pytest.mark.parametrize("kind", sorted(SPACES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_point_lands_in_the_cell_pyribs_gives_it(kind, data):
    space, archive = SPACES[kind], ARCHIVES[kind]
    m = space.ndim
    fr = data.draw(st.lists(st.tuples(*[unit] * m), min_size=1, max_size=12))
    pts = np.stack([_point(space, f, data.draw(st.sampled_from([0.0, 0.2]))) for f in fr])
    if not space.binned:
        edges = data.draw(st.lists(st.tuples(*[st.integers(0, 12)] * m), min_size=1, max_size=6))
        pts = np.concatenate([pts, np.stack([_on_edges(space, e) for e in edges])])
    clipped = space.clip(pts)
    assert np.all(clipped >= space.bounds()[0]) and np.all(clipped <= space.bounds()[1])
    np.testing.assert_array_equal(space.index_of(clipped), archive.index_of(clipped))
    np.testing.assert_array_equal(space.index_of(pts), archive.index_of(pts))  # beyond the ranges too
    if not space.binned:
        np.testing.assert_array_equal(space.coords(space.index_of(pts)), archive.int_to_grid_index(archive.index_of(pts)))
        np.testing.assert_array_equal(space.flat(space.grid_coords(pts)), archive.index_of(pts))
        for p, c in zip(pts, space.grid_coords(pts)):
            assert space.locate(list(p)) == c.tolist()
            assert space.unravel(space.ravel(c)) == c.tolist()


@pytest.mark.parametrize("kind", sorted(SPACES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_reading_is_placed_where_pyribs_puts_its_measures(kind, data):
    """A reading (a model's VAD, or its emotion distribution on an emotions grid) -> measures -> cell."""
    space, archive = SPACES[kind], ARCHIVES[kind]
    n = data.draw(st.integers(1, 10))
    vad = np.asarray(data.draw(st.lists(st.tuples(*[st.floats(-1.3, 1.3)] * 3), min_size=n, max_size=n)))
    raw = np.asarray(data.draw(st.lists(st.tuples(*[st.floats(0.0, 1.0)] * len(EMOTIONS)), min_size=n, max_size=n)))
    dist = (raw + 1e-9) / (raw + 1e-9).sum(axis=1, keepdims=True)
    measures = space.measures(vad=vad, dist=dist)
    assert measures.shape == (n, space.ndim)
    cells = space.place(vad=vad, dist=dist)
    np.testing.assert_array_equal(cells, archive.index_of(measures))
    if space.is_slots:  # the slot is the most probable slot emotion, the band its probability
        slot = space.coords(cells)[:, 0]
        probs = dist[:, space.slot_columns]
        np.testing.assert_array_equal(probs[np.arange(n), slot], probs.max(axis=1))
    else:
        np.testing.assert_array_equal(measures, space.clip(vad[:, :space.ndim]))


@pytest.mark.parametrize("kind", sorted(SPACES))
def test_same_cell_and_neighbours(kind):
    space, archive = SPACES[kind], ARCHIVES[kind]
    rng = np.random.default_rng(0)
    vad = rng.uniform(-1, 1, (40, 3))
    dist = rng.dirichlet(np.ones(len(EMOTIONS)) * 0.3, 40)
    cells = space.place(vad=vad, dist=dist)
    if space.is_slots:  # the same reading: the slot emotion is the critic's top one when it is the overall top
        same, within = space.agreement(cells, dist=dist)
        top_is_slot = np.asarray(space.slot_columns)[space.coords(cells)[:, 0]] == dist.argmax(axis=1)
        np.testing.assert_array_equal(same, top_is_slot)
        assert np.all(within >= same)
        return
    same, within = space.agreement(cells, vad=vad)  # the same reading: always the same cell
    assert same.all() and within.all()
    other = rng.uniform(-1, 1, (40, 3))
    same, within = space.agreement(cells, vad=other)
    theirs = archive.index_of(space.measures(vad=other))
    np.testing.assert_array_equal(same, theirs == cells)
    assert np.all(within >= same)
    if not space.binned:
        a, b = archive.int_to_grid_index(cells), archive.int_to_grid_index(theirs)
        np.testing.assert_array_equal(within, np.abs(a - b).max(axis=1) <= 1)


@pytest.mark.parametrize("kind", sorted(SPACES))
def test_manifest_round_trip(kind):
    space = SPACES[kind]
    text = json.dumps({"grid": space.to_manifest()})
    again = MeasureSpace.from_manifest(json.loads(text))
    assert again == space and again.to_manifest() == space.to_manifest()
    assert again.cell_columns == space.cell_columns and again.size == space.size
    assert [again.axis_label(d) for d in range(again.ndim)] == [space.axis_label(d) for d in range(space.ndim)]
    pts = space.clip(np.random.default_rng(1).uniform(-1, 1, (50, space.ndim)) * 2)
    np.testing.assert_array_equal(again.index_of(pts), space.index_of(pts))  # a CVT's centroids travel too
    assert again.build_archive(2).cells == ARCHIVES[kind].cells


def test_grid_config_and_manifest_agree_on_every_kind():
    assert SPACES["vad"].cell_columns == ("cell_v", "cell_a", "cell_d") and SPACES["va"].ndim == 2
    assert SPACES["emotions"].cell_columns == ("cell_slot", "cell_band")
    assert SPACES["emotions"].dims == ["emotion", "intensity"] and SPACES["emotions-1d"].cells == [2]
    cvt = SPACES["cvt"]
    assert cvt.binned and cvt.cells == [10, 10, 5] and cvt.archive_cells == 30
    assert cvt.to_manifest()["cells"] == [30] and len(cvt.to_manifest()["centroids"]) == 30
    old = {"grid": {k: v for k, v in cvt.to_manifest().items() if k != "centroids"}}  # written before centroids
    with pytest.raises(DataError, match="without centroids"):
        MeasureSpace.from_manifest(old).index_of([[0.0, 0.0, 0.0]])
    with pytest.raises(DataError, match="grid.name must be one of"):
        MeasureSpace.from_manifest({"grid": {"name": "hexagons"}}, "x/manifest.json")


def test_soft_and_result_archives_share_one_cvt():
    """Both CMA-MAE archives of a CVT run are built over the space's one set of centroids."""
    from qdemo.qd.archive import build_archives

    arch = build_archives(CONFIGS["cvt"].space(seed=5), 3, learning_rate=0.01, seed=5)
    np.testing.assert_array_equal(arch.archive.centroids, arch.result.centroids)


HAND_WRITTEN = re.compile(r"ravel_multi_index|unravel_index|int_to_grid_index|grid_to_int_index|\.index_of\(|"
                          r"searchsorted|\(\w*hi - \w*lo\) ?/ ?n\w*\b|- ?\w*lo\) ?/ ?\(\w*hi - \w*lo\)|"
                          r"\(\w+ \+ 1\) / 2 \* \w+")
"""A flat index, pyribs' placement, a cell width or a position scaled into the cells, by hand."""


def test_no_cell_index_is_computed_outside_the_measure_space():
    """grep: placing a point in a cell is the measure space's job (and pyribs' inside it)."""
    found = [f"{p.relative_to(ROOT.parent)}:{i}: {line.strip()}"
             for p in sorted(ROOT.rglob("*.py")) if p.name != "measure_space.py"
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if HAND_WRITTEN.search(line) and not line.lstrip().startswith(("#", "``", "(``"))]
    assert not found, "\n".join(found)
