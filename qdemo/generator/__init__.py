"""qdemo.generator: the conditional generator G(z, vad), its training and sampling.

Public names are re-exported here.
"""

from qdemo.generator.models import DiffAugment, Discriminator, Generator, GeneratorArch
from qdemo.generator.sample import generate, va_sweep
from qdemo.generator.train import GeneratorConfig, train
from qdemo.generator.weights_io import DEFAULT_WEIGHTS, load_generator, load_scorer, save_generator

__all__ = [
    "DEFAULT_WEIGHTS", "DiffAugment", "Discriminator", "Generator", "GeneratorArch", "GeneratorConfig",
    "generate", "load_generator", "load_scorer", "save_generator", "train", "va_sweep",
]
