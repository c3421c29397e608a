"""qdemo generator sample (single VAD and grid), and the latent renderer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from qdemo.cli import main


def test_sample_vad_and_grid(tmp_path, tiny_generator_path, capsys):
    out = tmp_path / "s"
    assert main(["generator", "sample", "--vad=-0.5,0.8,0", "-n", "3", "--out", str(out),
                 "--generator", str(tiny_generator_path), "--device", "cpu"]) == 0
    files = sorted(out.glob("*.png"))
    assert len(files) == 3
    arrs = [np.asarray(Image.open(f)) for f in files]
    assert arrs[0].shape == (16, 16, 3) and not np.array_equal(arrs[0], arrs[1])  # different latents
    assert main(["generator", "sample", "--grid", "--steps", "3", "--dominance", "0.5", "--out", str(out),
                 "--generator", str(tiny_generator_path), "--device", "cpu"]) == 0
    pic = out / "va_sweep_d+0.50.png"
    assert pic.exists() and Image.open(pic).size[0] > 100


def test_sample_select_keeps_the_searchers_nearest(tmp_path, tiny_generator_path, capsys):
    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.generator import generate, load_generator

    out = tmp_path / "sel"
    assert main(["generator", "sample", "--vad=0.4,-0.2,0", "-n", "2", "--select", "6", "--searcher", "tiny:0",
                 "--out", str(out), "--generator", str(tiny_generator_path), "--device", "cpu"]) == 0
    assert "the 2 of 6 draws the searcher places nearest" in capsys.readouterr().out
    kept = [np.asarray(Image.open(f)) for f in sorted(out.glob("*.png"))]
    every = generate(load_generator(str(tiny_generator_path)), [[0.4, -0.2, 0.0]] * 6, seed=0)
    with torch.no_grad():
        err = (load_emotion_model("tiny:0", role="searcher")(every) - torch.tensor([0.4, -0.2, 0.0])).abs().mean(1)
    from qdemo.qd.content import content_score

    ok = (content_score(every) >= 0.5).numpy()  # the explorer's content prior: draws without content go last
    want = sorted(np.lexsort((err.numpy(), ~ok))[:2].tolist())
    pngs = [(every[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for i in want]
    assert len(kept) == 2 and all(np.abs(k.astype(int) - w.astype(int)).max() <= 1 for k, w in zip(kept, pngs))
    assert main(["generator", "sample", "--grid", "--select", "4", "--out", str(out),
                 "--generator", str(tiny_generator_path)]) == 2
    assert "--select works with --vad" in capsys.readouterr().err


@pytest.mark.parametrize("vad,msg", [("2,0,0", "on \\[-1, 1\\]"), ("a,b,c", "expected numbers"), ("1", "expected V,A,D")])
def test_sample_bad_vad(tmp_path, tiny_generator_path, capsys, vad, msg):
    import re

    rc = main(["generator", "sample", f"--vad={vad}", "--out", str(tmp_path), "--generator", str(tiny_generator_path)])
    assert rc == 2
    assert re.search(msg, capsys.readouterr().err)


def test_sample_missing_checkpoint(tmp_path, capsys):
    rc = main(["generator", "sample", "--vad=0,0,0", "--out", str(tmp_path), "--generator", str(tmp_path / "x.safetensors")])
    assert rc == 2 and "not found" in capsys.readouterr().err


def test_latent_renderer(tiny_generator_path):
    from qdemo.render import make_renderer

    r = make_renderer("generator", resolution=32, seed=0, checkpoint=str(tiny_generator_path))
    assert r.solution_dim == 8 + 3
    x = torch.randn(4, r.solution_dim, generator=torch.Generator().manual_seed(0), requires_grad=True)
    imgs = r(x)
    assert imgs.shape == (4, 3, 32, 32) and imgs.min() >= 0 and imgs.max() <= 1
    imgs.mean().backward()
    assert (x.grad[:, :8].abs().sum(1) > 0).all() and (x.grad[:, 8:].abs().sum(1) > 0).all()
    # the last three numbers are the condition: changing them changes the image
    y = x.detach().clone()
    y[:, 8:] = -y[:, 8:]
    assert (r(y) - r(x.detach())).abs().max() > 1e-3
    fixed = make_renderer("generator", resolution=16, seed=0, checkpoint=str(tiny_generator_path),
                          with_condition=False, condition=(0.5, -0.5, 0.0))
    assert fixed.solution_dim == 8 and fixed(torch.zeros(2, 8)).shape == (2, 3, 16, 16)
    assert fixed.describe()["checkpoint"] == str(tiny_generator_path)
