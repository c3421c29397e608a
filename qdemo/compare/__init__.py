"""qdemo.compare: explorer elites vs generator samples (Ray), experiment grids, study export, and
categorical (emotion slots) vs continuous (VAD grid) archives.

Public names are re-exported here, lazily (importing ``qdemo.compare`` imports no torch or ray).
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "ArchiveRun", "CompareConfig", "FeatureSpace", "compare_categories", "evaluate_generator", "export_study", "frechet_distance",
    "mean_pairwise_distance", "read_archive", "run_compare", "run_generator_evaluation", "run_lambda_sweep",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "archive_io": ("ArchiveRun", "read_archive"),
    "categories": ("compare_categories",),
    "elites_vs_samples": ("run_compare",),
    "config": ("CompareConfig",),
    "experiments": ("run_lambda_sweep",),
    "generator_eval": ("evaluate_generator", "run_generator_evaluation"),
    "metrics": ("FeatureSpace", "frechet_distance", "mean_pairwise_distance"),
    "study": ("export_study",),
})
