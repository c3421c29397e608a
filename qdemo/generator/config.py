"""The configuration of ``qdemo generator train`` (configs/generator.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional


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
    renderer: Optional[str] = None
    """null: the generator paints pixels (a CNN, the ``pixels`` generator). A renderer name
    (``shapes``, or any differentiable renderer of qdemo.render.RENDERERS): the generator outputs
    that renderer's parameters and renders them, drawing the explorer's kind of image
    (``qdemo generator train --renderer shapes`` reads configs/generator-shapes.yaml)."""
    renderer_options: dict[str, Any] = field(default_factory=dict)
    """The renderer's options, as ``renderer.options`` of an explorer run (e.g. {palette: bicolour})."""
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
    mlp_width: int = 256
    """Rendered generator: hidden units per MLP layer."""
    mlp_layers: int = 3
    """Rendered generator: hidden MLP layers."""
    init_spread: float = 1.0
    """Rendered generator: initial spread of the renderer parameters over latents (raw space)."""
    lambda_prior: float = 0.0
    """Rendered generator: weight of ``mean((params - x0)^2)``, which keeps the renderer's parameters
    near its initial composition x0 (where the explorer's emitters start), away from the saturated
    region (shapes off the canvas or vanishingly small) where no gradient reaches them."""
    lambda_contrast: float = 0.0
    """Weight of ``mean(relu(contrast_floor - sd))``, ``sd`` the grey-level standard deviation of each
    generated image: a near-uniform picture satisfies a neutral request but is no picture (the
    explorer's content term scores it ~0)."""
    contrast_floor: float = 0.15
    """Grey-level standard deviation below which ``lambda_contrast`` applies (a bicolour image with
    2.5 % ink has sd 0.15)."""
    cond_ranges: list[list[float]] = field(default_factory=lambda: [[-1.0, 1.0]] * 3)
    """Ranges (valence, arousal, dominance) the conditions of generated images are drawn from,
    uniformly. The whole cube by default; the shapes config uses the explorer's grid ranges."""
    projection: bool = True
    """Projection discriminator (conditions on the photo's VAD); false = unconditional D."""
    augment: str = "color,translation,cutout"
    """DiffAugment policy applied to real and fake images before D ('' = none)."""
    lambda_adv: float = 1.0
    """Weight of the adversarial term in G's loss (0: no GAN term; D is still trained and logged,
    which measures how real the images look to it)."""
    lambda_emo: float = 20.0
    """Weight of the emotion loss MSE(searcher(G(z, c)), c)."""
    emo_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Per-dimension weights (valence, arousal, dominance) of the emotion loss's squared errors
    (normalised to mean 1, so lambda_emo keeps its scale). Dominance is a word-norm proxy that
    the searcher ties closely to valence; a lower weight keeps it from pulling against them."""
    emo_batch: int = 0
    """How many of the batch's generated images go through the searcher (0 = all; rounded down
    to whole pairs when lambda_div > 0)."""
    lambda_div: float = 0.0
    """Weight of the mode-seeking term (Mao et al. 2019; Yang et al. 2019): latents come in pairs
    that share their condition, and ``-min(d(G(z1,c), G(z2,c)) / d(z1,z2), div_tau)`` is
    added to G's loss so that samples of one condition differ (qdemo/generator/diversity.py)."""
    div_space: Literal["features", "image"] = "features"
    """Where the pair's difference is measured: the searcher's features (same forward pass as the
    emotion loss) or pixels."""
    div_tau: float = 1.0
    """Cap of the mode-seeking ratio (DSGAN's tau): beyond it, more difference earns nothing."""
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
    init_weights: Optional[Path] = None
    """Start G (and its EMA) from a generator weights file of the same architecture (e.g. the
    shipped one, to retrain it against a new searcher); D, optimisers and step start fresh."""
    init_from: Path | None = None
    """Start from the networks of another run folder (e.g. a GAN-only pre-training with
    lambda_emo=0 and projection=false); optimisers and step start fresh. A projection head
    missing there starts from its initialisation."""


__all__ = ["GeneratorConfig"]
