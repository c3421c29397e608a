"""Low-level normalisation that keeps the emotion: SHINE targets and an emotional pix2pix.

Public names are re-exported here, lazily; heavy work lives in the submodules.
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "DataConfig", "NormaliseConfig", "ReportConfig", "ShineConfig", "TrainConfig",
    "ImageSet", "choose_subset", "collect", "load_fixed", "split_train_test",
    "GeneratorSpec", "PatchDiscriminator", "UNetGenerator", "build_generator",
    "ShineOutput", "ShineTargets", "compute_targets", "match_arrays", "run_shine",
    "SHIPPED", "load_generator", "save_generator",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "config": ("DataConfig", "NormaliseConfig", "ReportConfig", "ShineConfig", "TrainConfig"),
    "data": ("ImageSet", "choose_subset", "collect", "load_fixed", "split_train_test"),
    "models": ("GeneratorSpec", "PatchDiscriminator", "UNetGenerator", "build_generator"),
    "shine": ("compute_targets", "run_shine"),
    "shine_files": ("ShineOutput",),
    "shine_match": ("ShineTargets", "match_arrays"),
    "weights_io": ("SHIPPED", "load_generator", "save_generator"),
})
