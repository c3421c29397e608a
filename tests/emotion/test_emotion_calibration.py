"""Calibration: variance matching on out-of-fold predictions, applied in every prediction,
stored in the weights file (format 3) and refused when it does not match the model's heads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from qdemo.emotion import ModelSpec, RegressorMeta, VADRegressor, load_model_file, read_metadata, save_model
from qdemo.emotion.calibration import Calibration, fit_variance_matching, nested_calibrated
from qdemo.emotion.fused import FusedRegressor
from qdemo.errors import CheckpointError


def _shrunk(n=600, seed=0):
    """Human ratings y and a ridge-like prediction with a third of their spread (r ~ 0.7)."""
    rng = np.random.default_rng(seed)
    y = np.clip(rng.normal(0.1, 0.4, (n, 3)), -1, 1)
    pred = 0.02 + 0.33 * (0.7 * y + 0.7 * rng.normal(0, 0.4, (n, 3)))
    y[:5, 2] = np.nan  # a missing target is skipped, not a NaN map
    return pred, y


def test_variance_matching_restores_mean_and_spread():
    pred, y = _shrunk()
    scale, shift, info = fit_variance_matching(pred, y)
    cal = shift + scale * pred
    ok = np.isfinite(y)
    for d in range(3):
        assert cal[ok[:, d], d].std() == pytest.approx(y[ok[:, d], d].std(), rel=1e-6)
        assert cal[ok[:, d], d].mean() == pytest.approx(y[ok[:, d], d].mean(), abs=1e-9)
    assert np.all(scale > 2) and info["rows"]["dominance"] == len(y) - 5


def test_too_few_rows_or_no_spread_keep_the_identity_and_stretch_is_bounded():
    pred, y = _shrunk(n=8)
    scale, shift, _ = fit_variance_matching(pred, y)
    assert np.all(scale == 1) and np.all(shift == 0)
    pred, y = _shrunk()
    pred[:, 1] = 0.3  # constant prediction: nothing to stretch
    pred[:, 2] *= 1e-3  # near-constant: bounded, not blown up into noise
    scale, _, _ = fit_variance_matching(pred, y, max_scale=6.0)
    assert scale[1] == 1 and scale[2] == 6.0


def test_nested_calibration_uses_other_folds_only():
    pred, y = _shrunk(n=900)
    fold = np.repeat(np.arange(3), 300)
    out = nested_calibrated(pred, y, fold)
    # fold 0 is mapped by the map fitted on folds 1-2, not by its own
    scale, shift, _ = fit_variance_matching(pred[fold != 0], y[fold != 0])
    assert np.allclose(out[fold == 0], np.clip(shift + scale * pred[fold == 0], -1, 1))
    ok = np.isfinite(y[:, 0])
    r_raw = np.corrcoef(pred[ok, 0], y[ok, 0])[0, 1]
    assert np.corrcoef(out[ok, 0], y[ok, 0])[0, 1] == pytest.approx(r_raw, abs=0.02)
    assert out[:, 0].std() / y[:, 0].std() == pytest.approx(1.0, abs=0.1)


def _tiny(seed=0, res=32, flip=False):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        m = VADRegressor(ModelSpec(backbone="tiny", resolution=res, members=2, seed=seed, tta_flip=flip),
                         RegressorMeta(name=f"t{seed}"))
    gen = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        m.head_weight.copy_(torch.randn(m.head_weight.shape, generator=gen) * 0.3)
        m.dist_weight.copy_(torch.randn(m.dist_weight.shape, generator=gen) * 0.3)
        m.feat_std.fill_(0.5)
    return m.eval()


def test_predictions_pass_through_the_calibration_and_stay_differentiable():
    m = _tiny()
    x = torch.rand(4, 3, 20, 20, generator=torch.Generator().manual_seed(1), requires_grad=True)
    raw = m.predict(x).members.detach()
    m.calibration.set(np.array([3.0, 2.0, 1.0]), np.array([0.1, 0.0, 0.0]), {"method": "test"})
    pred = m.predict(x)
    assert torch.allclose(pred.members, (torch.tensor([0.1, 0.0, 0.0]) + torch.tensor([3.0, 2.0, 1.0]) * raw)
                          .clamp(-1, 1), atol=1e-6)
    assert torch.allclose(pred.sd, pred.members.std(dim=1, unbiased=False))  # the spread is calibrated too
    pred.mean[:, 1].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # every prediction path agrees
    p2, _ = m.predict_with_features(x.detach())
    p3, _ = m.predict_with_distribution(x.detach())
    assert torch.allclose(p2.mean, pred.mean.detach()) and torch.allclose(p3.mean, pred.mean.detach())


def test_tta_flip_features_ignore_mirroring():
    m = _tiny(flip=True)
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(m.raw_features(x), m.raw_features(x.flip(-1)), atol=1e-6)
    with pytest.raises(ValueError, match="tta_flip"):
        VADRegressor(ModelSpec(backbone="tiny", resolution=32, members=2, train_from=1, tta_flip=True))


@pytest.mark.parametrize("fused", [False, True])
def test_round_trip_keeps_the_calibration(tmp_path, fused):
    model = FusedRegressor([_tiny(0), _tiny(1, res=48, flip=True)], RegressorMeta(name="f")) if fused else _tiny()
    model.calibration.set(np.array([2.5, 2.0, 1.5]), np.array([0.05, -0.1, 0.0]), {"method": "variance matching"})
    p = tmp_path / "m.safetensors"
    save_model(model, p, half=False)
    back = load_model_file(p)
    assert type(back) is type(model)
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(back.predict(x).members, model.predict(x).members, atol=1e-6)
    assert back.calibration.to_dict()["scale"] == [2.5, 2.0, 1.5]
    assert json.loads(p.with_suffix(".json").read_text())["calibration"]["method"] == "variance matching"


def _rewrite(tmp_path, meta, tensors, name="x.safetensors"):
    from safetensors.torch import save_file

    q = tmp_path / name
    save_file(tensors, str(q), metadata={"qdemo": json.dumps(meta)})
    return q


def test_a_calibration_from_other_heads_is_refused(tmp_path):
    from safetensors.torch import load_file

    a, b = _tiny(0), _tiny(0)
    with torch.no_grad():
        b.head_weight.mul_(2)  # other heads, same architecture
    a.calibration.set(np.array([3.0, 3.0, 1.0]), np.zeros(3), {"method": "variance matching"})
    pa, pb = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_model(a, pa)
    save_model(b, pb)
    transplanted = dict(load_file(str(pb)))
    transplanted.update({k: v for k, v in load_file(str(pa)).items() if k.startswith("calibration.")})
    meta_b = read_metadata(pb)
    meta_b["calibration"] = read_metadata(pa)["calibration"]  # a's map, claimed for b's heads
    with pytest.raises(CheckpointError, match="calibration was fitted for other heads"):
        load_model_file(_rewrite(tmp_path, meta_b, transplanted))
    no_cal = {k: v for k, v in load_file(str(pa)).items() if not k.startswith("calibration.")}
    with pytest.raises(CheckpointError, match="without its calibration"):
        load_model_file(_rewrite(tmp_path, read_metadata(pa), no_cal, "n.safetensors"))


def test_format_2_files_load_uncalibrated_and_say_so(tmp_path):
    from safetensors.torch import load_file

    p = tmp_path / "m.safetensors"
    save_model(_tiny(), p)
    meta = read_metadata(p)
    meta["format"] = "qdemo-vad-regressor/2"
    meta.pop("calibration")
    old = {k: v for k, v in load_file(str(p)).items() if not k.startswith("calibration.")}
    m = load_model_file(_rewrite(tmp_path, meta, old))
    assert isinstance(m.calibration, Calibration) and m.calibration.is_identity
    assert "before calibration" in m.calibration.to_dict()["method"]
