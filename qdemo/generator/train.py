"""Training the conditional generator: hinge GAN + lambda_emo * MSE(searcher(G(z, c)), c).

Per step: one discriminator update on real photos (with the searcher's VAD of each photo
as its condition) versus generated images, both through DiffAugment; then one generator
update on fresh latents and conditions drawn uniformly over the whole VAD cube [-1, 1]^3.
The generator's loss is the adversarial hinge loss plus ``lambda_emo`` times the mean
squared error between the frozen searcher's VAD of the generated images and the condition.
An exponential moving average of the generator's weights is what gets saved.

A run folder holds ``config.yaml``, ``log.csv``, ``samples/step_<n>.png`` (a valence x
arousal sweep with fixed latents), ``checkpoint/train_state.pt`` (resume state, tensors
only: loaded with ``weights_only=True``) and, at the end, ``generator.safetensors`` +
``generator.json``.
"""

from __future__ import annotations

import copy
import io
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from qdemo.config import save_config, to_dict
from qdemo.errors import CheckpointError, QdemoError
from qdemo.generator.config import GeneratorConfig
from qdemo.generator.data import load_photo_tensor, model_key, score_photos
from qdemo.generator.models import DiffAugment, Discriminator, Generator, GeneratorArch
from qdemo.generator.sample import image_grid, va_sweep_conditions
from qdemo.emotion.zoo import load_emotion_model
from qdemo.generator.weights_io import save_generator
from qdemo.io import atomic_path, atomic_write_text
from qdemo.tables import read_output_table, table_text


