"""Low-level image statistics and the low-level features + ridge baseline.

:mod:`.features` computes (and caches) the statistics, :mod:`.baseline` runs the honest
out-of-fold baseline with :func:`qdemo.emotion.ridge.ridge_cv`, :mod:`.command` is
``python -m qdemo.emotion.lowlevel``. Public names are re-exported here lazily.
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "LOWLEVEL_FEATURE_NAMES", "LUMA", "cached_lowlevel_features", "distribution_from_ridge", "lowlevel_baseline",
    "lowlevel_feature_matrix", "lowlevel_features", "median_metrics", "prior_predictions", "spectral_slope",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "features": ("LOWLEVEL_FEATURE_NAMES", "LUMA", "cached_lowlevel_features", "lowlevel_feature_matrix",
                 "lowlevel_features", "spectral_slope"),
    "baseline": ("distribution_from_ridge", "lowlevel_baseline", "median_metrics", "prior_predictions"),
})
