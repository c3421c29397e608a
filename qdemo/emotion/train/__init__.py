"""Training the searcher and critic on rated images (``qdemo regressor train``).

One module per step: :mod:`.config` (the typed config), :mod:`.data` (the rated sets and the
joint folds), :mod:`.role` (one role: features, ridge members, fine-tuning, heads),
:mod:`.finetune` (LP-FT of one member), :mod:`.heads` (the emotion-distribution head) and
:mod:`.run` (the entry point: weights, metrics, model card). Features come from
:mod:`qdemo.emotion.features`, the ridge solver from :mod:`qdemo.emotion.ridge`, the
evaluation from :mod:`qdemo.emotion.evaluate`. Public names are re-exported here lazily.
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "DataConfig", "HEAD_ALPHAS", "RegressorConfig", "RoleConfig", "RoleResult", "TrainingData", "finetune_member",
    "fit_dist_head", "load_training_data", "predict_dist", "train_regressor", "train_role",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "config": ("DataConfig", "HEAD_ALPHAS", "RegressorConfig", "RoleConfig"),
    "data": ("TrainingData", "load_training_data"),
    "finetune": ("finetune_member",),
    "heads": ("fit_dist_head", "predict_dist"),
    "role": ("RoleResult", "train_role"),
    "run": ("train_regressor",),
})
