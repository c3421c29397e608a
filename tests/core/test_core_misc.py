from __future__ import annotations

import pytest
import torch

from qdemo.cli import main
from qdemo.device import resolve_device
from qdemo.emotion import TinyEmotionModel
from qdemo.errors import QdemoError
from qdemo.parallel import run_tasks


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(QdemoError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(QdemoError, match="--device"):
        resolve_device("toaster")


def test_tiny_model_contract():
    model = TinyEmotionModel(seed=1).eval()
    x = torch.rand(5, 3, 40, 50, requires_grad=True)
    pred = model.predict(x)
    assert pred.mean.shape == (5, 3) and pred.sd.shape == (5, 3) and pred.members.shape == (5, 3, 3)
    assert pred.mean.abs().max() <= 1.0 and (pred.sd >= 0).all()
    model(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    again = TinyEmotionModel(seed=1).eval()
    assert torch.equal(model(x.detach()), again(x.detach()))
    assert not torch.equal(model(x.detach()), TinyEmotionModel(seed=2).eval()(x.detach()))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model(torch.rand(3, 8, 8))


def _square(x):
    return {"x": x, "y": x * x}


def test_run_tasks_serial_caches_results(tmp_path):
    out = run_tasks(_square, {"a": (2,), "b": (3,)}, cache_dir=tmp_path, backend="serial")
    assert out == {"a": {"x": 2, "y": 4}, "b": {"x": 3, "y": 9}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
    # A cached result is returned as stored, never recomputed (the args differ on purpose).
    again = run_tasks(_square, {"a": (100,), "c": (4,)}, cache_dir=tmp_path, backend="serial")
    assert again["a"] == {"x": 2, "y": 4} and again["c"]["y"] == 16
    (tmp_path / "b.json").write_text("{damaged")
    assert run_tasks(_square, {"b": (5,)}, cache_dir=tmp_path, backend="serial")["b"]["y"] == 25
    with pytest.raises(ValueError, match="task key"):
        run_tasks(_square, {"../x": (1,)}, backend="serial")


def test_cli_help_lists_and_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "qdemo" in capsys.readouterr().out
