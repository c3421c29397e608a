"""qdemo: illuminate valence-arousal-dominance (VAD) space with images.

Layers import downward only (docs/architecture.md, tests/core/test_core_layers.py):

    base < emotion < render < generator | normalise < qd < runfolder < viz < compare | bench | web | stimuli < cli
"""

__version__ = "0.1.0"

DIMS = ("valence", "arousal", "dominance")
"""The canonical emotion dimensions, in this order, each on [-1, 1] with 0 neutral."""

EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
"""The 7 discrete emotions of the Emotion6 distribution, in its column order (the models'
distribution head and ``qdemo evolve --grid emotions`` use this order)."""

__all__ = ["DIMS", "EMOTIONS", "__version__"]
