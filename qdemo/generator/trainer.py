"""One training run of a conditional generator: networks, optimisers, seeded streams, one step.

Per step: one discriminator update on real images (with the searcher's VAD of each as its
condition) versus generated images, both through DiffAugment; then one generator update on
fresh latents and conditions drawn uniformly from ``cond_ranges``. The generator's loss is
the adversarial hinge loss, plus ``lambda_emo`` times the (per-dimension weighted) mean
squared error between the frozen searcher's VAD of the generated images and the condition,
plus ``lambda_div`` times the mode-seeking term of :mod:`qdemo.generator.diversity` (latents
in pairs that share a condition). The generator is the pixel CNN or, with ``renderer``, a
:class:`~qdemo.generator.rendered.RenderedGenerator`; an exponential moving average of its
weights is what gets saved.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from qdemo.errors import CheckpointError, ConfigError, QdemoError
from qdemo.generator.config import GeneratorConfig
from qdemo.generator.data import load_photo_tensor, model_key, score_photos
from qdemo.generator.diversity import augment_pairs, mode_seeking_loss, paired_conditions
from qdemo.generator.models import DiffAugment, Discriminator, Generator, GeneratorArch
from qdemo.generator.sample import va_sweep_conditions
from qdemo.emotion.zoo import load_emotion_model


def build_generator(cfg: GeneratorConfig) -> torch.nn.Module:
    """The untrained generator a config describes: the pixel CNN, or one drawing through ``cfg.renderer``."""
    if cfg.renderer is None:
        return Generator(GeneratorArch(resolution=cfg.resolution, z_dim=cfg.z_dim, channels=cfg.g_channels,
                                       embed_dim=cfg.embed_dim))
    from qdemo.generator.rendered import RenderedArch, RenderedGenerator

    return RenderedGenerator(RenderedArch(
        renderer=cfg.renderer, options=dict(cfg.renderer_options), resolution=cfg.resolution, z_dim=cfg.z_dim,
        width=cfg.mlp_width, layers=cfg.mlp_layers, embed_dim=cfg.embed_dim, init_spread=cfg.init_spread,
        seed=cfg.seed))


def _ranges(cfg: GeneratorConfig) -> torch.Tensor:
    r = torch.tensor(cfg.cond_ranges, dtype=torch.float32)
    if r.shape != (3, 2) or (r[:, 0] >= r[:, 1]).any() or r.abs().max() > 1:
        raise ConfigError(f"cond_ranges {cfg.cond_ranges}: need three [low, high] ranges inside [-1, 1]")
    return r


def _emo_weights(cfg: GeneratorConfig) -> torch.Tensor:
    w = torch.tensor([float(x) for x in cfg.emo_weights])
    if w.shape != (3,) or not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise QdemoError(f"emo_weights {list(cfg.emo_weights)}: need three non-negative numbers, not all 0")
    return w * 3 / w.sum()  # (3,), mean 1


class GeneratorTrainer:
    """Holds the networks, optimisers and seeded random streams of one training run."""

    def __init__(self, cfg: GeneratorConfig, *, searcher: torch.nn.Module | None = None,  # long: one init
                 photos: torch.Tensor | None = None, progress: bool = True):
        from qdemo.device import resolve_device

        self.cfg = cfg
        self.progress = progress
        self.device = resolve_device(cfg.device)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.G = build_generator(cfg).to(self.device)
        self.arch = self.G.arch
        self.D = Discriminator(cfg.resolution, cfg.d_channels, projection=cfg.projection).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval()
        for p in self.G_ema.parameters():
            p.requires_grad_(False)
        self.emo_w = _emo_weights(cfg).to(self.device)
        self.ranges = _ranges(cfg)
        cond_params = [p for n, p in self.G.named_parameters() if p.requires_grad and self.G.is_condition_param(n)]
        other = [p for n, p in self.G.named_parameters() if p.requires_grad and not self.G.is_condition_param(n)]
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
        self.init_info: dict[str, Any] = {}
        if cfg.init_from is not None:
            self.init_networks(Path(cfg.init_from))
        if cfg.init_weights is not None:
            self.init_generator(Path(cfg.init_weights))
        sweep_gen = torch.Generator().manual_seed(cfg.seed + 3)
        self.sweep_c = va_sweep_conditions(5)  # (25, 3), fixed for comparable grids
        self.sweep_z = torch.randn(1, cfg.z_dim, generator=sweep_gen).expand(25, -1).contiguous()

    # ----------------------------------------------------------------- steps
    def _aug(self, x: torch.Tensor) -> torch.Tensor:
        return self.augment(x) if self.augment is not None else x

    def _conditions(self, n: int) -> torch.Tensor:
        lo, hi = self.ranges[:, 0], self.ranges[:, 1]
        return (lo + torch.rand(n, 3, generator=self.gen) * (hi - lo)).to(self.device)  # (n, 3) uniform in the box

    def _d_step(self) -> dict[str, float]:
        cfg, dev, b = self.cfg, self.device, self.cfg.batch_size
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
        return {"loss_d": loss_d.item(), "d_real": d_real.detach().mean().item(), "d_fake": d_fake.detach().mean().item()}

    def _g_step(self) -> dict[str, float]:
        cfg, dev = self.cfg, self.device
        pairs = cfg.lambda_div > 0
        c = paired_conditions(self._conditions(cfg.batch_size // 2)) if pairs else self._conditions(cfg.batch_size)
        z = self.G.sample_z(len(c), generator=self.gen, device=dev)
        params = self.G.params(z, c) if hasattr(self.G, "params") else None  # rendered: (B, dim)
        fake = self.G.renderer(params) if params is not None else self.G(z, c)  # (B, 3, R, R)
        adv = -self.D(self._aug(fake), c).mean()
        ne = len(c) if cfg.emo_batch <= 0 else min(cfg.emo_batch, len(c))
        ne -= ne % 2 if pairs else 0
        if pairs:
            seen = augment_pairs(self.emo_augment, fake[:ne])
        else:
            seen = self.emo_augment(fake[:ne]) if self.emo_augment is not None else fake[:ne]
        grad = cfg.lambda_emo > 0 or (pairs and cfg.div_space == "features")
        with torch.set_grad_enabled(grad):  # lambda_emo 0 without a feature term: monitored only
            pred, feats = self.searcher.predict_with_features(seen if grad else seen.detach())
        sq = (pred.mean - c[:ne]) ** 2  # (ne, 3)
        emo = (sq * self.emo_w).mean()
        loss_g = cfg.lambda_adv * adv + (cfg.lambda_emo * emo if cfg.lambda_emo > 0 else 0.0)
        ratio = torch.full((1,), float("nan"))
        if pairs:
            div, ratio = mode_seeking_loss(feats if cfg.div_space == "features" else fake[:ne], z[:ne], cfg.div_tau)
            loss_g = loss_g + cfg.lambda_div * div
        loss_g = loss_g + self._regularisers(fake, params)
        per_dim = sq.detach().mean(dim=0)  # (3,) unweighted searcher MSE per dimension
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return {"g_adv": adv.item(), "g_emo_mse": emo.item(), "mse_v": per_dim[0].item(),
                "mse_a": per_dim[1].item(), "mse_d": per_dim[2].item(), "div_ratio": ratio.mean().item()}

    def _regularisers(self, fake: torch.Tensor, params: torch.Tensor | None) -> torch.Tensor | float:
        """The parameter prior (rendered generators) and the contrast floor, as configured."""
        cfg, out = self.cfg, 0.0
        if cfg.lambda_prior > 0 and params is not None:
            out = out + cfg.lambda_prior * (params - self.G.x0).pow(2).mean()
        if cfg.lambda_contrast > 0:
            sd = fake.mean(dim=1).flatten(1).std(dim=1)  # (B,) grey-level standard deviation
            out = out + cfg.lambda_contrast * F.relu(cfg.contrast_floor - sd).mean()
        return out

    def train_step(self) -> dict[str, float]:
        stats = self._d_step()
        for p in self.D.parameters():
            p.requires_grad_(False)
        try:
            stats.update(self._g_step())
        finally:
            for p in self.D.parameters():
                p.requires_grad_(True)
        self._update_ema()
        self.step += 1
        return stats

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
        self.init_info = {"init_from": run.name, "init_steps": int(state["step"]),
                          "init_seconds": float(state["seconds"])}

    def init_generator(self, path: Path) -> None:
        """Copy G and G_ema from a generator weights file (same kind and architecture)."""
        from qdemo.generator.weights_io import load_generator

        src = load_generator(path, expect="pixels" if self.cfg.renderer is None else self.cfg.renderer)
        if src.arch.to_dict() != self.G.arch.to_dict():
            raise CheckpointError(f"{src.path}: architecture {src.arch.to_dict()} differs from this config's "
                                  f"{self.G.arch.to_dict()}")
        self.G.load_state_dict(src.state_dict())
        self.G_ema.load_state_dict(src.state_dict())
        meta = getattr(src, "meta", {})
        self.init_info = {"init_weights": {"file": src.path.name, "sha256": meta.get("sha256"),
                                           "judge": meta.get("judge"), "steps": meta.get("steps"),
                                           "train_seconds": meta.get("train_seconds")}}

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


__all__ = ["GeneratorTrainer", "build_generator"]
