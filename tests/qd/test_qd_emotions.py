"""--grid emotions: slot measures, objective, gradient surrogate and every emitter on a pyribs
GridArchive of emotion slots; models without a distribution head are refused with the reason."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from qdemo import EMOTIONS
from qdemo.errors import ConfigError
from qdemo.qd import EMITTERS, build_search
from qdemo.qd.emotion_slots import (CHANCE, SlotMeasures, heldout_emotion_accuracy, per_slot_match, slot_agreement)


def _emo_cfg(tiny_evolve_cfg, **over):
    base = {"grid.name": "emotions", "renderer.name": "cppn", "batch_size": 16}
    base.update(over)
    return tiny_evolve_cfg(**base)


@pytest.mark.parametrize("over, match", [
    ({"grid.slots": ["joy", "happy"]}, "unknown emotion.*'happy'.*valid slots: anger, disgust, fear, joy"),
    ({"grid.slots": ["joy", "joy"]}, "listed once"),
    ({"grid.intensity_bands": 0}, "intensity_bands=0"),
    ({"grid.intensity_range": [0.5, 0.2]}, "intensity_range"),
    ({"grid.intensity_range": [0.0, 1.5]}, "intensity_range"),
])
def test_bad_slot_settings_are_refused(tiny_evolve_cfg, over, match):
    with pytest.raises(ConfigError, match=match):
        _emo_cfg(tiny_evolve_cfg, **over).validate()


def test_slot_measures_place_each_image_in_its_most_probable_slot():
    sm = SlotMeasures(["joy", "fear", "sadness"], bands=2, band_range=(0.2, 0.8))
    dist = np.array([[0.0, 0.0, 0.1, 0.6, 0.3, 0.0, 0.0],   # joy
                     [0.9, 0.0, 0.02, 0.03, 0.05, 0.0, 0.0],  # anger is no slot: sadness (0.05) wins
                     [0.0, 0.0, 0.95, 0.05, 0.0, 0.0, 0.0]])  # fear, probability above the band range
    m = sm.measures(dist)
    np.testing.assert_allclose(m[:, 0], [0.5, 2.5, 1.5])  # slot + 0.5: the middle of its cell
    np.testing.assert_allclose(m[:, 1], [0.6, 0.2, 0.8])  # p of the slot emotion, clipped to the range
    assert sm.cells == [3, 2] and sm.dims == ["emotion", "intensity"]
    np.testing.assert_allclose(sm.ranges, [[0, 3], [0.2, 0.8]])
    t = torch.tensor(dist)
    np.testing.assert_allclose(sm.confidence(t).numpy(), [0.6, 0.05, 0.95])
    np.testing.assert_allclose(sm.weigh(torch.full((3,), 50.0, dtype=torch.float64), t).numpy(), [30, 2.5, 47.5])
    onehot = torch.zeros(3, 7, dtype=torch.float64)
    onehot[0, EMOTIONS.index("sadness")] = 1
    onehot[1, EMOTIONS.index("joy")] = 1
    onehot[2, EMOTIONS.index("fear")] = 1
    np.testing.assert_allclose(sm.surrogate(onehot)[:, 0].numpy(), [2.5, 0.5, 1.5])  # = the measure when sure


def test_slot_agreement_match_same_and_within():
    sm = SlotMeasures(list(EMOTIONS))
    cells = np.array([[3], [3], [0]])  # joy, joy, anger
    critic = np.zeros((3, 7))
    critic[0, 3] = 0.7  # joy first: match
    critic[0, 6] = 0.3
    critic[1, [3, 4]] = [0.4, 0.6]  # sadness first, joy second: within only
    critic[2, [1, 2]] = [0.5, 0.5]  # anger nowhere near
    a = slot_agreement(sm, cells, critic)
    assert a.match.tolist() == [True, False, False] == a.same.tolist()
    assert a.within.tolist() == [True, True, False]
    assert a.emotions == ["joy", "sadness", "disgust"]
    np.testing.assert_allclose(a.p_slot, [0.7, 0.4, 0.0])
    assert per_slot_match(["anger", "joy", "fear"], ["joy", "joy", "anger"], a.match) == {
        "anger": {"n": 1, "match": 0.0}, "joy": {"n": 2, "match": 0.5}, "fear": {"n": 0, "match": None}}
    assert CHANCE == pytest.approx(1 / 7)


def test_one_forward_pass_gives_the_same_outputs_as_the_separate_calls(tiny_dist_model):
    """predict_with_distribution must agree with predict and emotion_distribution (e.g. after a
    calibration is added to one of them)."""
    model = tiny_dist_model(0)
    x = torch.rand(5, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    pred, dist = model.predict_with_distribution(x)
    torch.testing.assert_close(pred.members, model.predict(x).members)
    torch.testing.assert_close(dist, model.emotion_distribution(x))
    torch.testing.assert_close(dist.sum(1), torch.ones(5))


def test_scorer_measures_objective_and_surrogate_gradient(tiny_evolve_cfg, tiny_dist_model):
    cfg = _emo_cfg(tiny_evolve_cfg, **{"grid.intensity_bands": 3})
    search = build_search(cfg, searcher=tiny_dist_model(0))
    plain = build_search(tiny_evolve_cfg(**{"renderer.name": "cppn"}), searcher=tiny_dist_model(0)).scorer
    s = search.scorer
    x = np.random.default_rng(0).normal(0, 1.0, (6, search.renderer.solution_dim))
    sb = s.score(x, grad=True)
    with torch.no_grad():
        dist = search.searcher.emotion_distribution(s.render(x)).double().numpy()  # (6, 7)
    np.testing.assert_allclose(sb.dist, dist, atol=1e-5)
    np.testing.assert_allclose(sb.measures[:, 0], dist.argmax(1) + 0.5)
    np.testing.assert_allclose(sb.measures[:, 1], dist.max(1), atol=1e-5)
    np.testing.assert_allclose(sb.objective, plain.score(x).objective * dist.max(1), rtol=1e-4)  # p x generic
    assert set(sb.fields()) == {"vad", "vad_sd", "dist"} and sb.jacobian.shape == (6, 3, x.shape[1])
    # the measure rows are the gradients of the surrogate (finite differences along a direction)
    d = np.random.default_rng(1).normal(size=x.shape[1])
    d /= np.linalg.norm(d)
    eps = 1e-3
    for row in (1, 2):
        def sur(z):
            with torch.no_grad():
                dd = search.searcher.emotion_distribution(s.render(z[None]))
            return float(s.slots.surrogate(dd)[0, row - 1])
        fd = (sur(x[0] + eps * d) - sur(x[0] - eps * d)) / (2 * eps)
        assert sb.jacobian[0, row] @ d == pytest.approx(fd, rel=0.15, abs=1e-3)  # float32, ReLU kinks
    assert np.abs(sb.jacobian[:, 1]).sum() > 0  # the discrete slot still gets a direction to move in
    assert "p(slot emotion) * (generic objective below)" in s.describe_objective()
    assert s.describe_objective().endswith(s.objective.describe())


@pytest.mark.parametrize("emitter", EMITTERS)
def test_every_emitter_fills_emotion_slots(tiny_evolve_cfg, tiny_dist_model, emitter):
    cfg = _emo_cfg(tiny_evolve_cfg, **{"emitter.name": emitter})
    ex = build_search(cfg, searcher=tiny_dist_model(0)).explorer
    for _ in range(4):
        row = ex.step()
    el = ex.elites()
    assert row["num_elites"] >= 2 and ex.archive.cells == 7
    np.testing.assert_array_equal(el["index"], el["dist"].argmax(1))  # each elite in its emotion's slot
    assert np.all((el["objective"] > 0) & (el["objective"] <= 100 * el["dist"].max(1) + 1e-6))


@pytest.mark.parametrize("renderer", ["pixels", "fourier", "cppn", "shapes"])
def test_every_renderer_with_the_gradient_emitter(tiny_evolve_cfg, tiny_dist_model, renderer):
    """The slot surrogate's gradient flows through every differentiable renderer (CMA-MEGA)."""
    search = build_search(_emo_cfg(tiny_evolve_cfg, **{"renderer.name": renderer, "emitter.name": "cma-mega"}),
                          searcher=tiny_dist_model(0))
    x = np.asarray(search.renderer.initial_solution())[None] + np.random.default_rng(0).normal(
        0, 0.3, (4, search.renderer.solution_dim))
    jac = search.scorer.score(x, grad=True).jacobian  # (4, 2, dim)
    assert np.isfinite(jac).all() and np.abs(jac[:, 1]).sum() > 0
    for _ in range(2):
        row = search.explorer.step()
    assert row["num_elites"] >= 1


