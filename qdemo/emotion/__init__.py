"""Emotion models: datasets, the VAD regressor, searcher and critic.

Public names are re-exported here.
"""

from qdemo.emotion.base import EmotionModel, ModelInfo, TinyEmotionModel, VADPrediction

__all__ = ["EmotionModel", "ModelInfo", "TinyEmotionModel", "VADPrediction"]

# --- data and metrics layer (datasets, splits, proxies, metrics, low-level baseline)
from qdemo.emotion.datasets import (
    EMOTIONS, RatedSet, concat_sets, load_csv, load_dataset, load_emotion6, load_image_array, load_oasis,
    parse_columns, verify_images,
)
from qdemo.emotion.lowlevel import (
    LOWLEVEL_FEATURE_NAMES, lowlevel_feature_matrix, lowlevel_features, ridge_cv, ridge_fit_predict,
)
from qdemo.emotion.metrics import (
    bootstrap_ci, describe_sources, distribution_metrics, format_metrics_table, regression_metrics,
)
from qdemo.emotion.proxies import WordNorms, add_proxies, emotion6_proxy, oasis_theme_proxy, proxy_validity
from qdemo.emotion.scale import from_canonical, to_canonical, to_sam9
from qdemo.emotion.splits import assert_no_group_leak, default_folds, grouped_kfold, stratified_kfold

__all__ += [
    "EMOTIONS", "LOWLEVEL_FEATURE_NAMES", "RatedSet", "WordNorms", "add_proxies", "assert_no_group_leak",
    "bootstrap_ci", "describe_sources", "load_image_array", "parse_columns",
    "concat_sets", "default_folds", "distribution_metrics", "emotion6_proxy", "format_metrics_table",
    "from_canonical", "grouped_kfold", "load_csv", "load_dataset", "load_emotion6", "load_oasis",
    "lowlevel_feature_matrix", "lowlevel_features", "oasis_theme_proxy", "proxy_validity",
    "regression_metrics", "ridge_cv", "ridge_fit_predict", "stratified_kfold", "to_canonical", "to_sam9",
    "verify_images",
]

# --- the VAD regressor: shipped searcher and critic (model, weights, training, evaluation)
from qdemo.emotion.backbones import BACKBONE_NAMES, Backbone, build_backbone
from qdemo.emotion.model import EMOTION_NAMES, ModelSpec, RegressorMeta, VADRegressor
from qdemo.emotion.zoo import (
    ROLES, load_model, load_model_file, read_metadata, save_model, shipped_path, shipped_weights_info,
)

__all__ += [
    "BACKBONE_NAMES", "Backbone", "EMOTION_NAMES", "ModelSpec", "ROLES", "RegressorMeta", "VADRegressor",
    "build_backbone", "load_model", "load_model_file", "read_metadata", "save_model", "shipped_path",
    "shipped_weights_info",
]
