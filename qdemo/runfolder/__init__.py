"""Run folders ``archives/<run>/`` (docs/formats.md): the only reader and writer of them.

- :mod:`~qdemo.runfolder.schema`: file names and table columns, defined once.
- :mod:`~qdemo.runfolder.reader`: :func:`read_run` and friends (standard library only).
- :mod:`~qdemo.runfolder.writer`: atomic writes of every file of a run folder.
- :mod:`~qdemo.runfolder.checkpoint`: resumable checkpoints of an explorer.
- :mod:`~qdemo.runfolder.confirm`: critic confirmation (``qdemo confirm``).
- :mod:`~qdemo.runfolder.manifest`: what ``manifest.json`` of a run says.
- :mod:`~qdemo.runfolder.runner`: :func:`run_evolve`, the ``qdemo evolve`` core.

Every public name is re-exported lazily (qdemo._lazy), as in the other subpackages:
importing ``qdemo.runfolder`` imports nothing else; the schema and reader names stay
standard library only when used, the writer, checkpoint, confirm and runner ones bring numpy,
torch and ribs.
"""

from qdemo._lazy import lazy_exports

__all__ = [
    "CELL_COLUMNS", "CONFIG", "CRITIC_COLUMNS", "CRITIC_EMOTION_COLUMNS", "DISPLAY_CELLS", "DIST_COLUMNS", "EMOTION_COLUMN", "FLAG_COLUMNS", "GRID_NAMES", "HISTORY_COLUMNS", "MANIFEST",
    "METRIC_KEYS", "NUMERIC_COLUMNS", "SD_COLUMNS", "SLOT_CELL_COLUMNS", "TABLE", "ArchiveTable", "Confirmation", "EvolveRun",
    "RunFolder", "RunInterrupted", "RunResult", "archive_columns", "confirm_elites", "confirm_run",
    "emotion_report", "load_checkpoint", "load_search", "prepare_run_dir", "proxy_dims", "read_classes", "read_config", "read_history",
    "read_manifest", "read_reference", "read_run", "read_solutions", "run_evolve", "save_checkpoint",
    "save_search", "update_archive_columns", "write_archive", "write_classes", "write_config", "write_elite_images",
    "write_history", "write_manifest", "write_reference", "write_solutions",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "checkpoint": ("load_checkpoint", "load_search", "save_checkpoint", "save_search"),
    "confirm": ("Confirmation", "confirm_elites", "confirm_run", "emotion_report"),
    "reader": ("RunFolder", "proxy_dims", "read_classes", "read_config", "read_history", "read_manifest", "read_reference", "read_run",
               "read_solutions"),
    "runner": ("EvolveRun", "RunInterrupted", "RunResult", "run_evolve"),
    "schema": ("CELL_COLUMNS", "CONFIG", "CRITIC_COLUMNS", "CRITIC_EMOTION_COLUMNS", "DISPLAY_CELLS", "DIST_COLUMNS",
               "EMOTION_COLUMN", "FLAG_COLUMNS", "GRID_NAMES", "HISTORY_COLUMNS", "MANIFEST", "METRIC_KEYS",
               "NUMERIC_COLUMNS", "SD_COLUMNS", "SLOT_CELL_COLUMNS", "TABLE", "archive_columns"),
    "writer": ("ArchiveTable", "prepare_run_dir", "update_archive_columns", "write_archive", "write_config",
               "write_classes", "write_elite_images", "write_history", "write_manifest", "write_reference",
               "write_solutions"),
})
