"""Training the emotional pix2pix (Zhang & Kim): learn SHINE while keeping the emotion.

Losses of the generator G (photo x -> normalised photo G(x)):

* adversarial, from the PatchGAN D_low on pairs (x, G(x)), where (x, SHINE(x)) is real;
* ``lambda_l1`` * L1(G(x), SHINE(x))                      (pix2pix: 100);
* ``lambda_emo`` * MSE(E(G(x)), E(x)) with E the frozen searcher = D_emo (Zhang & Kim: 20).

With ``train.condition=group`` SHINE(x) is the between-group equalisation of the training
split (computed here on the training images only, grouped by folder / category) and G also
sees it: G(x, SHINE(x)) starts as SHINE(x) and learns the change that keeps the emotion.

A run folder holds ``config.yaml``, ``split.json`` (which images are held out for the
report), ``metrics.csv``, ``samples/step_*.png`` (rows: input | SHINE | G), a resumable
``checkpoint/ckpt.pt`` (written atomically every ``checkpoint_every`` steps; loaded with
``weights_only=True``), and at the end ``generator.safetensors`` + ``run.json``.
Re-running the same command continues from the checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from qdemo.config import portable, save_config, to_dict
from qdemo.emotion.zoo import load_emotion_model
from qdemo.errors import CheckpointError, DataError, QdemoError
from qdemo.io import atomic_path, atomic_write_json, atomic_write_text, save_png

from qdemo.normalise.config import NormaliseConfig, TrainConfig
from qdemo.normalise.lowlevel import stats_loss
from qdemo.normalise.models import GeneratorSpec, PatchDiscriminator, build_generator, init_weights
from qdemo.normalise.pairs import Pairs, load_pairs, split_of, splits_of
from qdemo.normalise.shine_files import ShineOutput
from qdemo.normalise.augment import apply_view, draw_view
from qdemo.normalise.weights_io import save_generator
from qdemo.tables import table_text

RESUME_IGNORES = ("steps", "sample_every", "checkpoint_every", "log_every", "threads")
"""Train settings that may change between a run and its resumption."""


@torch.no_grad()
def predict_vad(model, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] (any dtype; uint8 is scaled) -> (N, 3) VAD, in batches."""
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(dev)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        out.append(model(x).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, 3)


