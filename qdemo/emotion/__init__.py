"""Emotion models: datasets, the VAD regressor, searcher and critic.

Public names are re-exported here, lazily (importing ``qdemo.emotion`` imports no torch).
"""

from qdemo._lazy import lazy_exports

__all__ = [
    # the emotion-model contract
    "EmotionModel", "ModelInfo", "TinyEmotionModel", "VADPrediction",
    # data and metrics layer (datasets, splits, proxies, metrics, ridge, low-level baseline)
    "EMOTIONS", "LOWLEVEL_FEATURE_NAMES", "RatedSet", "RidgeFitter", "WordNorms", "add_proxies",
    "assert_no_group_leak", "bass_stem", "bootstrap_ci", "describe_sources", "load_image_array", "parse_columns",
    "concat_sets", "default_folds", "distribution_metrics", "emotion6_proxy", "format_metrics_table",
    "from_canonical", "grouped_kfold", "keyword_proxy", "load_bass", "load_csv", "load_dataset", "load_emotion6",
    "load_oasis", "lowlevel_feature_matrix", "lowlevel_features", "oasis_theme_proxy", "proxy_validity",
    "regression_metrics", "ridge_cv", "ridge_fit_predict", "stratified_kfold", "to_canonical", "to_sam9",
    "verify_images",
    # the VAD regressor: shipped searcher and critic (model, weights, training, evaluation)
    "BACKBONE_NAMES", "Backbone", "Calibration", "EMOTION_NAMES", "FusedRegressor", "MODEL_SPEC_HELP", "ModelSpec", "ROLES", "RegressorMeta", "VADRegressor",
    "build_backbone", "describe_model", "fit_variance_matching", "load_emotion_model", "load_model", "load_model_file", "model_sha256",
    "prepare_model", "read_metadata", "save_model", "shipped_path", "shipped_weights_info",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "base": ("EmotionModel", "ModelInfo", "TinyEmotionModel", "VADPrediction"),
    # --- data and metrics layer
    "datasets": ("EMOTIONS", "RatedSet", "bass_stem", "concat_sets", "load_bass", "load_csv", "load_dataset",
                 "load_emotion6", "load_image_array", "load_oasis", "parse_columns", "verify_images"),
    "lowlevel": ("LOWLEVEL_FEATURE_NAMES", "lowlevel_feature_matrix", "lowlevel_features"),
    "ridge": ("RidgeFitter", "ridge_cv", "ridge_fit_predict"),
    "metrics": ("bootstrap_ci", "describe_sources", "distribution_metrics", "format_metrics_table",
                "regression_metrics"),
    "proxies": ("add_proxies", "emotion6_proxy", "keyword_proxy", "oasis_theme_proxy", "proxy_validity"),
    "wordnorms": ("WordNorms",),
    "scale": ("from_canonical", "to_canonical", "to_sam9"),
    "splits": ("assert_no_group_leak", "default_folds", "grouped_kfold", "stratified_kfold"),
    # --- the VAD regressor
    "backbones": ("BACKBONE_NAMES", "Backbone", "build_backbone"),
    "calibration": ("Calibration", "fit_variance_matching"),
    "fused": ("FusedRegressor",),
    "model": ("EMOTION_NAMES", "ModelSpec", "RegressorMeta", "VADRegressor"),
    "specs": ("MODEL_SPEC_HELP", "ROLES"),
    "zoo": ("describe_model", "load_emotion_model", "load_model", "load_model_file", "model_sha256",
            "prepare_model", "read_metadata", "save_model", "shipped_path", "shipped_weights_info"),
})
