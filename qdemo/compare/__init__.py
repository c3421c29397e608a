"""qdemo.compare: explorer elites vs generator samples (Ray), experiment grids, study export.

Public names are re-exported here.
"""

from qdemo.compare.archive_io import ArchiveRun, read_archive
from qdemo.compare.compare import CompareConfig, run_compare
from qdemo.compare.experiments import evaluate_generator, run_lambda_sweep
from qdemo.compare.metrics import FeatureSpace, frechet_distance, mean_pairwise_distance
from qdemo.compare.study import export_study

__all__ = [
    "ArchiveRun", "CompareConfig", "FeatureSpace", "evaluate_generator", "export_study", "frechet_distance",
    "mean_pairwise_distance", "read_archive", "run_compare", "run_lambda_sweep",
]
