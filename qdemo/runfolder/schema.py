"""What a run folder ``archives/<run>/`` holds: file names and table columns, defined once.

The reader (:mod:`qdemo.runfolder.reader`) and the writer (:mod:`qdemo.runfolder.writer`)
both take the columns of ``archive.csv``, ``metrics.csv`` and ``reference.csv`` and the
manifest's metric keys from here (docs/formats.md describes them). Standard library only.
"""

from __future__ import annotations

from qdemo import DIMS, EMOTIONS
from qdemo.measure_space import CELL_COLUMNS, DISPLAY_CELLS, KINDS, SLOT_CELL_COLUMNS

# ----------------------------------------------------------------------------- files
MANIFEST = "manifest.json"
TABLE = "archive.csv"
METRICS = "metrics.csv"
SOLUTIONS = "solutions.npy"
CONFIG = "config.yaml"
REFERENCE = "reference.csv"
CLASSES = "classes.json"
"""What the critic's own ImageNet classifiers see in each elite: the top classes with their word
norms (written by the confirmation when the critic carries classifiers; optional)."""
CHECKPOINT = "checkpoint"
"""Folder of the resumable checkpoint (``state.npz`` + ``meta.json``; see :mod:`qdemo.runfolder.checkpoint`)."""
ELITES = "elites"
REFERENCE_THUMBS = "reference"
RUN_MARKERS = (MANIFEST, CHECKPOINT, CONFIG)
"""Any of these in a folder makes it a run folder (which ``--force`` may replace)."""


def elite_image(index: int) -> str:
    """Path of the PNG of the elite in cell ``index``, relative to the run folder."""
    return f"{ELITES}/cell_{int(index)}.png"


def reference_thumb(i: int) -> str:
    """Path of reference photo ``i``'s thumbnail, relative to the run folder."""
    return f"{REFERENCE_THUMBS}/{int(i):04d}.jpg"


# ----------------------------------------------------------------------------- archive.csv
GRID_NAMES = KINDS
"""The kinds of grid (:class:`qdemo.measure_space.MeasureSpace`, which also owns the cell columns
``CELL_COLUMNS`` / ``SLOT_CELL_COLUMNS`` and the CVT ``DISPLAY_CELLS``)."""
SD_COLUMNS = tuple(f"{d}_sd" for d in DIMS)
CRITIC_COLUMNS = tuple(f"critic_{d}" for d in DIMS)
FLAG_COLUMNS = ("critic_same_cell", "critic_within_one")
IMAGE_COLUMN = "image"
EMOTION_COLUMN = "emotion"
"""Emotions archive: the elite's slot emotion (text)."""
DIST_COLUMNS = tuple(f"p_{e}" for e in EMOTIONS)
"""Emotions archive: the searcher's emotion distribution, one column per emotion."""
CRITIC_EMOTION_COLUMNS = ("critic_emotion", "critic_p", "critic_p_slot", "critic_match")
"""Emotions archive: the critic's most probable emotion (text), its probability, the critic's
probability of the slot's emotion and whether its top emotion is the slot's (0/1)."""
INT_COLUMNS = ("index", *CELL_COLUMNS, *SLOT_CELL_COLUMNS, *FLAG_COLUMNS, "critic_match")
"""Columns written as whole numbers."""
NUMERIC_COLUMNS = ("index", *CELL_COLUMNS, *SLOT_CELL_COLUMNS, "objective", *DIMS, *SD_COLUMNS, *DIST_COLUMNS,
                   *CRITIC_COLUMNS, "critic_p", "critic_p_slot", "critic_match", *FLAG_COLUMNS)
"""Columns of archive.csv that must hold numbers (or be empty); any other column is text."""


def archive_columns(cell_dims: int, *, emotions: bool = False) -> list[str]:
    """The header of archive.csv: ``cell_dims`` cell columns (0 for CVT archives, which have no
    grid); ``emotions``: an emotions archive's (slot cells, slot emotion, distributions)."""
    cells = SLOT_CELL_COLUMNS if emotions else CELL_COLUMNS
    if not 0 <= cell_dims <= len(cells):
        raise ValueError(f"cell_dims={cell_dims}: expected 0..{len(cells)}")
    if emotions:
        return ["index", *cells[:cell_dims], "objective", EMOTION_COLUMN, *DIST_COLUMNS, *DIMS, *SD_COLUMNS,
                *CRITIC_COLUMNS, *CRITIC_EMOTION_COLUMNS, *FLAG_COLUMNS, IMAGE_COLUMN]
    return ["index", *cells[:cell_dims], "objective", *DIMS, *SD_COLUMNS, *CRITIC_COLUMNS,
            *FLAG_COLUMNS, IMAGE_COLUMN]


def all_archive_columns() -> set[str]:
    """Every column any archive.csv may have (what :func:`~qdemo.runfolder.writer.update_archive_columns` accepts)."""
    return set(archive_columns(len(CELL_COLUMNS))) | set(archive_columns(len(SLOT_CELL_COLUMNS), emotions=True))


# ----------------------------------------------------------------------------- metrics.csv, manifest
HISTORY_COLUMNS = ("iteration", "evaluations", "num_elites", "coverage", "qd_score", "qd_score_normalised",
                   "best", "mean_objective", "wall_s")
"""metrics.csv: one row per iteration."""
METRIC_KEYS = ("qd_score", "qd_score_normalised", "coverage", "best", "evaluations", "critic_confirmed",
               "critic_within_one_cell", "dataset_coverage", "critic_emotion_match", "va_cells", "va_cells_filled",
               "va_cells_confirmed", "near_uniform_elites", "elite_diversity", "reference_diversity")
"""manifest.json ``metrics`` (null where not computed; ``critic_emotion_match``: emotions grids only;
``va_cells*``, ``near_uniform_elites`` and the diversities: qdemo.qd.showcase, VA / VAD grids)."""
STATUSES = ("running", "interrupted", "complete")
"""manifest.json ``status``."""

# ----------------------------------------------------------------------------- reference.csv
REFERENCE_COLUMNS = ("source", "image", "index", *DIMS, *SD_COLUMNS, *(f"human_{d}" for d in DIMS))
"""reference.csv: photo path, thumbnail (relative, or empty), cell index, searcher VAD and
spread, human ratings on the canonical scale (empty where not rated)."""
