"""The semantic channel: class-name norms, its features, the stacked heads, the weights file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qdemo.emotion.semantic import FEATURES, SemanticChannel, class_name_norms
from qdemo.emotion.wordnorms import WordNorms


def _norms(**words) -> WordNorms:
    return WordNorms(warriner={w: np.asarray(v, dtype=float) for w, v in words.items()})


def test_a_class_name_is_rated_by_its_head_noun_then_by_its_words():
    wn = _norms(snake=[-0.3, 0.6, -0.3], green=[0.4, -0.1, 0.1], white=[0.2, -0.2, 0.0])
    norms, words = class_name_norms(wn, ["green snake", "great white shark", "zyzzyva"])
    assert np.allclose(norms[0], [-0.3, 0.6, -0.3]) and words[0] == "snake"  # head noun, not the mean with green
    assert np.allclose(norms[1], [0.2, -0.2, 0.0]) and words[1] == "white"  # no head noun: covered words
    assert np.isnan(norms[2]).all() and words[2] == ""


def test_features_weight_the_covered_classes_and_are_differentiable():
    ch = SemanticChannel(in_features=4, n_classes=3)
    ch.set_classifier(torch.eye(3, 4) * 5, torch.zeros(3))
    ch.set_norms(np.array([[1.0, 0.0, 0.0], [-1.0, 1.0, 0.5], [np.nan] * 3]), ["a", "b", "c"], {})
    assert ch.fitted["covered"] == 2
    head = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]], requires_grad=True)
    f = ch(head)  # (2, 5)
    assert f.shape == (2, len(FEATURES))
    p = ch.probs(head).detach()
    # row 0: mostly class a; valence is the probability-weighted norm over covered classes, renormalised
    want_v = (p[0, 0] * 1 - p[0, 1]) / (p[0, 0] + p[0, 1])
    assert torch.isclose(f[0, 0], want_v, atol=1e-6)
    assert torch.isclose(f[0, 4], p[0, 0] + p[0, 1]) and f[1, 4] < 0.5  # row 1: mostly the uncovered class
    assert (f[:, 3] > 0).all() and (f[:, 3] <= 1).all()  # entropy / log(n) in (0, 1]
    f[:, 1].sum().backward()
    assert head.grad is not None and head.grad.abs().sum() > 0


def test_tiny_backbone_has_no_classifier_for_the_channel():
    from qdemo.emotion.model import ModelSpec, VADRegressor

    with pytest.raises(ValueError, match="no pretrained ImageNet classifier"):
        VADRegressor(ModelSpec(backbone="tiny", resolution=32, members=1, semantic=True))


def _lite0_semantic(tmp_path=None):
    from qdemo.emotion.model import ModelSpec, VADRegressor
    from qdemo.emotion.semantic import imagenet_classes

    m = VADRegressor(ModelSpec(backbone="efficientnet-lite0", resolution=32, members=2, semantic=True)).eval()
    rng = np.random.default_rng(0)
    norms = rng.uniform(-1, 1, (1000, 3))
    norms[::3] = np.nan
    m.semantic.set_norms(norms, imagenet_classes(), {"note": "test"})
    with torch.no_grad():
        m.head_weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(0))
    return m


def test_the_weights_file_keeps_the_norms_but_not_the_wheels_classifier(tmp_path, one_torch_thread):
    from safetensors import safe_open

    from qdemo.emotion.weights_io import load_model_file, save_model

    m = _lite0_semantic()
    assert m.n_features == m.n_pooled + len(FEATURES)
    path = tmp_path / "sem.safetensors"
    side = save_model(m, path)
    with safe_open(str(path), framework="pt") as f:
        keys = set(f.keys())
    assert "semantic.norms" in keys and "semantic.covered" in keys
    assert not any(k.startswith("semantic.fc_") for k in keys)  # from the wheel, checked by its sha256
    assert side["semantic"]["covered"] == 666 and len(side["semantic"]["class_names"]) == 1000
    back = load_model_file(path)
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(back.predict(x).mean, m.predict(x).mean, atol=2e-3)
        assert torch.allclose(back.raw_features(back.prepare(x))[..., -5:], m.raw_features(m.prepare(x))[..., -5:],
                              atol=2e-3)
    assert back.semantic.class_names[:2] == ["tench", "goldfish"]
    assert json.loads(path.with_suffix(".json").read_text())["format"].endswith("/4")


def test_cached_pooled_features_plus_semantic_equal_the_models_features(one_torch_thread):
    from qdemo.emotion.features import with_semantic

    m = _lite0_semantic()
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        pooled = m.raw_features(x, semantic=False)[:, 0].numpy()
        full = m.raw_features(x)[:, 0].numpy()
    assert pooled.shape[1] == m.n_pooled
    assert np.allclose(with_semantic(m, pooled), full, atol=1e-5)


def test_stacked_heads_merge_into_one_linear_head_that_reads_the_semantic_column():
    """Targets = a pooled-feature direction + a semantic column the pooled features do not carry:
    the stack puts weight on the semantic column, and the merged head equals the two stages."""
    from qdemo.emotion.ridge import predict_heads
    from qdemo.emotion.train.stacking import HeadFitter

    rng = np.random.default_rng(0)
    n, p = 400, 12
    X = rng.normal(size=(n, p))
    s = rng.normal(size=(n, 5))
    y = np.tanh(0.4 * X[:, 0] + 0.5 * s[:, [0, 1, 2]].T).T * 0.9 + rng.normal(0, 0.05, (n, 3))
    feats = np.concatenate([X, s], 1)[None]  # (1, n, F)
    fold = np.arange(n) % 4
    hf = HeadFitter(feats, np.clip(y, -0.99, 0.99), fold, n_pooled=p, alphas=(0.1, 1.0, 10.0))
    gmu, gsd = feats[0].mean(0), feats[0].std(0)
    W, B, _ = hf.fit(hf.keys(lambda f, b: f != 0), gmu, gsd)
    assert W.shape == (p + 5, 3)
    assert all(abs(W[p + d, d]) > 0.2 for d in range(3))  # each dim reads its own semantic column
    assert np.allclose(W[p + 3:], 0) and np.allclose(W[p:p + 3][~np.eye(3, dtype=bool)], 0)
    test = fold == 0
    pred = predict_heads(feats[0][test], {"weight": W[None], "bias": B[None]}, gmu, gsd)[:, 0]
    plain = HeadFitter(feats[..., :p], np.clip(y, -0.99, 0.99), fold, n_pooled=p, alphas=(0.1, 1.0, 10.0))
    W1, B1, _ = plain.fit(plain.keys(lambda f, b: f != 0), gmu[:p], gsd[:p])
    pred1 = predict_heads(X[test], {"weight": W1[None], "bias": B1[None]}, gmu[:p], gsd[:p])[:, 0]
    err = lambda q: np.mean((q - y[test]) ** 2)  # noqa: E731
    assert err(pred) < 0.6 * err(pred1)  # the semantic columns carry half of the signal
    st = hf.stacks[-1][0]
    z = ((X[test] - gmu[:p]) / gsd[:p]) @ W1[:, 0] + B1[0]
    assert np.allclose(pred[:, 0], np.tanh(st["a"] * z + st["v"] * s[test, 0] + st["c"]), atol=1e-8)


def _fake_norms(tmp_path: Path) -> Path:
    d = tmp_path / "norms"
    d.mkdir()
    rows = ["Word,V.Mean.Sum,A.Mean.Sum,D.Mean.Sum"] + [f"{w},{v},{a},5" for w, v, a in
                                                        [("shark", 3, 7), ("fish", 6, 3), ("snake", 2.5, 7.5),
                                                         ("dog", 7.5, 5), ("car", 6, 5), ("wall", 5, 2)]]
    (d / "Ratings_Warriner_et_al.csv").write_text("\n".join(rows) + "\n")
    return d


def test_train_with_the_semantic_channel_needs_and_stores_the_norms(tmp_path, capsys, one_torch_thread):
    from tests.emotion.test_emotion_cli import _rated_csv

    from qdemo.cli import main
    from qdemo.emotion import load_model

    data = _rated_csv(tmp_path, n=16)
    role = ("searcher: {name: sem, views: 1, model: {backbone: efficientnet-lite0, resolution: 32, members: 2, "
            "semantic: true}}\nroles: [searcher]\nfolds: 2\nbaselines: false\n")
    base = "data: {oasis: null, emotion6: null, csv: %s, csv_scale: '1,9', word_norms: %s}\n"
    cfg = tmp_path / "reg.yaml"
    cfg.write_text(base % (data, "null") + role)
    rc = main(["regressor", "train", "--config", str(cfg), "--out-dir", str(tmp_path / "w0"), "--cache-dir",
               str(tmp_path / "cache"), "--device", "cpu"])
    assert rc != 0 and "word norms" in capsys.readouterr().err
    cfg.write_text(base % (data, _fake_norms(tmp_path)) + role)
    out = tmp_path / "w"
    rc = main(["regressor", "train", "--config", str(cfg), "--out-dir", str(out), "--cache-dir",
               str(tmp_path / "cache"), "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    model = load_model(path=out / "searcher.safetensors")
    assert model.semantic is not None and 0 < model.semantic.fitted["covered"] < 1000
    covered = model.semantic.covered.bool()
    names = [n for n, c in zip(model.semantic.class_names, covered.tolist()) if c]
    assert "tiger shark" in names and "garter snake" in names
    assert torch.allclose(model.semantic.norms[model.semantic.class_names.index("garter snake")],
                          torch.tensor([-0.625, 0.625, 0.0]))
    assert "semantic_stack" in model.info.extra


def test_explain_names_the_content_with_its_norms(tmp_path, capsys, one_torch_thread):
    from PIL import Image

    from qdemo.cli import main
    from qdemo.emotion.weights_io import save_model

    path = tmp_path / "sem.safetensors"
    save_model(_lite0_semantic(), path)
    img = tmp_path / "x.png"
    Image.fromarray((np.random.default_rng(0).random((48, 48, 3)) * 255).astype(np.uint8)).save(img)
    rc = main(["regressor", "explain", str(img), "--out", str(tmp_path / "x_explain.png"), "--weights", str(path),
               "--classes", "3", "--json", str(tmp_path / "x.json")])
    assert rc == 0
    out = capsys.readouterr().out
    res = json.loads((tmp_path / "x.json").read_text())
    (part,) = res["classes"]
    assert part["semantic"] and len(part["classes"]) == 3
    probs = [c["probability"] for c in part["classes"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    first = part["classes"][0]
    assert first["class"] in out and f"{first['probability']:.2f}" in out
    if first["norms"] is not None:
        assert f"valence {first['norms'][0]:+.2f}" in out


def test_explain_looks_up_the_norms_for_a_model_without_the_channel(one_torch_thread):
    """The shipped models have no semantic channel: their classes are still named with norms,
    looked up in the word norms by the channel's rule; without word norms none are invented."""
    from qdemo.emotion.explain import format_classes, top_classes
    from qdemo.emotion.model import ModelSpec, VADRegressor

    model = VADRegressor(ModelSpec(backbone="efficientnet-lite0", resolution=32, members=2)).eval()
    image = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(1))
    (bare,) = top_classes(model, image, k=4)
    assert bare["norms_from"] is None and all(c["norms"] is None for c in bare["classes"])
    assert "pass --word-norms" in format_classes([bare])[0]
    names = [c["class"] for c in bare["classes"]]
    heads = {n.split()[-1].lower() for n in names}
    norms = _norms(**{h: [0.1 * i, -0.2, 0.3] for i, h in enumerate(sorted(heads))})
    (part,) = top_classes(model, image, k=4, word_norms=norms)
    assert part["norms_from"] == "word norms" and [c["class"] for c in part["classes"]] == names
    for c in part["classes"]:
        h = c["class"].split()[-1].lower()
        assert c["norms"] == pytest.approx([0.1 * sorted(heads).index(h), -0.2, 0.3])
    assert "looked up in the word norms" in format_classes([part])[0]
