"""Experiment (session 6): can a pix2pix U-Net *learn* the between-group equalisation?

The shipped group pix2pix (``train.condition=group``) is handed the equalised image and only
changes it. Here G sees the photo and a vector describing its group's offset from the set
(16 luminance quantiles of the group, their offsets from the set's, 16 radial log-amplitude
offsets, the log contrast ratio), tiled as input channels and as FiLM on the decoder. It is
trained on random sub-sets of the training split (folders subsampled to 6..70 images, one
set in four with random labels), with L1 x 100 to ``groupwise.equalise_set`` of that sub-set
(plus ``lambda_stats`` x the low-level statistics loss), so the equalising has to be done by
the network. Evaluated like ``qdemo normalise report`` (grouping = Emotion6 folders):
retention of SHINE's spread reduction and critic VA drift / SHINE's, on the validation and
test images (never trained on), with the condition computed on those images alone.

Needs the SHINE run of docs/normalise.md (Emotion6, 600 images, 64 px, ``--mode full``) and
the shipped searcher / critic. Results are in docs/normalise.md; it is not part of the package.

    python docs/experiments/normalise_stats_conditioned.py --shine runs/shine_full64 \
        --config runs/grp/base.yaml --steps 6000 --sets 150 --lambda-stats 300
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from qdemo.config import load_config
from qdemo.normalise import groupwise as gw
from qdemo.normalise.config import NormaliseConfig
from qdemo.normalise.lowlevel import stats_loss
from qdemo.normalise.models import GeneratorSpec, UNetGenerator, init_weights
from qdemo.normalise.report import evaluate
from qdemo.normalise.shine import ShineOutput
from qdemo.emotion.zoo import load_emotion_model
from qdemo.normalise.train import _u8, load_pairs, splits_of

KQ, KR = 16, 16  # quantiles and radial bins in the condition vector


def condition_vectors(arrays: list[np.ndarray], groups: list[str]) -> np.ndarray:
    """(N, 2 KQ + KR + 1): each image's group statistics relative to the set's targets."""
    by: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by.setdefault(g, []).append(i)
    st = {g: gw.group_stats([arrays[i] for i in idx]) for g, idx in by.items()}
    tg = gw.set_targets(list(st.values()), list(st))
    tq, trad = np.asarray(tg["quantiles"]), np.asarray(tg["radial"])
    levels, pick = np.linspace(0, 1, len(tq)), np.linspace(0.02, 0.98, KQ)
    out = np.zeros((len(arrays), 2 * KQ + KR + 1), np.float32)
    for g, idx in by.items():
        q, rad = np.asarray(st[g]["quantiles"]), np.asarray(st[g]["radial"])
        gq = np.interp(pick, levels, q)
        dr = np.interp(np.linspace(0, 1, KR), np.linspace(0, 1, len(rad)), trad - rad)
        out[idx] = np.concatenate([gq, np.interp(pick, levels, tq) - gq, dr,
                                   [np.log(tg["contrast"] / max(st[g]["contrast"], 1e-9))]])
    return out


class StatsConditionedG(nn.Module):
    """U-Net (photo + tiled condition) with FiLM of the condition on every decoder block;
    residual on the photo, starting as the identity."""

    def __init__(self, dim: int, mu: torch.Tensor, sd: torch.Tensor, ngf: int, gen: torch.Generator) -> None:
        super().__init__()
        self.register_buffer("mu", mu)
        self.register_buffer("sd", sd)
        self.g = UNetGenerator(GeneratorSpec(ngf=ngf, depth=5, residual=True, resolution=64))
        first = self.g.downs[0][0]
        self.g.downs[0][0] = nn.Conv2d(3 + dim, first.out_channels, 4, 2, 1, bias=True)
        film_out = 2 * sum(m[1].out_channels for m in self.g.ups[:-1])
        self.film = nn.Sequential(nn.Linear(dim, 64), nn.ReLU(), nn.Linear(64, film_out))
        init_weights(self.g, gen)
        for layer in (self.g.ups[-1][1], self.film[-1]):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        c = (c - self.mu) / self.sd  # (B, D)
        h = torch.cat([x * 2 - 1, c[:, :, None, None].expand(-1, -1, *x.shape[-2:])], 1)
        skips = []
        for down in self.g.downs:
            h = down(h)
            skips.append(h)
        h, film, o = skips.pop(), self.film(c), 0
        for j, up in enumerate(self.g.ups):
            if j > 0:
                h = torch.cat([h, skips.pop()], 1)
            h = up(h)
            if j < len(self.g.ups) - 1:
                n = h.shape[1]
                h = h * (1 + film[:, o:o + n, None, None]) + film[:, o + n:o + 2 * n, None, None]
                o += 2 * n
        xc = x.clamp(1e-3, 1 - 1e-3)
        return torch.sigmoid(torch.log(xc) - torch.log1p(-xc) + h)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shine", required=True)
    ap.add_argument("--config", required=True, help="the normalise config of the runs compared (split, report)")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--sets", type=int, default=150, help="random training sub-sets in the bank")
    ap.add_argument("--lambda-stats", type=float, default=300.0)
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(NormaliseConfig, a.config, {})
    shine = ShineOutput.read(a.shine)
    sp = splits_of(shine, cfg)
    tr = load_pairs(shine, sp["train"])
    arrays = lambda p: [np.ascontiguousarray(x) for x in p.x.permute(0, 2, 3, 1).numpy()]  # noqa: E731
    A, G = arrays(tr), list(tr.groups)
    rng = np.random.default_rng(a.seed)
    by_folder = {f: [i for i, g in enumerate(G) if g == f] for f in sorted(set(G))}
    t0 = time.time()
    bank_i, bank_y, bank_c = [], [], []
    for s in range(a.sets):
        if s % 4 == 3:  # random labels: offsets of sampling noise only
            n = int(rng.integers(60, 300))
            idx = rng.choice(len(A), n, replace=False)
            labels = [str(v) for v in rng.integers(0, int(rng.integers(2, 7)), n)]
            if len(set(labels)) < 2:
                continue
        else:
            idx, labels = [], []
            for f, members in by_folder.items():
                k = int(rng.integers(6, len(members) + 1))
                idx += list(rng.choice(members, k, replace=False))
                labels += [f] * k
            idx = np.array(idx)
        sub = [A[i] for i in idx]
        bank_i.append(idx)
        bank_y.append(np.stack(gw.equalise_set(sub, labels, cfg.shine.group_iterations, 0)))
        bank_c.append(condition_vectors(sub, labels))
    bi = torch.from_numpy(np.concatenate(bank_i)).long()
    by = torch.from_numpy(np.concatenate(bank_y)).permute(0, 3, 1, 2).contiguous()
    bc = torch.from_numpy(np.concatenate(bank_c))
    print(f"bank: {len(bi)} (photo, condition, target) triples from {len(bank_i)} sets, {time.time() - t0:.0f} s")
    gen = torch.Generator().manual_seed(a.seed)
    net = StatsConditionedG(bc.shape[1], bc.mean(0), bc.std(0).clamp_min(1e-6), a.ngf, gen)
    opt = torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.steps)
    t0, acc = time.time(), []
    for step in range(a.steps):
        b = torch.randint(0, len(bi), (16,), generator=gen)
        x, y = _u8(tr.x[bi[b]]), _u8(by[b])
        out = net(x, bc[b])
        l1 = F.l1_loss(out, y)
        loss = 100 * l1 + (a.lambda_stats * stats_loss(out, y) if a.lambda_stats > 0 else 0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        acc.append(l1.item())
        if (step + 1) % 500 == 0:
            print(f"step {step + 1}: L1 to the target {np.mean(acc):.4f} "
                  f"(photo itself: {float(F.l1_loss(x, y)):.4f}), {time.time() - t0:.0f} s")
            acc = []
    net.eval()
    critic = load_emotion_model(cfg.report.critic, role="critic", device="cpu")
    for split in ("val", "test"):
        p = load_pairs(shine, sp[split])
        arr, groups = arrays(p), list(p.groups)
        cond = torch.from_numpy(condition_vectors(arr, groups))
        proposal = torch.from_numpy(np.stack(gw.equalise_set(arr, groups, cfg.shine.group_iterations, 0)))
        x = _u8(p.x)
        with torch.no_grad():
            out = torch.cat([net(x[i:i + 16], cond[i:i + 16]) for i in range(0, len(x), 16)])
        sh = np.stack([np.asarray(Image.open(shine.outputs[i]).convert("RGB")) for i in sp[split]])
        variants = {"original": x, "shine": _u8(torch.from_numpy(sh).permute(0, 3, 1, 2)),
                    "shine_group": _u8(proposal.permute(0, 3, 1, 2)), "stats_conditioned": out}
        res = evaluate(variants, groups, None, critic, cfg)
        em = res["groupings"]["emotion"]["variants"]
        for k in ("shine_group", "stats_conditioned"):
            print(f"{split} {k}: retention {em[k]['retention_of_shine_reduction']:.3f}, "
                  f"drift / SHINE {res['variants'][k]['drift']['ratio_to_shine']:.3f}")
        print(f"{split}: mean |G - proposal| {float((out - variants['shine_group']).abs().mean()) * 255:.1f}/255")


if __name__ == "__main__":
    main()
