"""One emotion-model loader with one spec syntax (qdemo.emotion.zoo.load_emotion_model)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qdemo.emotion import ModelSpec, VADRegressor, save_model, shipped_path
from qdemo.emotion.specs import MODEL_SPEC_HELP, parse_model_spec
from qdemo.emotion.zoo import describe_model, load_emotion_model, model_sha256
from qdemo.errors import CheckpointError, ConfigError


def test_spec_syntax():
    assert parse_model_spec("searcher", "critic") == ("shipped", "searcher")
    assert parse_model_spec("critic", "searcher") == ("shipped", "critic")
    assert parse_model_spec("shipped", "critic") == ("shipped", "critic")
    assert parse_model_spec(None, "searcher") == ("shipped", "searcher")
    assert parse_model_spec(" tiny ", "searcher") == ("tiny", 0)
    assert parse_model_spec("tiny:7", "critic") == ("tiny", 7)
    assert parse_model_spec("runs/m.safetensors", "critic") == ("path", Path("runs/m.safetensors"))
    with pytest.raises(ConfigError, match=r"--critic 'tiny:x': expected tiny or tiny:SEED"):
        parse_model_spec("tiny:x", "critic")
    with pytest.raises(ConfigError, match="unknown model role 'judge'"):
        parse_model_spec("tiny", "judge")
    with pytest.raises(ConfigError, match="empty model spec"):
        parse_model_spec("  ", "searcher")
    for word in ("searcher", "critic", "shipped", "tiny[:SEED]", "PATH"):
        assert word in MODEL_SPEC_HELP


def test_tiny_models_are_seeded_frozen_and_take_the_role():
    a = load_emotion_model("tiny:1", role="critic")
    b = load_emotion_model("tiny:1", role="searcher")
    c = load_emotion_model("tiny", role="searcher")
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    assert torch.equal(a(x), b(x)) and not torch.equal(a(x), c(x))
    assert a.info.role == "critic" and not a.training
    assert not any(p.requires_grad for p in a.parameters())
    a(x).sum().backward()  # frozen parameters, but still differentiable w.r.t. the input
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert model_sha256(a) == model_sha256(b) != model_sha256(c)
    info = describe_model(a, "tiny:1")
    assert info["spec"] == "tiny:1" and info["sha256"] == model_sha256(a) and info["resolution"] == 32
    assert describe_model(None, "none") is None


def test_weights_file_and_missing_file(tmp_path: Path):
    m = VADRegressor(ModelSpec(backbone="tiny", resolution=32, members=2))
    side = save_model(m, tmp_path / "m.safetensors", full=True)
    got = load_emotion_model(str(tmp_path / "m.safetensors"), role="critic")
    assert got.spec.members == 2 and model_sha256(got) == side["sha256"]
    assert not any(p.requires_grad for p in got.parameters())
    with pytest.raises(CheckpointError, match=r"--critic .*nope\.safetensors: model file not found \(use 'searcher'"):
        load_emotion_model(tmp_path / "nope.safetensors", role="critic")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"bad\.safetensors"):
        load_emotion_model(bad, role="searcher")


@pytest.mark.skipif(not shipped_path("searcher").exists(), reason="shipped weights not built yet")
def test_shipped_alias_follows_the_role():
    s = load_emotion_model("shipped", role="searcher")
    assert s.info.role == "searcher" and s.info.name == load_emotion_model("searcher", role="critic").info.name
