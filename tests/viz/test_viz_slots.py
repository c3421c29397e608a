"""Figures of an emotions archive: plot_all draws the slot strip, slot montage and the critic's
emotions instead of VA heatmaps, and does not crash without a critic or with intensity bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from qdemo.errors import DataError
from qdemo.viz import load_run, plot_all
from qdemo.viz.slots import emotion_agreement_figure, slot_montage_figure, slot_probability, slot_strip_figure


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_xlabel() for ax in fig.axes]


def test_plot_all_on_an_emotions_run(emotions_run):
    run_dir = emotions_run("emo")
    out = plot_all(run_dir)
    assert set(out) == {"heatmaps", "montage", "critic_agreement", "metrics"}
    for paths in out.values():
        for p in paths:
            assert p.exists() and Image.open(p).size[0] > 300
    run = load_run(run_dir)
    df = pd.read_csv(run_dir / "archive.csv")
    np.testing.assert_allclose(slot_probability(run), [r[f"p_{r['emotion']}"] for _, r in df.iterrows()])
    strip = _texts(slot_strip_figure(run))
    for o in df["objective"]:
        assert f"{o:.1f}" in strip
    assert strip.count("empty") == 7 - len(df)
    labels = _texts(slot_montage_figure(run))
    for _, r in df.iterrows():
        assert any(f"p({r['emotion']}) {r['p_' + r['emotion']]:.2f}" in t and f"critic: {r['critic_emotion']}" in t
                   for t in labels)
    agree = emotion_agreement_figure(run)
    counts = [t for t in agree.axes[0].texts]
    assert sum(int(t.get_text()) for t in counts) == len(df)  # every elite counted once


def test_bands_and_no_critic(emotions_run):
    run_dir = emotions_run("bands", **{"grid.intensity_bands": 2, "critic": "none"})
    out = plot_all(run_dir)
    assert "critic_agreement" not in out and (run_dir / "montage.png").exists()
    run = load_run(run_dir)
    fig = slot_montage_figure(run)
    assert len(fig.axes) == 14  # 7 slots x 2 bands
    assert any("critic: not run" in t for t in _texts(fig))
    with pytest.raises(DataError, match="critic columns are empty"):
        emotion_agreement_figure(run)


def test_slot_figures_refuse_a_vad_run(tmp_path):
    from qdemo.web.demo import make_demo_archive

    run = load_run(make_demo_archive(tmp_path / "vad", cells=(3, 3, 2), seed=1, reference=0, image_size=8))
    with pytest.raises(DataError, match="not an emotions archive"):
        slot_montage_figure(run)
