"""Re-judging a run with another searcher (`qdemo evolve --resume RUN --searcher NEW --rejudge`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from qdemo.cli import main

TINY = ["--critic", "tiny:1", "--resolution", "16", "--batch-size", "8", "--set", "emitter.num_emitters=2",
        "--emitter", "map-elites", "--no-dataset", "--quiet", "--device", "cpu", "--no-plots"]


@pytest.fixture()
def two_searchers(tiny_dist_weights):
    """Two tiny regressor weights files (different heads): the run's searcher and the new one."""
    return tiny_dist_weights(0), tiny_dist_weights(7)


def test_rejudge_rescores_replaces_and_continues(tmp_path, two_searchers, capsys):
    from qdemo.emotion.zoo import load_emotion_model, model_sha256
    from qdemo.io import load_image

    old, new = two_searchers
    assert main(["evolve", *TINY, "--searcher", str(old), "--iterations", "3", "--out", str(tmp_path),
                 "--name", "r"]) == 0
    run = tmp_path / "r"
    before = json.loads((run / "manifest.json").read_text())
    n_before = len(pd.read_csv(run / "archive.csv"))
    # a plain resume with other weights is still refused
    assert main(["evolve", "--resume", str(run), "--searcher", str(new), "--quiet"]) == 2
    assert "--searcher with --rejudge" in capsys.readouterr().err
    assert main(["evolve", "--resume", str(run), "--rejudge", "--quiet"]) == 2
    assert "give the new searcher" in capsys.readouterr().err
    assert main(["evolve", "--resume", str(run), "--searcher", str(old), "--rejudge", "--quiet"]) == 2
    assert "already judged by this searcher" in capsys.readouterr().err

    assert main(["evolve", "--resume", str(run), "--searcher", str(new), "--rejudge", "--iterations", "5",
                 "--quiet", "--no-plots"]) == 0
    man = json.loads((run / "manifest.json").read_text())
    model = load_emotion_model(str(new))
    assert man["models"]["searcher"]["sha256"] == model_sha256(model) and man["iterations"] == 5
    hist = man["searcher_history"]
    assert len(hist) == 1 and hist[0]["sha256"] == before["models"]["searcher"]["sha256"]
    assert hist[0]["until_iteration"] == 3 and hist[0]["elites_before"] == n_before
    assert any("re-judged at iteration 3" in n for n in man["notes"])
    assert man["created"] == before["created"]
    # every elite now is where the new searcher puts it
    df = pd.read_csv(run / "archive.csv")
    imgs = torch.stack([load_image(run / p) for p in df["image"]])
    with torch.no_grad():
        v = model.predict(imgs).mean[:, 0].numpy()
    assert np.corrcoef(v, df["valence"])[0, 1] > 0.99
    # the config now names the new searcher: a plain resume continues, and keeps the history
    assert main(["evolve", "--resume", str(run), "--iterations", "6", "--quiet", "--no-plots"]) == 0
    again = json.loads((run / "manifest.json").read_text())
    assert again["iterations"] == 6 and again["searcher_history"] == hist
