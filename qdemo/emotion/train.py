"""Training the searcher and critic on rated photos (``qdemo regressor train``).

What one run does, for each role (searcher, critic):

1. Loads OASIS and Emotion6 (``qdemo.emotion.datasets``), fills dominance with the
   word-norm proxy (``qdemo.emotion.proxies``; flagged as proxy everywhere).
2. Extracts the model's pooled multi-level backbone features for ``views`` augmented views
   of every image (view 0 = the image, 1 = mirrored, 2+ = seeded random crops), cached on
   disk under ``cache_dir`` keyed by backbone weights, resolution, taps and image files.
3. Splits the data into K joint folds: OASIS grouped by theme (no theme in two folds),
   Emotion6 stratified by folder. Member k of the ensemble is a ridge head fitted on all
   folds but k (feature standardisation and the ridge penalty, chosen by leaving each of
   those folds out in turn, both from those folds only). Member k's predictions on fold k
   are therefore honest out-of-fold predictions: the evaluation comes for free.
4. Fits the 7-way emotion-distribution head (multinomial logistic regression) on Emotion6.
5. With ``model.train_from`` set, fine-tunes each member after that (LP-FT: linear probe,
   then fine-tune; Kumar et al. 2022): member k's copy of the units from ``train_from`` on
   and its head start from the pretrained weights and the ridge head above, and are trained
   on the same folds (all but k) with a small learning rate, on cached activations of the
   shared frozen units (so an epoch costs only the fine-tuned units). Member k's
   predictions on fold k stay honest held-out predictions.
6. Saves ``<role>.safetensors`` (+ ``.json``) and, with ``evaluate``, the metrics
   (:mod:`qdemo.emotion.evaluate`) and the model card.

Ridge targets are ``atanh`` of the canonical ratings (clipped to +-0.95) because the model's
output is ``tanh`` of the head, which keeps every prediction on [-1, 1].
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from qdemo import DIMS
from qdemo.emotion.model import ModelSpec, RegressorMeta, VADRegressor
from qdemo.errors import ConfigError, DataError

log = logging.getLogger(__name__)

DEFAULT_ALPHAS = tuple(float(a) for a in 10.0 ** np.arange(0, 6.01, 0.25))
TARGET_CLIP = 0.95


# ----------------------------------------------------------------------------- config


@dataclass
class DataConfig:
    """Where the rated photos are."""

    oasis: str | None = "../shared/datasets/oasis"
    """OASIS folder (OASIS.csv + images/); null to leave it out."""
    emotion6: str | None = "../shared/datasets/emotion6"
    """Emotion6 folder (ground_truth.txt + images/); null to leave it out."""
    word_norms: str | None = "../shared/datasets/word-norms"
    """Word-norm folder for the dominance proxy; null = dominance stays masked (untrained)."""
    csv: str | None = None
    """Optional extra rated set: a CSV naming each image and any of valence/arousal/dominance."""
    csv_scale: str | None = None
    """Native rating scale of ``csv``, e.g. '1,9' (required with ``csv``)."""


@dataclass
class RoleConfig:
    """One trained model (the searcher or the critic)."""

    name: str = "searcher-lite0-96"
    """Name written into the weights and reports."""
    model: ModelSpec = field(default_factory=ModelSpec)
    """Architecture."""
    views: int = 2
    """Augmented views per training image: 1 = as is, 2 = + mirrored, more = + random crops."""
    crop_scale: float = 0.7
    """Smallest crop side (fraction of the image side) of the random-crop views."""
    alphas: list[float] = field(default_factory=lambda: list(DEFAULT_ALPHAS))
    """Ridge penalties to choose from (by grouped inner cross-validation in each training part)."""
    dist_l2: float = 1e-3
    """L2 penalty of the emotion-distribution head (logistic regression on standardised features)."""
    batch_size: int = 32
    """Images per batch in feature extraction."""
    finetune_epochs: int = 4
    """Epochs of fine-tuning per member (only with ``model.train_from``)."""
    finetune_lr: float = 3e-5
    """Peak learning rate of fine-tuning (AdamW, one-cycle schedule); small, since the head starts
    from the ridge solution."""
    finetune_batch: int = 32
    """Images per fine-tuning step."""
    finetune_weight_decay: float = 0.01
    """AdamW weight decay of fine-tuning."""


@dataclass
class RegressorConfig:
    """``qdemo regressor train``: data, the two roles, evaluation, output."""

    data: DataConfig = field(default_factory=DataConfig)
    """Rated data to train and evaluate on."""
    searcher: RoleConfig = field(default_factory=RoleConfig)
    """The searcher (fast ensemble the explorer optimises)."""
    critic: RoleConfig = field(default_factory=lambda: RoleConfig(
        name="critic-lite2-224", model=ModelSpec(backbone="efficientnet-lite2", resolution=224, members=5)))
    """The critic (independent re-scorer of elites)."""
    roles: list[str] = field(default_factory=lambda: ["searcher", "critic"])
    """Which roles to train."""
    folds: int = 5
    """K: folds of the joint split = ensemble members."""
    seed: int = 0
    """Seed of folds and augmentation."""
    out_dir: str = "qdemo/emotion/weights"
    """Where weights, metrics.json and MODEL_CARD.md go."""
    cache_dir: str = "~/.cache/qdemo/emotion"
    """Feature cache (outside the repository)."""
    evaluate: bool = True
    """Also write the honest evaluation (CV, cross-dataset, baselines, agreement) and model card."""
    baselines: bool = True
    """Include the frozen Lite0 + ridge and low-level + ridge baselines in the evaluation."""
    device: str = "auto"
    """cpu, cuda or auto."""
    threads: int = 0
    """torch CPU threads (0 = torch default)."""
    card_notes: str | None = None
    """Markdown file appended to MODEL_CARD.md (experiments, what was tried); null = none."""


# ----------------------------------------------------------------------------- data


@dataclass
class TrainingData:
    """The rated images a run trains on, with the joint folds."""

    rated: Any
    """The concatenated RatedSet (targets (N, 3) canonical, NaN = missing)."""
    dataset: np.ndarray
    """(N,) which set each row comes from ('oasis', 'emotion6', csv name)."""
    fold: np.ndarray
    """(N,) joint fold of each row (0..K-1)."""
    split: dict[str, str]
    """Per set: how it was split."""
    sources: dict[str, dict[str, str]]
    """Per set: each dimension's source ('human', 'proxy:...', 'missing')."""


