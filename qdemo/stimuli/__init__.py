"""qdemo.stimuli: a run folder as a normed stimulus set (``qdemo stimuli export``).

The images (PNG), ``norms.csv`` (human rating means, SDs and Ns, both models' predictions,
the intended cell, low-level statistics), ``DATASHEET.md`` and a contact sheet; see
docs/study.md. Public names are re-exported lazily.
"""

from qdemo._lazy import lazy_exports

__all__ = ["NORM_COLUMNS", "StimuliConfig", "export_stimuli"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "config": ("StimuliConfig",),
    "export": ("export_stimuli",),
    "norms": ("NORM_COLUMNS",),
})
