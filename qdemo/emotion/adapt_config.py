"""The options of ``qdemo regressor adapt`` (standard library only: the CLI reads it for its flags)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AdaptConfig:
    """``qdemo regressor adapt``: which model, which ratings, which method, where to write."""

    model: str = "searcher"
    """The parent: searcher | critic (shipped) | PATH (.safetensors from `qdemo regressor train` or an
    earlier adapt)."""
    db: str | None = None
    """Ratings database of `qdemo rate` (the stimulus folder it records gives the images)."""
    data: str | None = None
    """Or a rated set that `qdemo regressor eval` reads (folder or CSV)."""
    format: str = "auto"
    """Format of ``data``: auto, oasis, emotion6, bass, csv."""
    scale: str | None = None
    """Native rating scale of a CSV set, e.g. '1,9' (required for csv)."""
    image_root: str | None = None
    """Folder the CSV's file names are relative to (default: the CSV's folder)."""
    out: str = "adapted.safetensors"
    """The adapted weights file (+ .json sidecar and .report.json)."""
    method: str = "auto"
    """auto (measure every available method, keep the best; see docs/study.md) | parent |
    domain-calibration | recalibrate | refit-prior | refit | refit-domain."""
    train_config: str | None = None
    """The parent's training config (configs/regressor.yaml): its rows join the refit (refit,
    recalibrate) and the change on the original held-out sets is reported. Needs the rated
    sets and the feature cache of that config."""
    role: str = "searcher"
    """Which role of ``train_config`` the parent is (searcher or critic)."""
    folds: int = 5
    """Folds of the cross-validation grouped by stimulus (outer: the report; inner: strengths)."""
    seed: int = 0
    """Seed of the folds."""
    exclude_flagged: bool = False
    """Leave out raters flagged by `qdemo validate` (mean leave-one-out r below ``flag_below``)."""
    flag_below: float = 0.2
    """The flag threshold (mean leave-one-out r over valence and arousal)."""
    force: bool = False
    """Replace ``out`` if it exists."""
    batch_size: int = 32
    """Images per batch in feature extraction."""
    device: str = "cpu"
    """cpu, cuda or auto."""


__all__ = ["AdaptConfig"]
