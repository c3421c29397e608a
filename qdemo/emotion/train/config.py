"""The configuration of ``qdemo regressor train`` (``configs/regressor.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qdemo.emotion.model import ModelSpec

HEAD_ALPHAS = tuple(float(a) for a in 10.0 ** np.arange(0, 6.01, 0.25))
"""Ridge penalties the heads choose from by default (``RoleConfig.alphas``)."""


@dataclass
class DataConfig:
    """Where the rated photos are."""

    oasis: str | None = "../shared/datasets/oasis"
    """OASIS folder (OASIS.csv + images/); null to leave it out."""
    emotion6: str | None = "../shared/datasets/emotion6"
    """Emotion6 folder (ground_truth.txt + images/); null to leave it out."""
    bass: str | None = None
    """BASS folder (BASS_data.csv + images/; US sample as targets, folds grouped by image stem);
    null to leave it out."""
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
    alphas: list[float] = field(default_factory=lambda: list(HEAD_ALPHAS))
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
    fuse: list[ModelSpec] = field(default_factory=list)
    """More architectures trained with this same recipe whose members join the role's ensemble
    (late fusion, :class:`~qdemo.emotion.fused.FusedRegressor`): e.g. another backbone or
    resolution. Empty: the role is the one ``model``."""
    calibrate: bool = True
    """Fit the calibration (variance matching on the out-of-fold predictions of every set,
    :mod:`qdemo.emotion.calibration`) and ship it inside the weights."""


@dataclass
class RegressorConfig:
    """``qdemo regressor train``: data, the two roles, evaluation, output."""

    data: DataConfig = field(default_factory=DataConfig)
    """Rated data to train and evaluate on."""
    searcher: RoleConfig = field(default_factory=RoleConfig)
    """The searcher (fast ensemble the explorer optimises)."""
    critic: RoleConfig = field(default_factory=lambda: RoleConfig(
        name="critic-lite12-flip", views=1,
        model=ModelSpec(backbone="efficientnet-lite1", resolution=240, members=5, tta_flip=True),
        fuse=[ModelSpec(backbone="efficientnet-lite2", resolution=260, members=5, tta_flip=True)]))
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


__all__ = ["DataConfig", "HEAD_ALPHAS", "RegressorConfig", "RoleConfig"]