def test_a_slot_subset_and_intensity_bands(tiny_evolve_cfg, tiny_dist_model):
    cfg = _emo_cfg(tiny_evolve_cfg, **{"grid.slots": ["sadness", "joy"], "grid.intensity_bands": 2,
                                       "emitter.name": "map-elites"})
    ex = build_search(cfg, searcher=tiny_dist_model(0)).explorer
    for _ in range(3):
        ex.step()
    el = ex.elites()
    assert ex.archive.cells == 4
    cols = [EMOTIONS.index("sadness"), EMOTIONS.index("joy")]
    sub = el["dist"][:, cols]  # (N, 2)
    slot, band = np.divmod(el["index"], 2)
    np.testing.assert_array_equal(slot, sub.argmax(1))
    np.testing.assert_array_equal(band, np.minimum((sub.max(1) * 2).astype(int), 1))


def test_models_without_a_distribution_head_are_refused(tiny_evolve_cfg, tiny_model):
    from qdemo.emotion.model import ModelSpec, VADRegressor

    for model, name in ((tiny_model, "tiny-seed0"),
                        (VADRegressor(ModelSpec(backbone="tiny", resolution=32, members=2, dist_head=False)),
                         "untrained")):
        with pytest.raises(ConfigError, match=rf"model '{name}' has no emotion-distribution head.*shipped searcher "
                                              r"and critic .* have one; 'tiny' test models do not"):
            build_search(_emo_cfg(tiny_evolve_cfg), searcher=model)
    with pytest.raises(ConfigError, match=r"--searcher \(tiny\)"):
        build_search(_emo_cfg(tiny_evolve_cfg))  # config searcher: 'tiny'


def test_heldout_accuracy_is_read_for_the_model_the_report_describes(tmp_path):
    from qdemo.emotion.base import ModelInfo
    from qdemo.emotion.zoo import WEIGHTS_DIR

    class Named:
        def __init__(self, sha):
            self.info = ModelInfo(name="m", extra={"sha256": sha})

    report = {"weights": {"critic": {"sha256": "abc"}},
              "roles": {"critic": {"distribution_cv": {"emotion6": {"max_emotion_accuracy": 0.37}}}}}
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(report))
    assert heldout_emotion_accuracy(Named("abc"), metrics=path) == pytest.approx(0.37)
    assert heldout_emotion_accuracy(Named("other"), metrics=path) is None
    assert heldout_emotion_accuracy(None, metrics=path) is None
    # the shipped critic: its weights file is the one the shipped report describes
    shipped = json.loads((WEIGHTS_DIR / "critic.json").read_text())["sha256"]
    acc = heldout_emotion_accuracy(Named(shipped))
    assert acc is not None and 1 / 7 < acc < 1
