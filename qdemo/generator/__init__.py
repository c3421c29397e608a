"""qdemo.generator: the conditional generators G(z, vad) (pixels, or a renderer's parameters),
their training and sampling.

Public names are re-exported here, lazily (importing ``qdemo.generator`` imports no torch).
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "DEFAULT_WEIGHTS", "DiffAugment", "Discriminator", "Generator", "GeneratorArch", "GeneratorConfig",
    "GeneratorLatentRenderer", "RenderedArch", "RenderedGenerator", "SHIPPED",
    "check_generator_judge", "generate", "load_generator", "mode_seeking_loss", "save_generator", "train", "va_sweep",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "config": ("GeneratorConfig",),
    "diversity": ("mode_seeking_loss",),
    "latent_renderer": ("GeneratorLatentRenderer",),
    "models": ("DiffAugment", "Discriminator", "Generator", "GeneratorArch"),
    "rendered": ("RenderedArch", "RenderedGenerator"),
    "sample": ("generate", "va_sweep"),
    "train": ("train",),
    "weights_io": ("DEFAULT_WEIGHTS", "SHIPPED", "check_generator_judge", "load_generator", "save_generator"),
})
