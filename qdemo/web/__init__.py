"""qdemo.web: ``qdemo browse`` (archive browser), ``qdemo rate`` (SAM rating study) and
``qdemo validate`` (human ratings vs intended / predicted VAD).

Standard-library HTTP servers bound to 127.0.0.1 by default; the pages are plain
HTML/CSS/JS shipped in ``qdemo/web/static`` (no CDN, no build step). Public names are
re-exported lazily.
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "App", "BrowseApp", "HTTPError", "PathRefused", "RateApp", "RatingError", "RatingStore",
    "RunArchive", "Samples", "Server", "Stimulus", "export_csv", "load_stimuli", "resolve_under",
    "run_validate", "validate",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "archive": ("RunArchive", "Samples"),
    "browse": ("BrowseApp",),
    "rate": ("RateApp",),
    "ratings": ("RatingError", "RatingStore", "Stimulus", "export_csv", "load_stimuli"),
    "safepath": ("PathRefused", "resolve_under"),
    "server": ("App", "HTTPError", "Server"),
    "validate": ("run_validate", "validate"),
})
