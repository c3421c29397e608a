"""Low-level normalisation that keeps the emotion: SHINE targets and an emotional pix2pix.

Public names are re-exported here; heavy work lives in the submodules.
"""

from qdemo.normalise.config import (
    DataConfig, NormaliseConfig, ReportConfig, ShineConfig, TrainConfig,
)
from qdemo.normalise.data import ImageSet, choose_subset, collect, load_fixed, split_train_test
from qdemo.normalise.models import GeneratorSpec, PatchDiscriminator, UNetGenerator, build_generator
from qdemo.normalise.shine import ShineOutput, ShineTargets, compute_targets, match_arrays, run_shine
from qdemo.normalise.weights import SHIPPED, load_generator, save_generator

__all__ = [
    "DataConfig", "NormaliseConfig", "ReportConfig", "ShineConfig", "TrainConfig",
    "ImageSet", "choose_subset", "collect", "load_fixed", "split_train_test",
    "GeneratorSpec", "PatchDiscriminator", "UNetGenerator", "build_generator",
    "ShineOutput", "ShineTargets", "compute_targets", "match_arrays", "run_shine",
    "SHIPPED", "load_generator", "save_generator",
]