def load_training_data(cfg: RegressorConfig) -> TrainingData:
    """Load the configured sets, add the dominance proxy, make the joint folds."""
    from qdemo.emotion.datasets import concat_sets, load_csv, load_emotion6, load_oasis
    from qdemo.emotion.proxies import WordNorms, add_proxies
    from qdemo.emotion.splits import default_folds, fold_ids

    d = cfg.data
    sets = []
    if d.oasis:
        sets.append(load_oasis(d.oasis))
    if d.emotion6:
        sets.append(load_emotion6(d.emotion6))
    if d.csv:
        if not d.csv_scale:
            raise DataError(f"{d.csv}: data.csv_scale (the native rating scale, e.g. '1,9') is required")
        sets.append(load_csv(d.csv, scale=d.csv_scale))
    if not sets:
        raise DataError("no training data configured (data.oasis, data.emotion6 and data.csv are all null)")
    if d.word_norms:
        norms = WordNorms.load(d.word_norms)
        sets = [add_proxies(s, norms) for s in sets]
    folds, names, split, sources = [], [], {}, {}
    for s in sets:
        fl, how = default_folds(s, k=cfg.folds, seed=cfg.seed)
        folds.append(fold_ids(fl, len(s)))
        names.append(np.full(len(s), s.name))
        split[s.name] = how
        sources[s.name] = dict(s.sources)
    rated = concat_sets(sets) if len(sets) > 1 else sets[0]
    return TrainingData(rated=rated, dataset=np.concatenate(names), fold=np.concatenate(folds),
                        split=split, sources=sources)


# ----------------------------------------------------------------------------- images and features


def _resize(img: torch.Tensor, size: int) -> torch.Tensor:
    """(3, H, W) -> (3, size, size), bilinear with antialias (as EmotionModel.prepare)."""
    return F.interpolate(img[None], size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)[0].clamp(0, 1)


def view_of(img: torch.Tensor, view: int, size: int, *, crop_scale: float, gen: torch.Generator) -> torch.Tensor:
    """Augmented view ``view`` of ``img`` (3, H, W): 0 as is, 1 mirrored, 2+ random crop (+mirror)."""
    if view >= 2:
        _, h, w = img.shape
        s = float(torch.empty(1).uniform_(crop_scale, 1.0, generator=gen))
        ch, cw = max(1, round(h * s)), max(1, round(w * s))
        y0 = int(torch.randint(0, h - ch + 1, (1,), generator=gen))
        x0 = int(torch.randint(0, w - cw + 1, (1,), generator=gen))
        img = img[:, y0:y0 + ch, x0:x0 + cw]
        if torch.rand(1, generator=gen) < 0.5:
            img = img.flip(-1)
    out = _resize(img, size)
    return out.flip(-1) if view == 1 else out


def _feature_key(model: VADRegressor, paths: list[Path], views: int, crop_scale: float, seed: int) -> str:
    from qdemo.io import hash_files_state

    h = hashlib.sha256()
    sp = model.spec
    what = {"backbone": sp.backbone, "weights": sp.backbone_weights, "resolution": sp.resolution,
            "tiny_seed": sp.seed if sp.backbone == "tiny" else None, "train_from": sp.train_from,
            "base": model.backbone.base.sha256, "taps": model.taps, "views": views, "crop": crop_scale,
            "seed": seed, "v": 2}  # only what changes the features
    h.update(json.dumps(what, sort_keys=True).encode())
    hash_files_state(h, paths)
    return h.hexdigest()[:20]


