"""Training: losses move, resume is exact, weights round-trip, bad checkpoints are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qdemo.errors import CheckpointError, QdemoError
from qdemo.generator import GeneratorConfig, load_generator, train
from qdemo.generator.data import load_photo_tensor


def _cfg(out: Path, **kw) -> GeneratorConfig:
    base = dict(out=out, resolution=16, z_dim=8, g_channels=4, d_channels=4, embed_dim=8, batch_size=8,
                steps=6, searcher="tiny", cache_dir=None, device="cpu", log_every=2, sample_every=3,
                checkpoint_every=3, lambda_emo=20.0)
    base.update(kw)
    return GeneratorConfig(**base)


@pytest.fixture()
def photos() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(24, 3, 16, 16, generator=g) * 255).to(torch.uint8)


def test_resume_is_exact(tmp_path, photos):
    straight = train(_cfg(tmp_path / "a"), photos=photos, progress=False)
    part = _cfg(tmp_path / "b", steps=3)
    train(part, photos=photos, progress=False)
    with pytest.raises(QdemoError, match="--resume"):
        train(part, photos=photos, progress=False)  # never overwrite a run silently
    resumed = train(_cfg(tmp_path / "b"), photos=photos, progress=False, resume=True)
    ga, gb = load_generator(straight), load_generator(resumed)
    for (k, va), vb in zip(ga.state_dict().items(), gb.state_dict().values()):
        assert torch.allclose(va.float(), vb.float(), atol=1e-6), k
    out = tmp_path / "b"
    assert (out / "config.yaml").exists() and (out / "samples" / "step_000003.png").exists()
    log = (out / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,seconds,loss_d") and [r.split(",")[0] for r in log[1:]] == ["2", "3", "4", "6"]


def test_emotion_loss_pulls_searcher_towards_condition(tmp_path, photos):
    from qdemo.emotion import TinyEmotionModel
    from qdemo.generator.sample import generate

    searcher = TinyEmotionModel(seed=0).eval()
    cond = torch.rand(64, 3, generator=torch.Generator().manual_seed(5)) * 2 - 1

    def mse(path):
        g = load_generator(path)
        with torch.no_grad():
            return float(((searcher(generate(g, cond, seed=1)) - cond) ** 2).mean())

    before = train(_cfg(tmp_path / "s0", steps=1), photos=photos, progress=False)
    after = train(_cfg(tmp_path / "s1", steps=20, lambda_emo=100.0, augment="", lr_g=2e-3, sample_every=100,
                       checkpoint_every=100), photos=photos, progress=False)
    assert mse(after) < 0.8 * mse(before)


def test_weights_errors(tmp_path, photos):
    path = train(_cfg(tmp_path / "w", steps=1), photos=photos, progress=False)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    bad.with_suffix(".json").write_text(path.with_suffix(".json").read_text())
    with pytest.raises(CheckpointError, match="corrupt"):
        load_generator(bad)
    with pytest.raises(CheckpointError, match="not found"):
        load_generator(tmp_path / "missing.safetensors")
    path.with_suffix(".json").unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_generator(path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(_cfg(tmp_path / "fresh"), photos=photos, progress=False, resume=True)


def test_photo_cache(tmp_path, image_dir, monkeypatch):
    imgs, paths = load_photo_tensor([image_dir], 16, cache_dir=tmp_path / "cache", progress=False)
    assert imgs.shape == (6, 3, 16, 16) and imgs.dtype == torch.uint8 and len(paths) == 6
    # second call reads the cache: decoding would fail now
    import qdemo.generator.data as data

    monkeypatch.setattr(data, "open_rgb", lambda p: (_ for _ in ()).throw(AssertionError("decoded again")))
    again, _ = load_photo_tensor([image_dir], 16, cache_dir=tmp_path / "cache", progress=False)
    assert torch.equal(again, imgs)
    monkeypatch.undo()
    (image_dir / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    from qdemo.errors import DataError

    with pytest.raises(DataError, match="broken.jpg"):
        load_photo_tensor([image_dir], 16, cache_dir=None, progress=False)
    with pytest.raises(DataError, match="not found"):
        load_photo_tensor([tmp_path / "nowhere"], 16, cache_dir=None, progress=False)


def test_init_from_a_gan_only_pretraining(tmp_path, photos):
    from qdemo.generator.train import GeneratorTrainer

    pre = tmp_path / "pre"
    train(_cfg(pre, steps=2, lambda_emo=0.0, projection=False), photos=photos, progress=False)
    tr = GeneratorTrainer(_cfg(tmp_path / "ft", init_from=pre, projection=True), photos=photos, progress=False)
    state = torch.load(pre / "checkpoint" / "train_state.pt", weights_only=True)
    for k, v in state["G"].items():
        assert torch.equal(tr.G.state_dict()[k], v), k
    assert tr.D.projection is not None and tr.init_info["init_steps"] == 2
    with pytest.raises(CheckpointError, match="init_from needs"):
        GeneratorTrainer(_cfg(tmp_path / "x", init_from=tmp_path / "nothing"), photos=photos, progress=False)
    with pytest.raises(CheckpointError, match="do not match"):
        GeneratorTrainer(_cfg(tmp_path / "y", init_from=pre, g_channels=8), photos=photos, progress=False)


def test_condition_learning_rate_and_emotion_weights(tmp_path, photos):
    from qdemo.generator.train import GeneratorTrainer

    tr = GeneratorTrainer(_cfg(tmp_path / "c", lr_cond=1e-2, emo_weights=(2.0, 1.0, 0.0)), photos=photos,
                          progress=False)
    groups = tr.opt_g.param_groups
    assert [g["lr"] for g in groups] == [3e-4, 1e-2]
    cond_ids = {id(p) for p in groups[1]["params"]}
    names = {n for n, p in tr.G.named_parameters() if id(p) in cond_ids}
    assert names and all(n.startswith("embed.") or ".norm." in n for n in names)
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(tr.G.parameters()))
    assert torch.allclose(tr.emo_w, torch.tensor([2.0, 1.0, 0.0]))  # normalised to mean 1
    # dominance weighted 0: its searcher error does not enter the emotion loss
    stats = tr.train_step()
    assert stats["g_emo_mse"] == pytest.approx((2 * stats["mse_v"] + stats["mse_a"]) / 3, rel=1e-4)
    with pytest.raises(QdemoError, match="emo_weights"):
        GeneratorTrainer(_cfg(tmp_path / "d", emo_weights=(0.0, 0.0, 0.0)), photos=photos, progress=False)
    # a resume state with one optimiser group cannot silently continue with two
    train(_cfg(tmp_path / "r", steps=1), photos=photos, progress=False)
    with pytest.raises(CheckpointError, match="does not match"):
        train(_cfg(tmp_path / "r", steps=2, lr_cond=1e-2), photos=photos, progress=False, resume=True)


def test_cli_set_out_and_device_are_honoured(tmp_path, photos):
    """`--set out=...` / `--set device=...` win over the file when --out / --device are not given."""
    from PIL import Image

    from qdemo.cli import main

    photo_dir = tmp_path / "photos"
    photo_dir.mkdir()
    for i, p in enumerate(photos[:8]):
        Image.fromarray(p.permute(1, 2, 0).numpy()).save(photo_dir / f"p{i}.png")
    cfg = tmp_path / "gen.yaml"
    cfg.write_text(f"out: {tmp_path / 'from_file'}\nphotos: [{photo_dir}]\ncache_dir: null\nresolution: 16\n"
                   "z_dim: 8\ng_channels: 4\nd_channels: 4\nembed_dim: 8\nbatch_size: 4\nsteps: 1\n"
                   "searcher: tiny\ndevice: cuda:7\nthreads: 1\n")
    rc = main(["generator", "train", "--config", str(cfg), "--no-progress",
               "--set", f"out={tmp_path / 'from_set'}", "--set", "device=cpu"])
    assert rc == 0
    assert (tmp_path / "from_set" / "generator.safetensors").exists()
    assert not (tmp_path / "from_file").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_resume_on_cuda(tmp_path, photos):
    """A run checkpointed on the GPU resumes there (RNG states stay CPU tensors)."""
    part = _cfg(tmp_path / "g", steps=3, device="cuda")
    train(part, photos=photos, progress=False)
    resumed = train(_cfg(tmp_path / "g", device="cuda"), photos=photos, progress=False, resume=True)
    log = (tmp_path / "g" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in log[1:]] == ["2", "3", "4", "6"]
    assert load_generator(resumed) is not None
