"""Typed configs of ``qdemo normalise`` (one YAML: ``configs/normalise.yaml``).

Sections: ``data`` (which images, at which size), ``shine`` (SHINE targets), ``train``
(the emotional pix2pix), ``report`` (evaluation). Override from the command line with
``--set train.lambda_emo=20``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

SHINE_MODES = ("lum", "hist", "sf", "spec", "full")


@dataclass
class DataConfig:
    """Which images are read and how they are brought to one size."""

    format: Literal["auto", "folder", "emotion6", "oasis", "csv"] = "auto"
    """How to read ``--data``: a rated set (emotion6 / oasis / csv, via qdemo.emotion's loaders),
    a plain ``folder`` of images (groups = first sub-folder), or ``auto`` (rated set when
    recognised, else folder)."""
    size: Optional[int] = 128
    """Side of the square images everything works at. ``null`` keeps the native size, and
    then all images must already share one size (else a clear error)."""
    fit: Literal["crop", "stretch"] = "crop"
    """How an image is brought to ``size``: centre-crop to a square then resize, or stretch."""
    limit: Optional[int] = None
    """Use at most this many images (a seeded subset, balanced over groups); ``null`` = all."""
    seed: int = 0
    """Seed of the subset choice and of the train/test split."""
    on_error: Literal["raise", "skip"] = "raise"
    """Unreadable images: stop with an error naming them, or skip them (counted in the outputs)."""


@dataclass
class ShineConfig:
    """SHINE-style equalisation with the ``shinier`` package, sharded over Ray tasks."""

    scope: Literal["image", "group"] = "image"
    """image: SHINE proper, every image gets the set's statistics (any subset is equalised too);
    group: one transform per group (folder / category) so the groups' statistics match the
    set's while each image moves only by its group's offset (qdemo.normalise.groupwise; it
    equalises exactly the set it is run on, uses luminance and its own steps, so mode must be
    full and color luminance)."""
    group_iterations: int = 6
    """scope=group: rounds of (radial spectrum, contrast, tone curve) per group."""
    group_by: tuple[str, ...] = ("folder",)
    """scope=group (and the report's shine_group): the groupings whose groups are equalised.
    'folder' = folder / category; 'valence', 'arousal', 'dominance' = low / mid / high tertiles
    of the set's human ratings (unrated images are left out of that grouping). Several, e.g.
    [folder, valence, arousal], are equalised at once: each round steps through the groups of
    every grouping in turn, in one process. Each image then moves by one offset per grouping,
    more than with one grouping, still less than per-image SHINE (docs/normalise.md)."""
    mode: Literal["lum", "hist", "sf", "spec", "full"] = "full"
    """lum = mean/contrast of luminance; hist = luminance histogram; sf = rotationally averaged
    amplitude spectrum; spec = full amplitude spectrum; full = sf (or spec) then hist, iterated."""
    color: Literal["luminance", "rgb", "gray"] = "luminance"
    """luminance: work on CIE Y and keep chromaticity (shinier's default); rgb: each sRGB channel
    on its own; gray: output grey images."""
    full_fourier: Literal["sf", "spec"] = "sf"
    """Which Fourier step ``full`` uses (SHINE's modes 5/7 use sf, 6/8 spec)."""
    iterations: int = 2
    """Rounds of (Fourier step, histogram step) in ``full``; the histogram step comes last."""
    safe_lum: bool = True
    """Lower the target contrast (set-wide) so no image's luminance leaves [0, 255]
    (shinier's safe_lum_match, computed over the whole set, not per shard)."""
    shard_size: int = 32
    """Images per Ray task."""
    seed: int = 0
    """Seed of shinier's tie-breaking noise in histogram matching."""


@dataclass
class TrainConfig:
    """The emotional pix2pix (Zhang & Kim): U-Net G, PatchGAN D_low, frozen searcher as D_emo."""

    lambda_l1: float = 100.0
    """Weight of L1(G(x), SHINE(x)) (pix2pix default 100)."""
    lambda_emo: float = 20.0
    """Weight of MSE(searcher(G(x)), searcher(x)) (Zhang & Kim: 20 best, 100 breaks G)."""
    lambda_stats: float = 0.0
    """Weight of an extra loss (not in Zhang & Kim) matching low-level statistics of G(x) to
    SHINE(x) directly: luminance distribution (1-D Wasserstein) + radial log-amplitude spectrum."""
    emo_jitter: int = 0
    """D_emo sees the output and the original under the same random shift (up to this many pixels,
    reflect padding) and horizontal flip, the targets scored anew each step; 0 = Zhang & Kim's
    plain loss against the originals' fixed VAD. Meant to keep G from fooling the searcher with
    pixel-exact patterns that another emotion model (the critic) would not follow."""
    emo_cutout: float = 0.0
    """D_emo sees the output and the original with the same random grey square (this fraction of
    the side, e.g. 0.5) blanked out, the targets scored anew each step; can be combined with
    emo_jitter. Searcher-side cutout is what made the conditional generator's emotion transfer
    to the critic (docs/generator.md); 0 = off."""
    lambda_gan: float = 1.0
    """Weight of the adversarial loss from D_low."""
    gan_loss: Literal["bce", "lsgan"] = "bce"
    """Adversarial loss: pix2pix's BCE (vanilla GAN) or least squares."""
    lr: float = 2e-4
    """Adam learning rate of G and D (pix2pix default)."""
    beta1: float = 0.5
    """Adam beta1 (pix2pix default 0.5; beta2 = 0.999)."""
    batch_size: int = 8
    """Images per step."""
    steps: int = 1500
    """Optimisation steps in total."""
    ngf: int = 16
    """U-Net width (channels of its first layer; doubled per level up to 8x)."""
    depth: int = 5
    """U-Net levels; the input side must be a multiple of 2**depth."""
    ndf: int = 32
    """PatchGAN width."""
    d_layers: int = 3
    """PatchGAN strided layers (3 = the 70x70 PatchGAN at 256 px)."""
    residual: bool = True
    """G predicts a change of the input (logit space) rather than the image from scratch:
    converges much faster in short CPU runs; the architecture is otherwise pix2pix's U-Net."""
    dropout: float = 0.0
    """Dropout in the innermost up-blocks (pix2pix uses 0.5 as its noise source)."""
    condition: Literal["none", "group"] = "none"
    """'none': Zhang & Kim's pix2pix, photo -> normalised photo, trained towards the SHINE run's
    outputs. 'group': the SHINE target is the between-group equalisation (shine.scope=group) of the
    training split, grouped by folder / category and computed on the training images only; G sees
    the photo and that proposal and learns a change of the proposal that keeps the emotion. It is
    applied to a set with groups (apply: the input's sub-folders; report: the evaluated images), as
    the group equalisation itself is. Needed because between-group differences of a held-out set
    are its own (docs/normalise.md), which a photo-by-photo map cannot see."""
    init_from: Optional[str] = None
    """Start G and D from this run folder / checkpoint (e.g. an L1+GAN pretraining run), with
    fresh optimisers and step 0; ``null`` = pix2pix's random init."""
    test_fraction: float = 0.2
    """Share of images held out (stratified by group) for the report; never trained on."""
    val_fraction: float = 0.0
    """Share of the non-test images (stratified by group) held out for validation: never trained
    on; ``qdemo normalise report --split val`` compares variants there, so that choosing one does
    not look at the test images. 0 = no validation split (all non-test images train)."""
    emotion_model: str = "searcher"
    """D_emo: 'searcher' (shipped weights), or 'tiny' (untrained TinyEmotionModel, tests only)."""
    sample_every: int = 250
    """Write a sample sheet (input | SHINE | G) every this many steps."""
    checkpoint_every: int = 100
    """Write a resumable checkpoint every this many steps."""
    log_every: int = 25
    """Append a line to metrics.csv every this many steps."""
    threads: int = 0
    """torch intra-op threads (0 = leave torch's default)."""
    seed: int = 0
    """Seed of the generator init, batch order and dropout."""


@dataclass
class ReportConfig:
    """Evaluation: between-group spread of low-level statistics, and emotion drift."""

    tertiles: tuple[str, ...] = ("valence", "arousal")
    """Dimensions split into tertiles as extra groupings (human ratings where the set has them,
    else the critic's prediction on the original)."""
    critic: str = "critic"
    """Who measures VAD drift: 'critic' (shipped, independent of the searcher) or 'tiny' (tests)."""
    hist_bins: int = 32
    """Luminance histogram bins in the spread measure and the plots."""
    blends: tuple[float, ...] = ()
    """Baseline variants ``blend_A`` = (1 - A) * original + A * SHINE (pixel-wise), e.g. [0.5, 0.8]:
    the trade-off between equalisation and emotion drift that needs no training."""
    batch_size: int = 16
    """Images per critic call."""
    group_equalise: bool = False
    """Add the variant ``shine_group``: between-group equalisation (shine.scope=group) computed on
    exactly the images evaluated, grouped by folder / category. It equalises the set it is run
    on, so it is run on the evaluated images themselves, as a study would run it on its stimuli."""


@dataclass
class NormaliseConfig:
    """All of ``qdemo normalise``."""

    data: DataConfig = field(default_factory=DataConfig)
    """Image input."""
    shine: ShineConfig = field(default_factory=ShineConfig)
    """SHINE targets."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Emotional pix2pix training."""
    report: ReportConfig = field(default_factory=ReportConfig)
    """Evaluation report."""
    device: str = "auto"
    """auto, cpu or cuda[:N]."""
