"""The configuration of ``qdemo generator train`` (configs/generator.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class GeneratorConfig:
    """Configuration of ``qdemo generator train`` (configs/generator.yaml)."""

    out: Path = Path("runs/generator")
    """Run folder (config, log, sample grids, checkpoint, final weights)."""
    photos: list[Path] = field(default_factory=lambda: [
        Path("../shared/datasets/oasis/images"), Path("../shared/datasets/emotion6/images")])
    """Folders (searched recursively) or files of real photos for the discriminator."""
    cache_dir: Path | None = Path("../cache/generator")
    """Where the photos are cached as a uint8 tensor (and their searcher VAD); null = no cache."""
    searcher: str = "shipped"
    """Emotion model for the emotion loss: 'shipped', 'tiny[:seed]' (tests) or a weights path."""
    resolution: int = 64
    """Image side: 64 (default) or 128 (or 16/32 for tests)."""
    z_dim: int = 64
    """Latent size."""
    g_channels: int = 16
    """Generator channels at full resolution (doubled per halving, capped at 8x)."""
    d_channels: int = 16
    """Discriminator channels at full resolution."""
    embed_dim: int = 64
    """Size of the condition embedding."""
    projection: bool = True
    """Projection discriminator (conditions on the photo's VAD); false = unconditional D."""
    augment: str = "color,translation,cutout"
    """DiffAugment policy applied to real and fake images before D ('' = none)."""
    lambda_emo: float = 20.0
    """Weight of the emotion loss MSE(searcher(G(z, c)), c)."""
    emo_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Per-dimension weights (valence, arousal, dominance) of the emotion loss's squared errors
    (normalised to mean 1, so lambda_emo keeps its scale). Dominance is a word-norm proxy that
    the searcher ties closely to valence; a lower weight keeps it from pulling against them."""
    emo_batch: int = 0
    """How many of the batch's generated images go through the searcher (0 = all)."""
    emo_augment: str = "translation"
    """DiffAugment ops applied to generated images before the searcher ('' = none; any of
    translation, cutout, zoom, color): the emotion must survive shifts and occlusion, which
    discourages patterns that fool the searcher alone. The shipped checkpoint uses
    ``translation,cutout``: it halved the gap to the independent critic (see its model card)."""
    steps: int = 2000
    """Training steps (one D and one G update each)."""
    max_minutes: float = 0.0
    """Stop early (saving everything) after this many minutes of this session; 0 = no limit."""
    batch_size: int = 16
    """Images per batch."""
    lr_g: float = 3e-4
    """Generator learning rate (Adam)."""
    lr_d: float = 3e-4
    """Discriminator learning rate (Adam)."""
    lr_cond: float | None = None
    """Learning rate of the generator's condition path (condition embedding and the gain / bias
    layers of conditional batch norm); null = lr_g. A faster condition path lets the requested
    VAD take hold without shaking the convolutions that draw the images."""
    betas: tuple[float, float] = (0.0, 0.99)
    """Adam betas for both networks."""
    ema_decay: float = 0.995
    """Decay of the exponential moving average of G's weights (the saved generator)."""
    flip: bool = True
    """Random horizontal flips of the real photos."""
    seed: int = 0
    """Seed of every random stream (data order, latents, conditions, augmentation, init)."""
    device: str = "auto"
    """auto | cpu | cuda[:N]."""
    threads: int = 1
    """torch CPU threads (0 = torch's default). On a shared, busy CPU one thread is several times faster."""
    log_every: int = 25
    """Write a log.csv row every this many steps."""
    sample_every: int = 250
    """Save a valence x arousal sample grid every this many steps."""
    checkpoint_every: int = 250
    """Write the resume checkpoint every this many steps (and at the end)."""
    init_from: Path | None = None
    """Start from the networks of another run folder (e.g. a GAN-only pre-training with
    lambda_emo=0 and projection=false); optimisers and step start fresh. A projection head
    missing there starts from its initialisation."""


__all__ = ["GeneratorConfig"]
