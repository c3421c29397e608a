"""Emotion models: datasets, the VAD regressor, searcher and critic.

Public names are re-exported here.
"""

from qdemo.emotion.base import EmotionModel, ModelInfo, TinyEmotionModel, VADPrediction

__all__ = ["EmotionModel", "ModelInfo", "TinyEmotionModel", "VADPrediction"]
