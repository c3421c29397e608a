"""Rated image sets: OASIS, Emotion6, BASS and a user's own CSV, all on the canonical scale.

One module per concept: :mod:`.ratedset` (the :class:`RatedSet` type), :mod:`.cells`
(reading columns, numbers, scales and image names of a table), one reader per format
(:mod:`.oasis`, :mod:`.emotion6`, :mod:`.bass`, :mod:`.usercsv`), :mod:`.dispatch`
(:func:`load_dataset` and format detection) and :mod:`.images` (image checks, arrays).
Tables are read by :func:`qdemo.tables.read_table`.

Loaders accept what real files look like: ``\\r``, ``\\n`` or ``\\r\\n`` line endings, a
UTF-8 byte-order mark, comma / tab / semicolon separators, stray spaces around names
(OASIS has ``'Crosswalk 1 '`` whose file is ``Crosswalk 1.jpg``). Anything unusable
raises :class:`~qdemo.errors.DataError` naming the file, the line and the problem.
Public names are re-exported here lazily.
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "ALIASES", "BASS_CSV", "EMOTIONS", "FORMATS", "RatedSet", "bass_stem", "concat_sets", "detect_format",
    "is_rated_set", "load_bass", "load_csv", "load_dataset", "load_emotion6", "load_image_array", "load_oasis",
    "oasis_theme", "parse_columns", "verify_images",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "ratedset": ("EMOTIONS", "RatedSet", "concat_sets"),
    "oasis": ("load_oasis", "oasis_theme"),
    "emotion6": ("load_emotion6",),
    "bass": ("BASS_CSV", "bass_stem", "load_bass"),
    "usercsv": ("ALIASES", "load_csv", "parse_columns"),
    "dispatch": ("FORMATS", "detect_format", "is_rated_set", "load_dataset"),
    "images": ("load_image_array", "verify_images"),
})
