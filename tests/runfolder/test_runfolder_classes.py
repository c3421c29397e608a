"""classes.json: what the critic's own ImageNet classifiers see in each elite (issue 24, point 3).

Written by the confirmation (end of ``qdemo evolve``, ``qdemo confirm``) when the critic carries
classifiers; read by the browser's cell panel through :func:`qdemo.runfolder.read_classes`.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from qdemo.errors import DataError
from qdemo.runfolder import read_classes, read_run, run_evolve, write_classes
from qdemo.runfolder.confirm import CLASSES_PER_ELITE, confirm_run


def _semantic_lite0(path):
    """A Lite0 model at 32 px with the semantic channel (seeded random norms, a third uncovered), saved."""
    from qdemo.emotion.model import ModelSpec, VADRegressor
    from qdemo.emotion.semantic import imagenet_classes
    from qdemo.emotion.weights_io import save_model

    m = VADRegressor(ModelSpec(backbone="efficientnet-lite0", resolution=32, members=2, semantic=True)).eval()
    norms = np.random.default_rng(0).uniform(-1, 1, (1000, 3))
    norms[::3] = np.nan
    m.semantic.set_norms(norms, imagenet_classes(), {"note": "test"})
    save_model(m, path)
    return norms


@pytest.fixture()
def unconfirmed(tiny_evolve_cfg):
    return run_evolve(tiny_evolve_cfg(name="cls", iterations=2, critic="none"), progress=False).out_dir


def test_confirmation_names_the_critics_classes_of_every_elite(unconfirmed, tmp_path, one_torch_thread):
    from qdemo.emotion.semantic import imagenet_classes

    weights = tmp_path / "sem.safetensors"
    norms = _semantic_lite0(weights)
    assert not (unconfirmed / "classes.json").exists()  # no critic, no classes
    confirm_run(unconfirmed, critic=str(weights), device="cpu")
    classes = read_classes(unconfirmed)
    run = read_run(unconfirmed)
    assert sorted(classes) == sorted(run.indices) and len(classes) > 0
    names = imagenet_classes()
    for parts in classes.values():
        (part,) = parts  # one classifier-carrying backbone
        assert part["backbone"] == "efficientnet-lite0" and part["resolution"] == 32 and part["semantic"]
        rows = part["classes"]
        probs = [c["probability"] for c in rows]
        assert len(rows) == CLASSES_PER_ELITE and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
        for c in rows:  # the norms are the ones stored in the model, None where the name is uncovered
            i = c["index"]
            assert c["class"] == names[i]
            if np.isnan(norms[i]).any():
                assert c["norms"] is None
            else:
                assert c["norms"] == pytest.approx(norms[i].tolist(), abs=1e-3)  # stored as float16
    assert json.loads((unconfirmed / "classes.json").read_text())["model"]
    # re-confirmed by a critic without classifiers: the old critic's classes do not stay behind
    confirm_run(unconfirmed, critic="tiny:1", device="cpu")
    assert not (unconfirmed / "classes.json").exists() and read_classes(unconfirmed) == {}


def test_classes_file_round_trips_and_bad_files_name_themselves(tmp_path):
    parts = [{"backbone": "efficientnet-lite1", "resolution": 240, "semantic": True, "norms_from": "stored",
              "classes": [{"class": "tarantula", "probability": 0.41, "norms": [-0.52, 0.61, -0.3]}]}]
    write_classes(tmp_path, [7, 3], [parts, []], model="critic-x")
    assert read_classes(tmp_path) == {7: parts, 3: []}
    with pytest.raises(ValueError, match="2 cells but 1"):
        write_classes(tmp_path, [7, 3], [parts], model="critic-x")
    for text in ("{not json", '{"model": "x"}', '["a"]', '{"cells": {"a": []}}'):
        (tmp_path / "classes.json").write_text(text)
        with pytest.raises(DataError, match="classes.json"):
            read_classes(tmp_path)
    (tmp_path / "classes.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DataError, match="classes.json"):
        read_classes(tmp_path)


def test_a_confirmed_evolve_run_of_a_classifier_critic_writes_classes(tiny_evolve_cfg, tmp_path, one_torch_thread):
    weights = tmp_path / "sem.safetensors"
    _semantic_lite0(weights)
    torch.manual_seed(0)
    out = run_evolve(tiny_evolve_cfg(name="cls2", iterations=1, critic=str(weights)), progress=False).out_dir
    assert sorted(read_classes(out)) == sorted(read_run(out).indices)
