"""The configuration of ``qdemo compare`` (configs/compare.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CompareConfig:
    """Configuration of ``qdemo compare`` (configs/compare.yaml)."""

    generators: list[str] = field(default_factory=lambda: ["shapes", "pixels"])
    """The generators judged beside the explorer, one of each kind: ``shapes`` / ``pixels`` (the
    shipped ones) or weights files / run folders. Each becomes the source ``generator-<kind>``;
    a rendered generator joins only runs of its renderer and options (qdemo/compare/sources.py)."""
    strict: bool = False
    """Refuse a generator trained against another searcher than ``searcher`` (default: a one-line
    warning, and the source is marked stale in summary.json and report.md)."""
    critic: str = "shipped"
    """Critic that judges both sources: 'shipped', 'tiny[:seed]' (tests) or a weights path."""
    searcher: str = "shipped"
    """Searcher (the model every source was optimised against; the judge the generators must
    record): same forms as critic."""
    samples_per_cell: int = 4
    """K generator samples per occupied cell, conditioned on the cell centre."""
    select_from: int = 16
    """Searcher-guided selection: draw this many samples per cell and keep the K the searcher places
    nearest the cell centre (over the grid's dims), as the explorer keeps its best evaluation per
    cell; 0 (or <= K) draws K and keeps them all. The scoring time counts in the sampling cost."""
    tolerance: float = 0.25
    """A cell is reached when the critic's VAD is within this (max abs over the grid dims) of its centre."""
    photos: list[Path] = field(default_factory=lambda: [
        Path("../shared/datasets/oasis/images"), Path("../shared/datasets/emotion6/images"),
        Path("../shared/datasets/bass/images")])
    """Real images that define realism and the nearest real image (folders searched recursively,
    or files): photos and BASS's silhouettes, so shape pictures have real images of their kind."""
    photo_resolution: int = 64
    """Side the photos are reduced to before the critic sees them (same as the generator's)."""
    cache_dir: Path | None = Path("../cache/generator")
    """Cache for the photo tensor and their critic features; null = none."""
    pca_dim: int = 64
    """Dimensions of the PCA subspace of critic features used for FID-like realism and diversity."""
    realism_photos: int = 600
    """Seeded random subset of the photos whose critic features define realism (0 = all)."""
    cells_per_task: int = 50
    """Cells per Ray task."""
    max_retries: int = 3
    """Retries of a failed task (exception or dead worker)."""
    seed: int = 0
    """Seed of the generator latents (per cell: derived from seed, archive and cell index)."""
    device: str = "cpu"
    """Device of each task: cpu | cuda[:N] | auto."""
    region_bins: int = 3
    """Image sheets: the valence x arousal plane is split into region_bins x region_bins regions."""
    sheet_cells: int = 6
    """At most this many cells (rows) per region sheet."""


__all__ = ["CompareConfig"]
