"""The checkpoint file (issue 25): resumes every search exactly, and cannot execute or allocate
on its author's say-so (JSON + .npy members read with allow_pickle=False along a fresh search)."""

from __future__ import annotations

import io
import json
import re
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdemo.errors import CheckpointError
from qdemo.qd import build_search
from qdemo.qd.config import EMITTERS
from qdemo.runfolder.checkpoint import STATE, load_search, save_search
from qdemo.runfolder.statefile import StateFileError, load_state, save_state


def _run(search, steps: int) -> None:
    for _ in range(steps):
        search.explorer.step()


def _same_search(a, b) -> None:
    ea, eb = a.explorer.elites(), b.explorer.elites()
    assert ea.keys() == eb.keys()
    for k in ea:
        np.testing.assert_array_equal(ea[k], eb[k], err_msg=k)
    assert (a.explorer.iteration, a.explorer.evaluations) == (b.explorer.iteration, b.explorer.evaluations)
    assert a.explorer.history[-1]["qd_score"] == b.explorer.history[-1]["qd_score"]


CASES = [(e, "vad") for e in EMITTERS] + [("cma-me", "cvt"), ("map-elites", "va"), ("cma-mae", "cvt")]


@pytest.mark.slow
@pytest.mark.parametrize("emitter, grid", CASES, ids=[f"{e}-{g}" for e, g in CASES])
def test_resumed_search_continues_as_the_uninterrupted_one(tiny_evolve_cfg, tmp_path, emitter, grid):
    over = {"emitter.name": emitter, "grid.name": grid, "grid.cvt_cells": 12, "grid.cvt_samples": 300,
            "emitter.hybrid_pool": ["cma-maega", "map-elites"]}
    straight, cut = build_search(tiny_evolve_cfg(**over)), build_search(tiny_evolve_cfg(**over))
    _run(straight, 4)
    _run(cut, 2)
    save_search(tmp_path, cut)
    resumed = build_search(tiny_evolve_cfg(**over))  # a new process: the search built from the config
    load_search(tmp_path, resumed)
    assert resumed.explorer.iteration == 2
    _run(resumed, 2)
    _same_search(straight, resumed)


class Node:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def _graph(seed: int):
    shared = [1, 2.5, float("nan")]
    child = Node(values=np.arange(6, dtype=np.float32).reshape(2, 3), rng=np.random.default_rng(seed))
    return {"a": child, "b": child, "lists": (shared, shared), "scalars": [np.float64(1.5), np.int32(-3), np.bool_(True)],
            "zero_d": np.array(2.0), "keys": {1: "one", (2, "x"): None}, "fortran": np.asfortranarray(np.eye(3)[:, :2]),
            "pool": np.array([child, None], dtype=object), "dtype": np.dtype("float32"), "module": np}


def test_state_file_round_trip_keeps_values_and_sharing():
    src = _graph(0)
    src["a"].rng.random(5)
    out = load_state(save_state(src), _graph(1), "x")
    assert out["a"] is out["b"] and out["lists"][0] is out["lists"][1] and out["pool"][0] is out["a"]
    assert type(out["a"]) is Node and out["a"] is not src["a"]
    np.testing.assert_array_equal(out["a"].values, src["a"].values)
    assert out["a"].values.dtype == np.float32 and out["a"].values.flags.writeable
    assert out["a"].rng.random() == src["a"].rng.random()  # the generator continues where it stood
    assert out["lists"][0][:2] == [1, 2.5] and np.isnan(out["lists"][0][2])
    assert [type(x) for x in out["scalars"]] == [np.float64, np.int32, np.bool_] and out["scalars"][1] == -3
    assert out["zero_d"].shape == () and out["keys"] == {1: "one", (2, "x"): None}
    np.testing.assert_array_equal(out["fortran"], src["fortran"])
    assert out["dtype"] == np.dtype("float32") and out["module"] is np