def _state_bytes(obj: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


class GeneratorTrainer:
    """Holds the networks, optimisers and seeded random streams of one training run."""

    def __init__(self, cfg: GeneratorConfig, *, searcher: torch.nn.Module | None = None,
                 photos: torch.Tensor | None = None, progress: bool = True):
        from qdemo.device import resolve_device

        self.cfg = cfg
        self.progress = progress
        self.device = resolve_device(cfg.device)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.arch = GeneratorArch(resolution=cfg.resolution, z_dim=cfg.z_dim, channels=cfg.g_channels,
                                  embed_dim=cfg.embed_dim)
        self.G = Generator(self.arch).to(self.device)
        self.D = Discriminator(cfg.resolution, cfg.d_channels, projection=cfg.projection).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval()
        for p in self.G_ema.parameters():
            p.requires_grad_(False)
        w = torch.tensor([float(x) for x in cfg.emo_weights])
        if w.shape != (3,) or not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise QdemoError(f"emo_weights {list(cfg.emo_weights)}: need three non-negative numbers, not all 0")
        self.emo_w = (w * 3 / w.sum()).to(self.device)  # (3,), mean 1
        cond_params = [p for n, p in self.G.named_parameters() if self.G.is_condition_param(n)]
        other = [p for n, p in self.G.named_parameters() if not self.G.is_condition_param(n)]
        groups = [{"params": other}]
        if cfg.lr_cond is not None:  # a second group only when asked (keeps older resume states loadable)
            groups.append({"params": cond_params, "lr": cfg.lr_cond})
        else:
            groups[0]["params"] = other + cond_params
        self.opt_g = torch.optim.Adam(groups, lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self.gen = torch.Generator().manual_seed(cfg.seed + 1)  # data order, z, c
        self.augment = DiffAugment(cfg.augment, seed=cfg.seed + 2) if cfg.augment else None
        self.emo_augment = DiffAugment(cfg.emo_augment, seed=cfg.seed + 4) if cfg.emo_augment else None
        self.searcher = searcher if searcher is not None else load_emotion_model(cfg.searcher, role="searcher", device=self.device)
        self.searcher = self.searcher.to(self.device).eval()
        for p in self.searcher.parameters():
            p.requires_grad_(False)
        if photos is None:
            photos, _ = load_photo_tensor(cfg.photos, cfg.resolution, cache_dir=cfg.cache_dir, progress=progress)
        if photos.shape[-1] != cfg.resolution:
            raise QdemoError(f"photos are {photos.shape[-1]}px but resolution is {cfg.resolution}")
        self.photos = photos  # (N, 3, R, R) uint8, CPU
        self.labels = score_photos(photos, self.searcher, cache_dir=cfg.cache_dir,
                                   tag=f"{cfg.resolution}", progress=progress).clamp(-1, 1)  # (N, 3)
        self.step = 0
        self.seconds = 0.0
        if cfg.init_from is not None:
            self.init_networks(Path(cfg.init_from))
        sweep_gen = torch.Generator().manual_seed(cfg.seed + 3)
        self.sweep_c = va_sweep_conditions(5)  # (25, 3), fixed for comparable grids
        self.sweep_z = torch.randn(1, cfg.z_dim, generator=sweep_gen).expand(25, -1).contiguous()

    # ----------------------------------------------------------------- steps
    def _aug(self, x: torch.Tensor) -> torch.Tensor:
        return self.augment(x) if self.augment is not None else x

    def _conditions(self, n: int) -> torch.Tensor:
        return (torch.rand(n, 3, generator=self.gen) * 2 - 1).to(self.device)  # (n, 3) uniform over the cube

    def train_step(self) -> dict[str, float]:
        cfg, dev = self.cfg, self.device
        b = cfg.batch_size
        # --- discriminator
        idx = torch.randint(0, len(self.photos), (b,), generator=self.gen)
        real = self.photos[idx].to(dev).float().div(255.0)  # (B, 3, R, R)
        if cfg.flip:
            flip = (torch.rand(b, generator=self.gen) < 0.5).to(dev)
            real = torch.where(flip[:, None, None, None], real.flip(-1), real)
        c_real = self.labels[idx].to(dev)
        z = self.G.sample_z(b, generator=self.gen, device=dev)
        c_fake = self._conditions(b)
        with torch.no_grad():
            fake = self.G(z, c_fake)
        d_real = self.D(self._aug(real), c_real)
        d_fake = self.D(self._aug(fake), c_fake)
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # --- generator
        for p in self.D.parameters():
            p.requires_grad_(False)
        z = self.G.sample_z(b, generator=self.gen, device=dev)
        c = self._conditions(b)
        fake = self.G(z, c)  # (B, 3, R, R)
        adv = -self.D(self._aug(fake), c).mean()
        ne = b if cfg.emo_batch <= 0 else min(cfg.emo_batch, b)
        seen = self.emo_augment(fake[:ne]) if self.emo_augment is not None else fake[:ne]
        if cfg.lambda_emo > 0:
            sq = (self.searcher(seen) - c[:ne]) ** 2  # (ne, 3)
            emo = (sq * self.emo_w).mean()
            loss_g = adv + cfg.lambda_emo * emo
        else:  # monitored only: no gradient through the searcher
            with torch.no_grad():
                sq = (self.searcher(seen.detach()) - c[:ne]) ** 2
                emo = (sq * self.emo_w).mean()
            loss_g = adv
        per_dim = sq.detach().mean(dim=0)  # (3,) unweighted searcher MSE per dimension
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        for p in self.D.parameters():
            p.requires_grad_(True)
        self._update_ema()
        self.step += 1
        return {"loss_d": loss_d.item(), "d_real": d_real.detach().mean().item(),
                "d_fake": d_fake.detach().mean().item(), "g_adv": adv.item(), "g_emo_mse": emo.item(),
                "mse_v": per_dim[0].item(), "mse_a": per_dim[1].item(), "mse_d": per_dim[2].item()}

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))  # warm-up: short runs are not averaged with their start
        for pe, p in zip(self.G_ema.parameters(), self.G.parameters()):
            pe.lerp_(p, 1 - decay)
        for be, b in zip(self.G_ema.buffers(), self.G.buffers()):
            be.copy_(b)

    def init_networks(self, run: Path) -> None:
        """Copy G, G_ema and D (all but a missing projection head) from ``run``'s checkpoint."""
        ckpt = run / "checkpoint" / "train_state.pt"
        if not ckpt.exists():
            raise CheckpointError(f"{ckpt}: init_from needs a training run folder with a checkpoint")
        try:
            state = torch.load(ckpt, weights_only=True, map_location="cpu")
            self.G.load_state_dict(state["G"])
            self.G_ema.load_state_dict(state["G_ema"])
            missing, unexpected = self.D.load_state_dict(state["D"], strict=False)
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"{ckpt}: networks do not match this config ({exc})") from None
        bad = [k for k in missing if not k.startswith("projection.")] + [k for k in unexpected if not k.startswith("projection.")]
        if bad:
            raise CheckpointError(f"{ckpt}: discriminator does not match this config (keys {bad[:3]})")
        self.init_info = {"init_from": str(run), "init_steps": int(state["step"]),
                          "init_seconds": float(state["seconds"])}

    # ------------------------------------------------------------ artefacts
    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        return self.G_ema(self.sweep_z.to(self.device), self.sweep_c.to(self.device)).cpu()  # (25, 3, R, R)

    def state(self) -> dict[str, Any]:
        return {
            "G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "gen": self.gen.get_state(), "aug": self.augment.gen.get_state() if self.augment else torch.zeros(0),
            "emo_aug": self.emo_augment.gen.get_state() if self.emo_augment else torch.zeros(0),
            "step": torch.tensor(self.step), "seconds": torch.tensor(self.seconds, dtype=torch.float64),
            "searcher_key": model_key(self.searcher),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        # generator states are CPU ByteTensors whatever device the checkpoint was mapped to
        self.gen.set_state(state["gen"].cpu())
        if self.augment is not None and state["aug"].numel():
            self.augment.gen.set_state(state["aug"].cpu())
        if self.emo_augment is not None and state.get("emo_aug", torch.zeros(0)).numel():
            self.emo_augment.gen.set_state(state["emo_aug"].cpu())
        self.step = int(state["step"])
        self.seconds = float(state["seconds"])


LOG_FIELDS = ["step", "seconds", "loss_d", "d_real", "d_fake", "g_adv", "g_emo_mse", "mse_v", "mse_a", "mse_d"]


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
    meta = {
        "steps": trainer.step, "train_seconds": round(trainer.seconds, 1), "lambda_emo": cfg.lambda_emo,
        "batch_size": cfg.batch_size, "searcher": cfg.searcher, "searcher_key": model_key(trainer.searcher),
        "searcher_name": getattr(getattr(trainer.searcher, "info", None), "name", type(trainer.searcher).__name__),
        "n_photos": int(len(trainer.photos)), "photos": [str(p) for p in cfg.photos], "device": str(trainer.device),
        "seed": cfg.seed, "config": to_dict(cfg), **getattr(trainer, "init_info", {}),
    }
    return save_generator(trainer.G_ema, out / "generator.safetensors", meta)


__all__ = ["GeneratorConfig", "GeneratorTrainer", "LOG_FIELDS", "train"]
