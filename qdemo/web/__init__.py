"""qdemo.web: ``qdemo browse`` (archive browser), ``qdemo rate`` (SAM rating study) and
``qdemo validate`` (human ratings vs intended / predicted VAD).

Standard-library HTTP servers bound to 127.0.0.1 by default; the pages are plain
HTML/CSS/JS shipped in ``qdemo/web/static`` (no CDN, no build step).
"""

from qdemo.web.archive import Grid, RunArchive, Samples
from qdemo.web.browse import BrowseApp
from qdemo.web.rate import RateApp
from qdemo.web.ratings import RatingError, RatingStore, Stimulus, export_csv, load_stimuli
from qdemo.web.safepath import PathRefused, resolve_under
from qdemo.web.server import App, HTTPError, Server
from qdemo.web.validate import run_validate, validate

__all__ = [
    "App", "BrowseApp", "Grid", "HTTPError", "PathRefused", "RateApp", "RatingError", "RatingStore",
    "RunArchive", "Samples", "Server", "Stimulus", "export_csv", "load_stimuli", "resolve_under",
    "run_validate", "validate",
]