def _rewrite(data: bytes, change=None, members: dict[str, tuple[bytes, int]] | None = None) -> bytes:
    """``data`` with state.json changed by ``change(doc)`` and/or members replaced (bytes, compression)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            body, how = src.read(info), zipfile.ZIP_STORED
            if info.filename == "state.json" and change is not None:
                doc = json.loads(body)
                change(doc)
                body = json.dumps(doc).encode()
            if members and info.filename in members:
                body, how = members[info.filename]
            zf.writestr(info.filename, body, compress_type=how)
    return out.getvalue()


def _npy_header(shape, dtype="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _first(node, kind):
    """The first node of ``kind`` in a state.json tree."""
    if isinstance(node, dict):
        if node.get("t") == kind:
            return node
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return None
    for c in children:
        found = _first(c, kind)
        if found is not None:
            return found
    return None


@pytest.fixture()
def saved():
    """(bytes of a state file, a template for it) with objects, arrays and a random generator."""
    src = _graph(0)
    return save_state(src), _graph(1)


def _set(kind, **change):
    def apply(doc):
        _first(doc["state"], kind).update(change)
    return apply


@pytest.mark.parametrize("change, message", [
    (_set("obj", **{"class": "os._wrap_close"}), "names class 'os._wrap_close', this search has .*Node"),
    (_set("same", what="module os"), "names 'module os', this search has dtype <f4"),
    (_set("dict", t="obj", **{"class": "subprocess.Popen", "state": {}}),
     "names class 'subprocess.Popen', this search has builtins.dict"),
    (_set("array", key="missing"), "array member missing"),
    (_set("rng", state={"t": "dict", "id": 999, "items": [["bit_generator", "MT19937"]]}),
     "random generator state refused"),
    (_set("np", dtype="|O"), "malformed np value"),
    (_set("np", dtype="V1000000000"), "malformed np value"),
    (_set("obj", state={}), "Node lacks rng, values"),
    (_set("ref", id=12345), "reference to nothing read yet"),
    (_set("ref", id=[1]), "reference to nothing read yet"),
    (lambda doc: doc["state"]["items"].append(
        [{"t": "tuple", "id": 900, "items": [{"t": "list", "id": 901, "items": []}]}, 1]), "unhashable dict key"),
    (_set("array", id=[1]), "malformed node id"),
    (lambda doc: doc.update(version=99), "not a qdemo-state file of version 1"),
    (lambda doc: doc["state"]["items"].append([{"t": "obj", "id": 777, "class": "x", "state": {}}, 1]),
     "state key: a 'obj' where this search has nothing"),
    (lambda doc: doc["state"]["items"].append(["extra", {"t": "obj", "id": 778, "class": "x", "state": {}}]),
     r"state\['extra'\]: a 'obj' where this search has nothing"),
])
def test_a_tampered_state_file_is_refused(saved, change, message):
    data, template = saved
    with pytest.raises(StateFileError, match=message):
        load_state(_rewrite(data, change), template, "ckpt")


def test_no_allocation_on_the_files_say_so(saved):
    """A member that announces 8 GB, a compressed (zip-bomb) member, an object array, a huge header:
    refused before any of it is allocated (memory stays bounded by the file's own size)."""
    data, template = saved
    key = "arrays/" + _first(json.loads(zipfile.ZipFile(io.BytesIO(data)).read("state.json"))["state"],
                             "array")["key"] + ".npy"
    tracemalloc.start()
    try:
        for member, message in [
            ((_npy_header((10 ** 9,)), zipfile.ZIP_STORED), "does not hold the"),  # 8 GB announced, none there
            ((_npy_header((2, 3)) + b"\0" * 8, zipfile.ZIP_STORED), "does not hold the"),
            ((_npy_header((3,), "|O") + b"\0" * 24, zipfile.ZIP_STORED), "has dtype object"),
            ((_npy_header((10 ** 9,)), zipfile.ZIP_DEFLATED), "compressed"),
            ((b"\x93NUMPY\x01\x00" + b"\xff\xff" + b" " * 100, zipfile.ZIP_STORED), "corrupt|does not hold|header"),
        ]:
            with pytest.raises(StateFileError, match=message):
                load_state(_rewrite(data, members={key: member}), template, "ckpt")
        for junk in (b"{" * 100_000, b'{"format": "qdemo-state", "version": 1, "state": ' + b"9" * 5000 + b"}"):
            doc = _rewrite(data, members={"state.json": (junk, zipfile.ZIP_STORED)})
            with pytest.raises(StateFileError, match="state.json is not valid JSON|nested"):
                load_state(doc, template, "ckpt")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2 ** 20, peak  # nothing near the 8 GB announced
    bomb = _npy_header((10 ** 7,)) + bytes(8 * 10 ** 7)
    small = _rewrite(data, members={key: (bomb, zipfile.ZIP_DEFLATED)})
    assert len(small) < 1_000_000  # 80 MB of zeros in under 1 MB: refused unread
    with pytest.raises(StateFileError, match="compressed"):
        load_state(small, template, "ckpt")


def test_load_search_refuses_a_tampered_checkpoint_and_names_the_file(tiny_evolve_cfg, tmp_path):
    search = build_search(tiny_evolve_cfg(**{"emitter.name": "cma-me"}))
    _run(search, 1)
    path = save_search(tmp_path, search)
    assert path == tmp_path / "checkpoint" / STATE and json.loads((path.parent / "meta.json").read_text())["iteration"] == 1
    assert "state.json" in zipfile.ZipFile(path).namelist()  # plain JSON + .npy members, nothing pickled
    with np.load(path, allow_pickle=False) as npz:
        assert all(name.startswith("arrays/") for name in npz.files if name != "state.json")
    path.write_bytes(_rewrite(path.read_bytes(), _set("obj", **{"class": "builtins.eval"})))
    with pytest.raises(CheckpointError, match="^" + re.escape(f"{path}: state['explorer']") + ".*names class 'builtins.eval'"):
        load_search(tmp_path, build_search(tiny_evolve_cfg(**{"emitter.name": "cma-me"})))


KINDS = ["obj", "same", "ref", "array", "rng", "np", "float", "dict", "list", "tuple", "objarray", "x"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from(["a0", "<f8", "|O", "nan", "module numpy", "builtins.dict"]),
    lambda c: st.lists(c, max_size=3) | st.fixed_dictionaries(  # mostly node-shaped: {"t": kind, ...}
        {"t": st.sampled_from(KINDS)},
        optional={k: c for k in ("id", "items", "key", "class", "state", "what", "v", "dtype", "shape")}),
    max_leaves=10)


def _nodes(tree) -> list[dict]:
    """Every node (a dict with a "t") of a state.json tree, depth first."""
    out, todo = [], [tree]
    while todo:
        x = todo.pop()
        if isinstance(x, dict):
            out += [x] if "t" in x else []
            todo += list(x.values())
        elif isinstance(x, list):
            todo += x
    return out


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), pick=st.integers(0, 10 ** 6), how=st.sampled_from(["retag", "set", "drop", "replace"]),
       tag=st.sampled_from(KINDS), key=st.sampled_from(["t", "id", "items", "key", "class", "state", "what", "v",
                                                         "dtype", "shape"]), value=JSON)
def test_any_change_to_state_json_is_a_state_file_error(saved, kind, pick, how, tag, key, value):
    """Hypothesis changes one node of state.json (its kind, one field, or the whole node): the load
    gives a graph or a StateFileError, never another exception."""
    data, template = saved

    def change(doc):
        nodes = [n for n in _nodes(doc["state"]) if n["t"] == kind] or _nodes(doc["state"])
        node = nodes[pick % len(nodes)]
        if how == "retag":
            node["t"] = tag
        elif how == "set":
            node[key] = value
        elif how == "drop":
            node.pop(key, None)
        else:
            node.clear()
            node.update(value if isinstance(value, dict) else {"t": tag, "v": value})

    try:
        load_state(_rewrite(data, change), template, "ckpt")
    except StateFileError:
        pass