def _cache_file(model: VADRegressor, paths: list[Path], views: int, crop_scale: float, seed: int,
                cache_dir: str | os.PathLike | None, kind: str, suffix: str) -> Path | None:
    """Where the ``kind`` ('feat' or 'act') cache of these images and views lives (None: no cache)."""
    if cache_dir is None:
        return None
    return Path(os.path.expanduser(cache_dir)) / (f"{kind}-{model.spec.backbone}-{model.resolution}-"
                                                  f"{_feature_key(model, paths, views, crop_scale, seed)}{suffix}")


def _view_batches(model: VADRegressor, paths: list[Path], *, views: int, crop_scale: float, seed: int,
                  batch_size: int, desc: str, progress: bool):
    """Yield (start, view, images (B, 3, r, r)) over every batch of ``paths`` and every view, loading
    each image once per batch; the crops of views 2+ come from one seeded generator."""
    from tqdm import tqdm

    from qdemo.io import load_image

    gen = torch.Generator().manual_seed(seed)
    bar = tqdm(total=len(paths), desc=f"{desc} {model.spec.backbone}@{model.resolution} x{views}",
               disable=not progress, unit="img")
    for start in range(0, len(paths), batch_size):
        imgs = [load_image(p) for p in paths[start:start + batch_size]]  # list of (3, H, W)
        for v in range(views):
            yield start, v, torch.stack([view_of(im, v, model.resolution, crop_scale=crop_scale, gen=gen)
                                         for im in imgs])
        bar.update(len(imgs))
    bar.close()


@torch.no_grad()
def extract_activations(model: VADRegressor, paths: list[Path], *, views: int = 1, crop_scale: float = 0.7,
                        seed: int = 0, batch_size: int = 32, cache_dir: str | os.PathLike | None = None,
                        device: torch.device | str = "cpu", progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Output of the shared frozen units for every image and view (what fine-tuning starts from).

    Returns (act (V, N, C, h, w), pooled (V, N, P)) as float16 on the CPU, where ``act`` enters
    unit ``model.train_from`` and ``pooled`` holds the pooled taps of the shared units (P may be 0).
    Cached on disk (safetensors) like :func:`extract_features`."""
    from safetensors.torch import load_file, save_file

    from qdemo.io import atomic_path

    cache = _cache_file(model, paths, views, crop_scale, seed, cache_dir, "act", ".safetensors")
    if cache is not None and cache.exists():
        try:
            t = load_file(str(cache))
            if tuple(t["act"].shape[:2]) == (views, len(paths)):
                return t["act"], t["pooled"]
        except Exception:  # noqa: BLE001 - a bad cache is recomputed
            log.warning("ignoring unreadable activation cache %s", cache)
    model.eval().to(device)
    acts: list[list[torch.Tensor]] = [[] for _ in range(views)]
    pools: list[list[torch.Tensor]] = [[] for _ in range(views)]
    for _, v, x in _view_batches(model, paths, views=views, crop_scale=crop_scale, seed=seed,
                                 batch_size=batch_size, desc="activations", progress=progress):
        a, pooled = model.early(x.to(device))
        acts[v].append(a.half().cpu())
        pools[v].append(torch.cat(pooled, 1).half().cpu() if pooled else torch.zeros(len(x), 0).half())
    act = torch.stack([torch.cat(a) for a in acts])
    pooled = torch.stack([torch.cat(p) for p in pools])
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            save_file({"act": act.contiguous(), "pooled": pooled.contiguous()}, str(tmp))
    return act, pooled


def _member_features(model: VADRegressor, k: int, act: torch.Tensor, pooled: torch.Tensor, rows: np.ndarray,
                     view: int = 0, *, device: torch.device | str = "cpu", batch: int = 256,
                     grad: bool = False) -> torch.Tensor:
    """Member k's raw features (len(rows), F) from cached shared activations (one view)."""
    out = []
    with torch.set_grad_enabled(grad):
        for s in range(0, len(rows), batch):
            r = torch.as_tensor(rows[s:s + batch])
            x = act[view, r].to(device).float()
            p = [pooled[view, r].to(device).float()] if pooled.shape[-1] else []
            out.append(model.branch_features(x, p, k))
    return torch.cat(out) if out else torch.zeros(0, model.n_features, device=device)


def finetune_member(model: VADRegressor, k: int, act: torch.Tensor, pooled: torch.Tensor, targets: np.ndarray,
                    rows: np.ndarray, rc: "RoleConfig", *, seed: int, device: torch.device | str = "cpu",
                    progress: bool = True, desc: str = "") -> list[float]:
    """Fine-tune member ``k`` (its units from ``train_from`` on + its head) on ``rows``.

    The member's feature standardisation stays fixed (from the linear probe); the loss is the
    MSE of its tanh outputs against the canonical targets, with missing targets masked. BatchNorm
    keeps its pretrained statistics (eval mode): batches of 32 are too small to re-estimate them.
    Returns the mean training loss of each epoch."""
    from tqdm import tqdm

    if model.branches is None:
        raise ConfigError("fine-tuning needs model.train_from (a frozen backbone has nothing to fine-tune)")
    model.eval().to(device)
    branch = model.branches[k]
    mu, sd = model.feat_mean[k].detach(), model.feat_std[k].detach()
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
    V = act.shape[0]
    losses = []
    bar = tqdm(total=total, desc=desc or f"fine-tune member {k}", disable=not progress, unit="step", leave=False)
    for _ in range(int(rc.finetune_epochs)):
        perm = rows[torch.randperm(len(rows), generator=gen).numpy()]
        run = []
        for s in range(per_epoch):
            r = perm[s * bs:(s + 1) * bs]
            v = int(torch.randint(0, V, (1,), generator=gen))
            f = _member_features(model, k, act, pooled, r, v, device=device, batch=bs, grad=True)
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
        losses.append(float(np.mean(run)) if run else float("nan"))
    bar.close()
    for p in params:
        p.requires_grad_(False)
    with torch.no_grad():
        model.head_weight[k].copy_(w.detach())
        model.head_bias[k].copy_(b.detach())
    return losses


@torch.no_grad()
def extract_features(model: VADRegressor, paths: list[Path], *, views: int = 1, crop_scale: float = 0.7,
                     seed: int = 0, batch_size: int = 32, cache_dir: str | os.PathLike | None = None,
                     device: torch.device | str = "cpu", progress: bool = True) -> np.ndarray:
    """Raw pooled features of every image and view: (V, N, F) float32 (cached on disk)."""
    from qdemo.io import atomic_path

    cache = _cache_file(model, paths, views, crop_scale, seed, cache_dir, "feat", ".npy")
    if cache is not None and cache.exists():
        try:
            arr = np.load(cache)
            if arr.shape[:2] == (views, len(paths)):
                return arr.astype(np.float32)
        except (OSError, ValueError):
            log.warning("ignoring unreadable feature cache %s", cache)
    model.eval().to(device)
    out = np.zeros((views, len(paths), model.n_features), dtype=np.float32)
    for start, v, x in _view_batches(model, paths, views=views, crop_scale=crop_scale, seed=seed,
                                     batch_size=batch_size, desc="features", progress=progress):
        out[v, start:start + len(x)] = model.raw_features(x.to(device))[:, 0].float().cpu().numpy()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, out.astype(np.float16))
    return out


