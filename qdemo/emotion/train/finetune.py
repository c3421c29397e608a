"""Fine-tuning one ensemble member on cached shared activations (LP-FT, Kumar et al. 2022)."""

from __future__ import annotations

import numpy as np
import torch

from qdemo.emotion.features import member_features
from qdemo.emotion.model import VADRegressor
from qdemo.emotion.train.config import RoleConfig
from qdemo.errors import ConfigError


def _epoch(model: VADRegressor, k: int, act: torch.Tensor, pooled: torch.Tensor, Y: torch.Tensor,
           perm: np.ndarray, head: tuple[torch.Tensor, torch.Tensor], opt, sched, *, bs: int, steps: int,
           gen: torch.Generator, device, bar) -> float:
    """One epoch of ``steps`` batches of ``bs`` rows of ``perm``; the mean training loss."""
    mu, sd = model.feat_mean[k].detach(), model.feat_std[k].detach()
    w, b = head
    V = act.shape[0]
    run = []
    for s in range(steps):
        r = perm[s * bs:(s + 1) * bs]
        v = int(torch.randint(0, V, (1,), generator=gen))
        f = member_features(model, k, act, pooled, r, v, device=device, batch=bs, grad=True)  # (B, F)
        pred = torch.tanh(((f - mu) / sd) @ w + b)  # (B, 3)
        y = Y[r].to(device)
        ok = torch.isfinite(y)
        loss = (((pred - torch.nan_to_num(y)) ** 2) * ok).sum() / ok.sum().clamp_min(1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run.append(float(loss.detach()))
        bar.update(1)
    return float(np.mean(run)) if run else float("nan")


def finetune_member(model: VADRegressor, k: int, act: torch.Tensor, pooled: torch.Tensor, targets: np.ndarray,
                    rows: np.ndarray, rc: RoleConfig, *, seed: int, device: torch.device | str = "cpu",
                    progress: bool = True, desc: str = "") -> list[float]:
    """Fine-tune member ``k`` (its units from ``train_from`` on + its head) on ``rows``.

    ``act`` (V, N, C, h, w) and ``pooled`` (V, N, P) come from
    :func:`qdemo.emotion.features.extract_activations`. The member's feature standardisation
    stays fixed (from the linear probe); the loss is the MSE of its tanh outputs against the
    canonical targets (N, 3), with missing targets masked. BatchNorm keeps its pretrained
    statistics (eval mode): batches of 32 are too small to re-estimate them.
    Returns the mean training loss of each epoch."""
    from tqdm import tqdm

    if model.branches is None:
        raise ConfigError("fine-tuning needs model.train_from (a frozen backbone has nothing to fine-tune)")
    model.eval().to(device)
    branch = model.branches[k]
    w = model.head_weight[k].detach().clone().requires_grad_(True)  # (F, 3)
    b = model.head_bias[k].detach().clone().requires_grad_(True)  # (3,)
    params = [p for p in branch.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW([*params, w, b], lr=rc.finetune_lr, weight_decay=rc.finetune_weight_decay)
    bs = max(1, int(rc.finetune_batch))
    per_epoch = max(1, len(rows) // bs)
    total = max(1, int(rc.finetune_epochs)) * per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=rc.finetune_lr, total_steps=total, pct_start=0.3)
    Y = torch.as_tensor(np.asarray(targets, np.float32))
    gen = torch.Generator().manual_seed(seed * 1009 + k)
    losses = []
    bar = tqdm(total=total, desc=desc or f"fine-tune member {k}", disable=not progress, unit="step", leave=False)
    for _ in range(int(rc.finetune_epochs)):
        perm = rows[torch.randperm(len(rows), generator=gen).numpy()]
        losses.append(_epoch(model, k, act, pooled, Y, perm, (w, b), opt, sched, bs=bs, steps=per_epoch,
                             gen=gen, device=device, bar=bar))
    bar.close()
    for p in params:
        p.requires_grad_(False)
    with torch.no_grad():
        model.head_weight[k].copy_(w.detach())
        model.head_bias[k].copy_(b.detach())
    return losses


__all__ = ["finetune_member"]
