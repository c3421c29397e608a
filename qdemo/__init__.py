"""qdemo: illuminate valence-arousal-dominance (VAD) space with images.

Layers import downward only: emotion <- render <- qd <- compare/viz/web <- cli.
"""

__version__ = "0.1.0"

DIMS = ("valence", "arousal", "dominance")
"""The canonical emotion dimensions, in this order, each on [-1, 1] with 0 neutral."""

__all__ = ["DIMS", "__version__"]