# ----------------------------------------------------------------------------- ridge heads


@dataclass
class _Stats:
    """Sufficient statistics of a block of rows for ridge regression (float64)."""

    n: np.ndarray  # (D,) rows with the target present
    sx: np.ndarray  # (D, F) sum of features over those rows
    xx: np.ndarray  # (F, F) feature cross products over all rows
    miss: dict  # d -> (F, F) cross products over the rows where target d is missing
    sy: np.ndarray  # (D,)
    yy: np.ndarray  # (D,)
    xy: np.ndarray  # (D, F)

    def __add__(self, other: "_Stats") -> "_Stats":
        miss = dict(self.miss)
        for d, m in other.miss.items():
            miss[d] = miss[d] + m if d in miss else m
        return _Stats(self.n + other.n, self.sx + other.sx, self.xx + other.xx, miss, self.sy + other.sy,
                      self.yy + other.yy, self.xy + other.xy)

    def gram(self, d: int) -> np.ndarray:
        return self.xx - self.miss[d] if d in self.miss else self.xx


def _block_stats(X: np.ndarray, Y: np.ndarray) -> _Stats:
    """X (R, F) features, Y (R, D) targets with NaN = missing -> :class:`_Stats`."""
    R, Fd = X.shape
    D = Y.shape[1]
    n, sx, sy, yy, xy = np.zeros(D), np.zeros((D, Fd)), np.zeros(D), np.zeros(D), np.zeros((D, Fd))
    miss = {}
    for d in range(D):
        ok = np.isfinite(Y[:, d])
        n[d] = ok.sum()
        sx[d] = X[ok].sum(0)
        if (~ok).any():
            miss[d] = X[~ok].T @ X[~ok]
        y = Y[ok, d]
        sy[d], yy[d] = y.sum(), (y * y).sum()
        xy[d] = X[ok].T @ y
    return _Stats(n, sx, X.T @ X, miss, sy, yy, xy)


