"""Training the conditional generator: hinge GAN + lambda_emo * MSE(searcher(G(z, c)), c)
(+ lambda_div * the mode-seeking term); the step itself is :mod:`qdemo.generator.trainer`.

A run folder holds ``config.yaml``, ``log.csv``, ``samples/step_<n>.png`` (a valence x
arousal sweep with fixed latents), ``checkpoint/train_state.pt`` (resume state, tensors
only: loaded with ``weights_only=True``) and, at the end, ``generator.safetensors`` +
``generator.json``.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from qdemo.config import portable, save_config
from qdemo.errors import CheckpointError, QdemoError
from qdemo.generator.config import GeneratorConfig
from qdemo.generator.data import model_key
from qdemo.generator.sample import image_grid
from qdemo.generator.trainer import GeneratorTrainer, build_generator
from qdemo.generator.weights_io import save_generator
from qdemo.io import atomic_path, atomic_write_text
from qdemo.tables import read_output_table, table_text


def _state_bytes(obj: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


LOG_FIELDS = ["step", "seconds", "loss_d", "d_real", "d_fake", "g_adv", "g_emo_mse", "mse_v", "mse_a", "mse_d",
              "div_ratio"]


def _open_trainer(cfg: GeneratorConfig, ckpt: Path, resume: bool, searcher: torch.nn.Module | None,
                  photos: torch.Tensor | None, progress: bool) -> GeneratorTrainer:
    """The trainer of ``cfg``; with ``resume``, its state restored from the checkpoint ``ckpt``."""
    out = Path(cfg.out)
    if ckpt.exists() and not resume:
        raise QdemoError(f"{out}: a training run is already there; pass --resume to continue it or choose another --out")
    if resume and not ckpt.exists():
        raise CheckpointError(f"{ckpt}: no checkpoint to resume from")
    trainer = GeneratorTrainer(cfg, searcher=searcher, photos=photos, progress=progress)
    if resume:
        try:
            # on the CPU: load_state_dict copies to the device, and RNG states must stay CPU ByteTensors
            state = torch.load(ckpt, weights_only=True, map_location="cpu")
        except Exception as exc:
            raise CheckpointError(f"{ckpt}: cannot read the resume checkpoint ({exc})") from None
        if state.get("searcher_key") != model_key(trainer.searcher):
            raise CheckpointError(f"{ckpt}: was trained with a different searcher than {cfg.searcher!r}")
        try:
            trainer.load_state(state)
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{ckpt}: does not match this config ({exc})") from None
    return trainer


class _RunFiles:
    """What a run folder gets while training: ``log.csv``, the resume checkpoint, sample grids."""

    def __init__(self, out: Path, ckpt: Path, trainer: GeneratorTrainer, *, resume: bool):
        self.out, self.ckpt, self.trainer = out, ckpt, trainer
        self.log_path = out / "log.csv"
        self.rows: list[dict[str, Any]] = []
        if resume and self.log_path.exists():  # keep the rows up to the checkpoint's step
            log = read_output_table(self.log_path, required=("step",))
            self.rows = [r for r in log.dicts() if int(r["step"]) <= trainer.step]

    def write_log(self) -> None:
        atomic_write_text(self.log_path, table_text(LOG_FIELDS, self.rows))

    def checkpoint(self) -> None:
        from qdemo.io import atomic_write_bytes

        atomic_write_bytes(self.ckpt, _state_bytes(self.trainer.state()))
        self.write_log()

    def save_samples(self) -> None:
        grid = image_grid(self.trainer.sample_grid(), nrow=5)
        with atomic_path(self.out / "samples" / f"step_{self.trainer.step:06d}.png") as tmp:
            grid.save(tmp, format="PNG")


def _run_steps(cfg: GeneratorConfig, trainer: GeneratorTrainer, files: _RunFiles, *, progress: bool,
               on_step: Callable[[int, dict[str, float]], None] | None) -> None:
    """Train until ``cfg.steps`` (or ``cfg.max_minutes``), logging, sampling and checkpointing."""
    session_start = time.perf_counter()
    bar = tqdm(total=cfg.steps, initial=trainer.step, desc="generator", unit="step", disable=not progress)
    acc: dict[str, float] = {}
    n_acc = 0
    trainer.G.train()
    try:
        while trainer.step < cfg.steps:
            t0 = time.perf_counter()
            stats = trainer.train_step()
            trainer.seconds += time.perf_counter() - t0
            for k, v in stats.items():
                acc[k] = acc.get(k, 0.0) + v
            n_acc += 1
            bar.update(1)
            if on_step is not None:
                on_step(trainer.step, stats)
            if trainer.step % cfg.log_every == 0 or trainer.step == cfg.steps:
                row = {"step": trainer.step, "seconds": round(trainer.seconds, 2)}
                row.update({k: round(v / n_acc, 5) for k, v in acc.items()})
                files.rows.append(row)
                bar.set_postfix(d=f"{row['loss_d']:.2f}", adv=f"{row['g_adv']:.2f}", emo=f"{row['g_emo_mse']:.3f}")
                files.write_log()
                acc, n_acc = {}, 0
            if trainer.step % cfg.sample_every == 0:
                files.save_samples()
            if trainer.step % cfg.checkpoint_every == 0:
                files.checkpoint()
            if cfg.max_minutes > 0 and time.perf_counter() - session_start > cfg.max_minutes * 60:
                break
    except KeyboardInterrupt:
        files.checkpoint()  # Ctrl-C: keep every finished step; --resume continues from here
        raise
    finally:
        bar.close()


def train(cfg: GeneratorConfig, *, resume: bool = False, searcher: torch.nn.Module | None = None,
          photos: torch.Tensor | None = None, progress: bool = True,
          on_step: Callable[[int, dict[str, float]], None] | None = None) -> Path:
    """Train (or resume) and write the run folder; return the path of the final weights."""
    out = Path(cfg.out)
    ckpt = out / "checkpoint" / "train_state.pt"
    trainer = _open_trainer(cfg, ckpt, resume, searcher, photos, progress)
    save_config(cfg, out / "config.yaml")
    files = _RunFiles(out, ckpt, trainer, resume=resume)
    _run_steps(cfg, trainer, files, progress=progress, on_step=on_step)
    files.checkpoint()
    files.save_samples()
    meta = training_facts(cfg, trainer)
    return save_generator(trainer.G_ema, out / "generator.safetensors", meta)


def training_facts(cfg: GeneratorConfig, trainer: GeneratorTrainer) -> dict[str, Any]:
    """What the weights' JSON records: the judge (the searcher's name and weights hash, the key
    run manifests use), the schedule and the config, with no machine paths."""
    from qdemo.emotion.judge import judge_record

    return {
        "steps": trainer.step, "train_seconds": round(trainer.seconds, 1), "lambda_emo": cfg.lambda_emo,
        "lambda_div": cfg.lambda_div, "lambda_adv": cfg.lambda_adv, "batch_size": cfg.batch_size, "judge": judge_record(trainer.searcher),
        "searcher": portable(str(cfg.searcher)), "n_photos": int(len(trainer.photos)),
        "photos": portable([str(p) for p in cfg.photos]), "device": str(trainer.device),
        "threads": torch.get_num_threads(), "seed": cfg.seed, "config": portable(cfg),
        **portable(trainer.init_info),
    }


__all__ = ["GeneratorConfig", "GeneratorTrainer", "LOG_FIELDS", "build_generator", "train", "training_facts"]
