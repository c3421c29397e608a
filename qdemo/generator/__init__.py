"""qdemo.generator: the conditional generator G(z, vad), its training and sampling.

Public names are re-exported here, lazily (importing ``qdemo.generator`` imports no torch).
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "DEFAULT_WEIGHTS", "DiffAugment", "Discriminator", "Generator", "GeneratorArch", "GeneratorConfig",
    "GeneratorLatentRenderer",
    "generate", "load_generator", "save_generator", "train", "va_sweep",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "config": ("GeneratorConfig",),
    "latent_renderer": ("GeneratorLatentRenderer",),
    "models": ("DiffAugment", "Discriminator", "Generator", "GeneratorArch"),
    "sample": ("generate", "va_sweep"),
    "train": ("train",),
    "weights_io": ("DEFAULT_WEIGHTS", "load_generator", "save_generator"),
})