def _eig_problem(st: _Stats, d: int) -> dict[str, np.ndarray]:
    """Standardised Gram matrix of the rows where target ``d`` is present, eigendecomposed."""
    n = st.n[d]
    mu = st.sx[d] / n
    cov = st.gram(d) / n - np.outer(mu, mu)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    sd = np.where(sd > 1e-8, sd, 1.0)
    G = cov * n / np.outer(sd, sd)  # Z'Z of the standardised, centred features
    lam, Q = np.linalg.eigh(G)
    return {"n": n, "mu": mu, "sd": sd, "lam": np.clip(lam, 0, None), "Q": Q}


def _solve_ridge(st: _Stats, alpha: float, d: int, eig: dict | None = None
                 ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Ridge for target ``d`` from statistics, features standardised on these rows.

    Returns (beta (F,) on standardised features, intercept, mean (F,), sd (F,))."""
    e = eig if eig is not None else _eig_problem(st, d)
    n, mu, sd, lam, Q = e["n"], e["mu"], e["sd"], e["lam"], e["Q"]
    ym = st.sy[d] / n
    zy = (st.xy[d] - mu * st.sy[d]) / sd  # Z'y with centred, standardised Z
    beta = Q @ ((Q.T @ zy) / (lam + alpha))
    return beta, float(ym), mu, sd


def _to_model_space(beta: np.ndarray, b0: float, mu: np.ndarray, sd: np.ndarray, gmu: np.ndarray,
                    gsd: np.ndarray) -> tuple[np.ndarray, float]:
    """Re-express a head fitted on features standardised with (mu, sd) for the model's (gmu, gsd)."""
    w = beta / sd * gsd
    b = b0 + float(np.sum(beta * (gmu - mu) / sd))
    return w, b


class RidgeFitter:
    """Ridge heads from per-(fold, block) sufficient statistics, with grouped inner CV for alpha.

    Args:
        feats: (V, N, F) raw features; every view is a training row, view 0 (the image as
            it is) is what validation rows are scored on.
        targets: (N, D) canonical targets, NaN = missing (masked per dimension).
        fold: (N,) fold of each row. Folds are grouped (OASIS themes never in two folds), so
            choosing alpha by leaving whole folds out is honest where leave-one-out (GCV) is not:
            near-duplicate rows (mirror views, images of one theme) make LOO pick too small a penalty.
        blocks: (N,) a second partition (the data set) so that fits on one set only reuse the
            statistics (cross-dataset).

    A fit on a set of (fold, block) keys chooses alpha for each fully present dimension by
    leaving each of its folds out in turn (sum of squared errors of tanh(prediction) on view 0);
    a dimension with missing rows (dominance, a proxy) takes the alpha chosen for the first
    fully present one. Targets are atanh of the clipped ratings.
    """

    def __init__(self, feats: np.ndarray, targets: np.ndarray, fold: np.ndarray, *, blocks: np.ndarray | None = None,
                 alphas: tuple[float, ...] | list[float] = DEFAULT_ALPHAS, progress: bool = False):
        V, N, Fd = feats.shape
        self.feats0 = feats[0]
        self.targets = np.asarray(targets, np.float64)
        self.Yt = np.arctanh(np.clip(self.targets, -TARGET_CLIP, TARGET_CLIP))  # NaN stays NaN
        self.fold = np.asarray(fold)
        self.blocks = np.zeros(N, dtype=int) if blocks is None else np.asarray(blocks)
        self.alphas = np.asarray(alphas, dtype=np.float64)
        self.D = self.targets.shape[1]
        self.stats: dict[tuple, _Stats] = {}
        self._eig: dict[frozenset, dict] = {}
        self.progress = progress
        for f in np.unique(self.fold):
            for bl in np.unique(self.blocks):
                rows = np.flatnonzero((self.fold == f) & (self.blocks == bl))
                if len(rows):
                    X = feats[:, rows].reshape(-1, Fd).astype(np.float64)
                    self.stats[(f, bl)] = _block_stats(X, np.tile(self.Yt[rows], (V, 1)))

    def keys(self, keep) -> frozenset:
        """The (fold, block) keys for which ``keep(fold, block)`` is true."""
        return frozenset(k for k in self.stats if keep(*k))

    def _sum(self, keys: frozenset) -> _Stats:
        sel = [self.stats[k] for k in sorted(keys, key=str)]
        out = sel[0]
        for s_ in sel[1:]:
            out = out + s_
        return out

    def _full_dims(self, st: _Stats) -> list[int]:
        return [d for d in range(self.D) if d not in st.miss and st.n[d] >= 10]

    def _eig_full(self, keys: frozenset, st: _Stats) -> dict:
        """Eigendecomposition for the dims with every row present (shared), cached by key set."""
        if keys not in self._eig:
            d0 = self._full_dims(st)[0]
            self._eig[keys] = _eig_problem(st, d0)
        return self._eig[keys]

    def _rows(self, keys: frozenset, fold: Any) -> np.ndarray:
        bl = {b for f, b in keys if f == fold}
        return np.flatnonzero((self.fold == fold) & np.isin(self.blocks, list(bl)))

    def choose_alpha(self, keys: frozenset) -> np.ndarray:
        """(D,) alpha per dimension by leaving each fold of ``keys`` out in turn."""
        folds = sorted({f for f, _ in keys})
        st_all = self._sum(keys)
        full = self._full_dims(st_all)
        sse = np.zeros((len(self.alphas), self.D))
        if len(folds) < 2 or not full:
            return np.full(self.D, float(np.median(self.alphas)))
        for j in folds:
            tr = frozenset(k for k in keys if k[0] != j)
            rows = self._rows(keys, j)
            if not tr or not len(rows):
                continue
            st = self._sum(tr)
            e = self._eig_full(tr, st)
            P = ((self.feats0[rows] - e["mu"]) / e["sd"]) @ e["Q"]  # (n_val, F)
            for d in full:
                ym = st.sy[d] / st.n[d]
                qy = e["Q"].T @ ((st.xy[d] - e["mu"] * st.sy[d]) / e["sd"])
                pred = np.tanh(P @ (qy[:, None] / (e["lam"][:, None] + self.alphas[None])) + ym)  # (n_val, A)
                y = self.targets[rows, d]
                ok = np.isfinite(y)
                sse[:, d] += ((pred[ok] - y[ok, None]) ** 2).sum(0)
        best = self.alphas[np.argmin(sse, axis=0)]
        out = np.array([best[d] if d in full else best[full[0]] for d in range(self.D)])
        return out

    def fit(self, keys: frozenset, gmu: np.ndarray, gsd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One head on the rows of ``keys``: (weight (F, D), bias (D,), alpha (D,)) in the model's
        standardisation (``gmu``, ``gsd``). A dimension with < 10 rows stays 0 (predicts neutral)."""
        alpha = self.choose_alpha(keys)
        st = self._sum(keys)
        Fd = len(gmu)
        W, B = np.zeros((Fd, self.D)), np.zeros(self.D)
        full = self._full_dims(st)
        for d in range(self.D):
            if st.n[d] < 10:
                alpha[d] = np.nan
                continue
            e = self._eig_full(keys, st) if d in full else _eig_problem(st, d)
            beta, b0, mu, sd = _solve_ridge(st, float(alpha[d]), d, e)
            W[:, d], B[d] = _to_model_space(beta, b0, mu, sd, gmu, gsd)
        return W, B, alpha

    def fit_members(self, key_sets: list[frozenset], gmu: np.ndarray, gsd: np.ndarray) -> dict[str, np.ndarray]:
        """One head per key set: {'weight' (K, F, D), 'bias' (K, D), 'alpha' (K, D)}."""
        from tqdm import tqdm

        out = [self.fit(k, gmu, gsd) for k in tqdm(key_sets, desc="ridge heads", disable=not self.progress)]
        return {"weight": np.stack([o[0] for o in out]), "bias": np.stack([o[1] for o in out]),
                "alpha": np.stack([o[2] for o in out])}


def predict_heads(feats: np.ndarray, heads: dict, gmu: np.ndarray, gsd: np.ndarray) -> np.ndarray:
    """(N, F) raw features -> (N, K, D) predictions on [-1, 1] (as the model computes them)."""
    Z = (feats - gmu) / gsd
    return np.tanh(np.einsum("nf,kfd->nkd", Z, heads["weight"]) + heads["bias"][None])


# ----------------------------------------------------------------------------- distribution head


def fit_dist_head(Z: np.ndarray, P: np.ndarray, *, l2: float = 1e-3, iters: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression: standardised features Z (R, F) -> target distributions
    P (R, 7) by minimising mean KL(P || softmax(ZW + b)) + l2 |W|^2 (L-BFGS)."""
    Zt = torch.from_numpy(np.asarray(Z, np.float32))
    Pt = torch.from_numpy(np.asarray(P, np.float32))
    W = torch.zeros(Zt.shape[1], Pt.shape[1], requires_grad=True)
    b = torch.zeros(Pt.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logp = torch.log_softmax(Zt @ W + b, dim=1)
        loss = -(Pt * logp).sum(1).mean() + l2 * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach().numpy(), b.detach().numpy()


def predict_dist(Z: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    logits = Z @ W + b
    logits = logits - logits.max(1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(1, keepdims=True)


# ----------------------------------------------------------------------------- one role


@dataclass
class RoleResult:
    """What training one role produced (weights file + out-of-fold predictions for evaluation)."""

    role: str
    model: VADRegressor
    oof: np.ndarray
    """(N, 3) member k's prediction for the rows of fold k (honest held-out predictions)."""
    oof_dist: np.ndarray | None
    """(N, 7) out-of-fold emotion distributions (NaN rows outside Emotion6)."""
    cross: dict[str, np.ndarray]
    """'<train set>-><test set>': (N_test, 3) predictions of a model trained on one set only."""
    alphas: list
    features: np.ndarray
    """(V, N, F) raw features (view 0 is the unaugmented image)."""
    seconds: float


def train_role(role: str, rc: RoleConfig, data: TrainingData, *, k: int, seed: int, cache_dir: str | None,
               device: torch.device, progress: bool = True) -> RoleResult:
    """Features (or shared activations), the K members (ridge heads, then fine-tuning when
    ``model.train_from`` is set), the distribution heads and the cross-dataset fits."""
    import copy

    t0 = time.time()
    rated = data.rated
    meta = RegressorMeta(name=rc.name, role=role,
                         human_rated=tuple(d for d in DIMS if all(s.get(d) == "human" for s in data.sources.values())),
                         proxy=tuple(d for d in DIMS if any(s.get(d, "").startswith("proxy")
                                                              for s in data.sources.values())))
    spec = rc.model
    if spec.members != k:
        spec = ModelSpec(**{**spec.__dict__, "members": k})
    try:
        model = VADRegressor(spec, meta).to(device)
    except ValueError as exc:
        raise ConfigError(f"{role}.model: {exc}") from None
    tune = model.fine_tuned
    N = len(rated)
    if tune:
        act, pooled = extract_activations(model, rated.paths, views=rc.views, crop_scale=rc.crop_scale, seed=seed,
                                          batch_size=rc.batch_size, cache_dir=cache_dir, device=device,
                                          progress=progress)
        every = np.arange(N)
        feats = np.stack([_member_features(model, 0, act, pooled, every, v, device=device).cpu().numpy()
                          for v in range(act.shape[0])]).astype(np.float32)  # (V, N, F) at the pretrained weights
        pristine = copy.deepcopy(model.branches[0]).cpu()
    else:
        feats = extract_features(model, rated.paths, views=rc.views, crop_scale=rc.crop_scale, seed=seed,
                                 batch_size=rc.batch_size, cache_dir=cache_dir, device=device, progress=progress)
    V, N, Fd = feats.shape
    flat = feats.reshape(-1, Fd).astype(np.float64)
    gmu = flat.mean(0)
    gsd = flat.std(0)
    gsd = np.where(gsd > 1e-8, gsd, 1.0)
    del flat
    fold = data.fold
    ds = data.dataset
    fitter = RidgeFitter(feats, rated.targets, fold, blocks=ds, alphas=rc.alphas, progress=progress)
    heads = fitter.fit_members([fitter.keys(lambda f, b, kk=kk: f != kk) for kk in range(k)], gmu, gsd)
    with torch.no_grad():
        model.feat_mean.copy_(torch.from_numpy(np.tile(gmu, (k, 1))).float())
        model.feat_std.copy_(torch.from_numpy(np.tile(gsd, (k, 1))).float())
        model.head_weight.copy_(torch.from_numpy(heads["weight"]).float())
        model.head_bias.copy_(torch.from_numpy(heads["bias"]).float())
    losses = {}
    if tune:
        for kk in range(k):
            losses[f"member{kk}"] = finetune_member(model, kk, act, pooled, rated.targets, np.flatnonzero(fold != kk),
                                                    rc, seed=seed, device=device, progress=progress,
                                                    desc=f"{role}: fine-tune member {kk + 1}/{k}")
        member_feats = lambda kk, rows, v=0: _member_features(model, kk, act, pooled, rows, v,  # noqa: E731
                                                              device=device).cpu().double().numpy()
    else:
        member_feats = lambda kk, rows, v=0: feats[v][rows].astype(np.float64)  # noqa: E731

    def member_pred(kk: int, rows: np.ndarray) -> np.ndarray:
        Z = (member_feats(kk, rows) - gmu) / gsd
        w, b = model.head_weight[kk].detach().cpu().double().numpy(), model.head_bias[kk].detach().cpu().double().numpy()
        return np.tanh(Z @ w + b)

    # honest out-of-fold predictions (view 0 only: the image as it is)
    oof = np.full((N, len(DIMS)), np.nan)
    for kk in range(k):
        rows = np.flatnonzero(fold == kk)
        if len(rows):
            oof[rows] = member_pred(kk, rows)
    # cross-dataset: one member trained on all folds of one set (same recipe), tested on the other
    cross = {}
    names = list(dict.fromkeys(ds.tolist()))
    if len(names) > 1:
        for tr in names:
            h = fitter.fit_members([fitter.keys(lambda f, b, tr=tr: b == tr)], gmu, gsd)
            te_rows = np.flatnonzero(ds != tr)
            if not tune:
                pred = predict_heads(feats[0][te_rows].astype(np.float64), h, gmu, gsd)[:, 0]
            else:
                one = copy.deepcopy(model)
                one.branches[0].load_state_dict(pristine.state_dict())
                with torch.no_grad():
                    one.head_weight[0].copy_(torch.from_numpy(h["weight"][0]).float())
                    one.head_bias[0].copy_(torch.from_numpy(h["bias"][0]).float())
                finetune_member(one, 0, act, pooled, rated.targets, np.flatnonzero(ds == tr), rc, seed=seed,
                                device=device, progress=progress, desc=f"{role}: fine-tune on {tr} only")
                Z = (_member_features(one, 0, act, pooled, te_rows, 0, device=device).cpu().double().numpy()
                     - gmu) / gsd
                pred = np.tanh(Z @ one.head_weight[0].detach().cpu().double().numpy()
                               + one.head_bias[0].detach().cpu().double().numpy())
                del one
            for te in names:
                if te != tr:
                    sel = ds[te_rows] == te
                    cross[f"{tr}->{te}"] = pred[sel]
    # distribution heads: member k on the rows of folds != k that have an emotion distribution
    oof_dist = None
    dist_trained = False
    dist = rated.emotion_dist
    if spec.dist_head and dist is not None and np.isfinite(dist).all(1).sum() >= 20:
        has = np.isfinite(dist).all(1)
        oof_dist = np.full((N, dist.shape[1]), np.nan)
        for kk in range(k):
            tr = np.flatnonzero(has & (fold != kk))
            te = np.flatnonzero(has & (fold == kk))
            if not len(tr):
                continue
            Ztr = np.concatenate([(member_feats(kk, tr, v) - gmu) / gsd for v in range(V)])
            W, b = fit_dist_head(Ztr, np.tile(dist[tr], (V, 1)), l2=rc.dist_l2)
            if len(te):
                oof_dist[te] = predict_dist((member_feats(kk, te) - gmu) / gsd, W, b)
            with torch.no_grad():
                model.dist_weight[kk].copy_(torch.from_numpy(W).float())
                model.dist_bias[kk].copy_(torch.from_numpy(b).float())
            dist_trained = True
    model.meta.extra.update({
        "trained_on": {n: int((ds == n).sum()) for n in names},
        "views": rc.views,
        "ridge_alpha_per_member": heads["alpha"].tolist(),
        "dist_head_trained": dist_trained,
        "fine_tuned_from_unit": model.train_from if tune else None,
    })
    if tune:
        model.meta.extra["finetune"] = {"epochs": rc.finetune_epochs, "lr": rc.finetune_lr,
                                        "batch": rc.finetune_batch, "weight_decay": rc.finetune_weight_decay,
                                        "epoch_loss": losses}
    model.requires_grad_(False)
    return RoleResult(role=role, model=model.eval(), oof=oof, oof_dist=oof_dist, cross=cross,
                      alphas=heads["alpha"].tolist(), features=feats, seconds=time.time() - t0)


# ----------------------------------------------------------------------------- entry point


def train_regressor(cfg: RegressorConfig, *, progress: bool = True) -> dict[str, Any]:
    """Run ``qdemo regressor train``: fit the configured roles, save weights, evaluate."""
    from qdemo.config import save_config
    from qdemo.device import resolve_device
    from qdemo.emotion.zoo import save_model

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_training_data(cfg)
    if progress:
        print(data.rated.summary())
    results: dict[str, RoleResult] = {}
    written = {}
    for role in cfg.roles:
        if role not in ("searcher", "critic"):
            raise DataError(f"roles: unknown role {role!r} (expected searcher and/or critic)")
        rc = getattr(cfg, role)
        res = train_role(role, rc, data, k=cfg.folds, seed=cfg.seed, cache_dir=cfg.cache_dir, device=device,
                         progress=progress)
        res.model.to("cpu")
        written[role] = save_model(res.model, out / f"{role}.safetensors")
        results[role] = res
        if progress:
            print(f"{role}: wrote {out / (role + '.safetensors')} ({written[role]['bytes'] / 1e6:.2f} MB) "
                  f"in {res.seconds:.0f} s")
    save_config(cfg, out / "regressor-config.yaml")
    report: dict[str, Any] = {"written": written}
    if cfg.evaluate:
        from qdemo.emotion.evaluate import evaluate_training, write_model_card

        report = evaluate_training(cfg, data, results, written, progress=progress)
        from qdemo.io import atomic_write_json

        atomic_write_json(out / "metrics.json", report)
        notes = None
        if cfg.card_notes:
            p = Path(cfg.card_notes)
            if not p.exists():
                raise DataError(f"card_notes: {p} not found")
            notes = p.read_text(encoding="utf-8")
        write_model_card(report, out / "MODEL_CARD.md", notes=notes)
    return report


__all__ = ["DataConfig", "RegressorConfig", "RoleConfig", "RidgeFitter", "extract_activations", "extract_features",
           "finetune_member", "fit_dist_head",
           "load_training_data", "train_regressor", "train_role", "view_of"]