def _gan_loss(kind: str, logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if kind == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


def _u8(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255.0)


def _sheet(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Rows input | SHINE | G, one column per image -> (3, 3H, nW)."""
    rows = [torch.cat(list(t), dim=2) for t in (x, y, g)]  # each (3, H, n*W)
    return torch.cat(rows, dim=1)


class Trainer:
    """One emotional-pix2pix run in ``out`` (resumable)."""

    def __init__(self, shine_dir: str | Path, out: str | Path, cfg: NormaliseConfig, *,
                 device: str | torch.device = "cpu", progress: bool = True, emotion=None) -> None:
        from qdemo.device import resolve_device

        self.cfg, self.t = cfg, cfg.train
        self.out = Path(out)
        self.device = resolve_device(device)
        self.progress = progress
        self.shine = ShineOutput.read(shine_dir)
        size = self.shine.summary["config"]["data"]["size"]
        if size is None:
            raise DataError(f"{shine_dir}: SHINE run kept native sizes; train needs one size (data.size)")
        if size % (2 ** self.t.depth):
            raise QdemoError(f"train.depth={self.t.depth}: image size {size} must be a multiple of {2 ** self.t.depth}")
        if not 0.0 <= self.t.emo_cutout < 1.0:
            raise QdemoError(f"train.emo_cutout={self.t.emo_cutout}: a fraction of the side in [0, 1)")
        self.spec = GeneratorSpec(ngf=self.t.ngf, depth=self.t.depth, residual=self.t.residual,
                                  dropout=self.t.dropout, resolution=size, condition=self.t.condition)
        sp = splits_of(self.shine, cfg)
        train_idx, test_idx = sp["train"], sp["test"]
        self.val_idx = sp["val"]
        if len(train_idx) < 1:
            raise DataError(f"{shine_dir}: no training images after the split")
        self.train_idx, self.test_idx = train_idx, test_idx
        self.emotion = emotion
        self.gen = torch.Generator().manual_seed(self.t.seed)
        self.G = build_generator(self.spec, self.gen).to(self.device)
        self.D = PatchDiscriminator(ndf=self.t.ndf, n_layers=self.t.d_layers)
        init_weights(self.D, self.gen)
        self.D.to(self.device)
        self.optG = torch.optim.Adam(self.G.parameters(), lr=self.t.lr, betas=(self.t.beta1, 0.999))
        self.optD = torch.optim.Adam(self.D.parameters(), lr=self.t.lr, betas=(self.t.beta1, 0.999))
        self.step = 0
        self.seconds = 0.0
        self.metrics: list[dict[str, float]] = []
        self.init_info: dict[str, Any] = {}

    # -- checkpoint ------------------------------------------------------------------------
    @property
    def ckpt_path(self) -> Path:
        return self.out / "checkpoint" / "ckpt.pt"

    def _comparable(self, d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if k not in RESUME_IGNORES}

    def save_checkpoint(self) -> None:
        state = {
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "optG": self.optG.state_dict(), "optD": self.optD.state_dict(),
            "step": self.step, "seconds": self.seconds, "rng": self.gen.get_state(),
            "spec": self.spec.to_dict(), "config": to_dict(self.t), "metrics": self.metrics,
            "shine": str(self.shine.root), "init": self.init_info,
        }
        with atomic_path(self.ckpt_path) as tmp:
            torch.save(state, tmp)

    def try_resume(self) -> bool:
        if not self.ckpt_path.exists():
            return False
        try:
            ck = torch.load(self.ckpt_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise CheckpointError(f"{self.ckpt_path}: cannot read checkpoint ({type(exc).__name__}: {exc}); "
                                  f"delete it to start over") from None
        saved = {**to_dict(TrainConfig()), **ck.get("config", {})}  # keys added later take defaults
        if self._comparable(saved) != self._comparable(to_dict(self.t)):
            raise CheckpointError(f"{self.ckpt_path}: checkpoint was made with other train settings; "
                                  f"use a new --out (or the same settings) to resume")
        self.G.load_state_dict(ck["G"])
        self.D.load_state_dict(ck["D"])
        self.optG.load_state_dict(ck["optG"])
        self.optD.load_state_dict(ck["optD"])
        self.step, self.seconds = int(ck["step"]), float(ck.get("seconds", 0.0))
        self.gen.set_state(ck["rng"])
        self.metrics = list(ck.get("metrics", []))
        self.init_info = dict(ck.get("init", {}))
        return True

    def _init_from(self, path: Path) -> None:
        ck_path = path / "checkpoint" / "ckpt.pt" if path.is_dir() else path
        try:
            ck = torch.load(ck_path, map_location="cpu", weights_only=True)
            if ck["spec"] != self.spec.to_dict():
                raise CheckpointError(f"{ck_path}: generator spec {ck['spec']} differs from this run's "
                                      f"{self.spec.to_dict()}")
            self.G.load_state_dict(ck["G"])
            self.D.load_state_dict(ck["D"])
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise CheckpointError(f"train.init_from: {ck_path}: cannot use it ({type(exc).__name__}: {exc})") from None
        self.init_info = {"init_from": portable(str(ck_path)), "init_steps": int(ck.get("step", 0))}

    # -- training --------------------------------------------------------------------------
    def _write_metrics(self) -> None:
        if not self.metrics:
            return
        names = list(dict.fromkeys(k for row in self.metrics for k in row))
        atomic_write_text(self.out / "metrics.csv", table_text(names, self.metrics))

    def _G(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """G on photos x, given their targets y (the proposal a group-conditioned G starts from)."""
        return self.G(x, y) if self.G.conditioned else self.G(x)

    def _with_group_targets(self, pairs: Pairs, what: str) -> Pairs:
        """``condition=group``: replace the SHINE outputs by the between-group equalisation of
        exactly these images (grouped by folder / category)."""
        from qdemo.normalise.groupwise import propose

        try:
            y = propose(pairs.x, pairs.groups, self.cfg.shine.group_iterations, self.cfg.shine.seed)
        except ValueError as exc:
            raise DataError(f"train.condition=group: the {what} images of {self.shine.root}: {exc}") from None
        return Pairs(x=pairs.x, y=y, sources=pairs.sources, groups=pairs.groups)

    @torch.no_grad()
    def _sample_sheet(self, pairs: Pairs, vis: list[int]) -> None:
        self.G.eval()
        x = _u8(pairs.x[vis]).to(self.device)
        g = self._G(x, _u8(pairs.y[vis]).to(self.device))
        self.G.train()
        save_png(_sheet(x.cpu(), _u8(pairs.y[vis]), g.cpu()), self.out / "samples" / f"step_{self.step:06d}.png")

    def _jitter(self, x: torch.Tensor) -> torch.Tensor:
        """Draw a random view for D_emo (:func:`~qdemo.normalise.augment.draw_view`) and apply it
        to x. :meth:`_jitter_like` applies the same draw to another batch."""
        self._jit = draw_view(self.gen, x.shape[-2], x.shape[-1], self.t.emo_jitter, self.t.emo_cutout)
        return self._jitter_like(x)

    def _jitter_like(self, x: torch.Tensor) -> torch.Tensor:
        return apply_view(x, self._jit, self.t.emo_jitter)

    def _training_pairs(self) -> Pairs:
        """The training pairs (group-equalised targets for ``condition=group``); writes split.json."""
        t = self.t
        pairs = load_pairs(self.shine, self.train_idx)
        if self.G.conditioned:
            pairs = self._with_group_targets(pairs, "training")
        atomic_write_json(self.out / "split.json", {
            "seed": self.cfg.data.seed, "test_fraction": t.test_fraction,
            "val_fraction": t.val_fraction, "train": pairs.sources,
            "val": [str(self.shine.sources[i]) for i in self.val_idx],
            "test": [str(self.shine.sources[i]) for i in self.test_idx]})
        return pairs

    def _preview(self, pairs: Pairs) -> tuple[Pairs, list[int]]:
        """The pairs and indices shown in ``samples/step_*.png`` (held-out images where there are)."""
        if self.G.conditioned:  # the proposal of a held-out image comes from its own set: the test split
            vis_pairs = self._with_group_targets(load_pairs(self.shine, self.test_idx), "test") \
                if len(set(self.shine.groups[i] for i in self.test_idx)) >= 2 else pairs
            vis = [int(i) for i in np.linspace(0, len(vis_pairs.sources) - 1, min(4, len(vis_pairs.sources)))]
        else:
            vis_pairs = load_pairs(self.shine, self.test_idx[:4]) if self.test_idx else pairs
            vis = list(range(min(4, len(vis_pairs.sources))))
        return vis_pairs, vis

    def _emotion_loss(self, x: torch.Tensor, fake: torch.Tensor, vad_x: torch.Tensor | None, b: torch.Tensor,
                      use_emo: bool, log_now: bool) -> torch.Tensor | None:
        """MSE between the emotion model's VAD of G(x) and of x (D_emo); with lambda_emo = 0 only
        measured, without gradient, on logging steps."""
        t = self.t
        if use_emo and (t.emo_jitter > 0 or t.emo_cutout > 0):
            # the same random view (shift / flip / cutout) of original and output; targets scored on it
            tx, tf = self._jitter(x), self._jitter_like(fake)
            with torch.no_grad():
                target = self.emotion(tx)  # (B, 3)
            return F.mse_loss(self.emotion(tf), target)
        if use_emo:
            return F.mse_loss(self.emotion(fake), vad_x[b].to(self.device))
        if log_now and self.emotion is not None:
            with torch.no_grad():
                return F.mse_loss(self.emotion(fake.detach()), vad_x[b].to(self.device))
        return None

    def _step(self, pairs: Pairs, vad_x: torch.Tensor | None, use_emo: bool, log_now: bool
              ) -> dict[str, torch.Tensor | None]:
        """One D_low update and one G update on a random batch; the losses."""
        t = self.t
        n = len(pairs.sources)
        b = torch.randint(0, n, (min(t.batch_size, n),), generator=self.gen)
        x = _u8(pairs.x[b]).to(self.device)  # (B, 3, R, R)
        y = _u8(pairs.y[b]).to(self.device)  # (B, 3, R, R) SHINE target
        fake = self._G(x, y)
        # D_low: real pair (x, SHINE(x)), fake pair (x, G(x))
        self.optD.zero_grad(set_to_none=True)
        loss_d = 0.5 * (_gan_loss(t.gan_loss, self.D(x, y), True)
                        + _gan_loss(t.gan_loss, self.D(x, fake.detach()), False))
        loss_d.backward()
        self.optD.step()
        # G: fool D_low, match SHINE (L1), keep the emotion (D_emo)
        self.optG.zero_grad(set_to_none=True)
        loss_gan = _gan_loss(t.gan_loss, self.D(x, fake), True)
        loss_l1 = F.l1_loss(fake, y)
        loss = t.lambda_gan * loss_gan + t.lambda_l1 * loss_l1
        loss_stats = None
        if t.lambda_stats > 0:
            loss_stats = stats_loss(fake, y)
            loss = loss + t.lambda_stats * loss_stats
        loss_emo = self._emotion_loss(x, fake, vad_x, b, use_emo, log_now)
        if use_emo:
            loss = loss + t.lambda_emo * loss_emo
        loss.backward()
        self.optG.step()
        return {"loss_d": loss_d, "loss_gan": loss_gan, "loss_l1": loss_l1, "loss_emo": loss_emo,
                "loss_stats": loss_stats}

    def _train_loop(self, pairs: Pairs, vad_x: torch.Tensor | None, use_emo: bool) -> None:
        """Steps until ``train.steps``: metrics every ``log_every``, sample sheets, checkpoints."""
        from tqdm.auto import tqdm

        t = self.t
        vis_pairs, vis = self._preview(pairs)
        bar = tqdm(total=t.steps, initial=self.step, desc=f"pix2pix lambda_emo={t.lambda_emo:g}",
                   unit="step", disable=not self.progress)
        self.G.train()
        self.D.train()
        last = time.perf_counter()
        acc: dict[str, list[float]] = {}
        try:
            while self.step < t.steps:
                log_now = (self.step + 1) % t.log_every == 0 or self.step + 1 == t.steps
                losses = self._step(pairs, vad_x, use_emo, log_now)
                self.step += 1
                now = time.perf_counter()
                self.seconds += now - last
                last = now
                for k, v in losses.items():
                    if v is not None:
                        acc.setdefault(k, []).append(float(v.detach()))
                if not all(np.isfinite(v[-1]) for v in acc.values()):
                    raise QdemoError(f"training diverged at step {self.step} (non-finite loss); "
                                     f"lower train.lr or train.lambda_emo")
                bar.update(1)
                if log_now:
                    row = {"step": self.step, "seconds": round(self.seconds, 2)}
                    row.update({k: float(np.mean(v)) for k, v in acc.items()})
                    row.setdefault("loss_emo", float("nan"))
                    row.setdefault("loss_stats", float("nan"))
                    self.metrics.append(row)
                    bar.set_postfix(l1=f"{row['loss_l1']:.3f}", emo=f"{row['loss_emo']:.4f}")
                    acc = {}
                    self._write_metrics()
                if self.step % t.sample_every == 0 or self.step == t.steps:
                    self._sample_sheet(vis_pairs, vis)
                if self.step % t.checkpoint_every == 0 or self.step == t.steps:
                    self.save_checkpoint()
        finally:
            bar.close()

    def _judge(self) -> dict[str, str] | None:
        """The emotion model D_emo was (judge record, qdemo.emotion.judge); None when it was not
        trained against one (lambda_emo 0: the model only monitored the emotion)."""
        from qdemo.emotion.judge import judge_record

        return judge_record(self.emotion) if self.emotion is not None and self.t.lambda_emo > 0 else None

    def run(self) -> dict[str, Any]:
        """Train (or continue) to ``train.steps``; write the weights and ``run.json``; the summary."""
        t = self.t
        if t.threads > 0:
            torch.set_num_threads(t.threads)
        self.out.mkdir(parents=True, exist_ok=True)
        resumed = self.try_resume()
        if not resumed and t.init_from:
            self._init_from(Path(t.init_from))
        save_config(self.cfg, self.out / "config.yaml")
        pairs = self._training_pairs()
        use_emo = t.lambda_emo > 0
        if self.emotion is None:
            try:
                self.emotion = load_emotion_model(t.emotion_model, role="searcher", device=self.device)
            except QdemoError as exc:
                if use_emo:
                    raise
                import warnings

                warnings.warn(f"lambda_emo=0: emotion loss not monitored ({exc})", stacklevel=1)
        # (N, 3) VAD of the originals: the fixed targets of D_emo
        vad_x = predict_vad(self.emotion, pairs.x) if self.emotion is not None else None
        self._train_loop(pairs, vad_x, use_emo)
        self.G.eval()
        info = {"lambda_emo": t.lambda_emo, "lambda_l1": t.lambda_l1, "condition": t.condition,
                "lambda_stats": t.lambda_stats, "steps": self.step,
                "train_images": len(pairs.sources), "val_images": len(self.val_idx), "test_images": len(self.test_idx),
                "shine": ("group equalisation of the training split (shine.scope=group)" if self.G.conditioned
                          else self.shine.summary.get("mode")),
                "emotion_model": portable(t.emotion_model), "judge": self._judge(),
                "seconds": round(self.seconds, 1),
                "device": str(self.device), "threads": torch.get_num_threads(), **self.init_info}
        save_generator(self.G, self.out / "generator.safetensors", info)
        summary = {"status": "complete", "resumed": resumed, **info,
                   "final": self.metrics[-1] if self.metrics else {}}
        atomic_write_json(self.out / "run.json", summary)
        return summary


__all__ = ["Trainer", "predict_vad", "load_pairs", "split_of", "splits_of", "Pairs", "TrainConfig"]
