"""Run folders ``archives/<run>/`` (docs/formats.md): the only reader and writer of them.

- :mod:`~qdemo.runfolder.schema`: file names and table columns, defined once.
- :mod:`~qdemo.runfolder.grid`: the cell grid of a run (``manifest.json`` ``grid``).
- :mod:`~qdemo.runfolder.reader`: :func:`read_run` and friends (standard library only).
- :mod:`~qdemo.runfolder.writer`: atomic writes of every file of a run folder.
- :mod:`~qdemo.runfolder.checkpoint`: resumable checkpoints of an explorer.
- :mod:`~qdemo.runfolder.confirm`: critic confirmation (``qdemo confirm``).
- :mod:`~qdemo.runfolder.manifest`: what ``manifest.json`` of a run says.
- :mod:`~qdemo.runfolder.runner`: :func:`run_evolve`, the ``qdemo evolve`` core.

Reading stays light: the schema, grid and reader are imported here (standard library only);
the writer, checkpoint, confirm and runner names (numpy, torch, ribs) on first use.
"""

from qdemo._lazy import lazy_exports
from qdemo.runfolder.grid import RunGrid, parse_grid
from qdemo.runfolder.reader import (CsvTable, RunFolder, proxy_dims, read_csv_table, read_manifest, read_run,
                                    read_solutions)
from qdemo.runfolder.schema import (CELL_COLUMNS, CRITIC_COLUMNS, CRITIC_EMOTION_COLUMNS, DISPLAY_CELLS,
                                    DIST_COLUMNS, EMOTION_COLUMN, FLAG_COLUMNS, GRID_NAMES, HISTORY_COLUMNS, MANIFEST,
                                    METRIC_KEYS, NUMERIC_COLUMNS, SD_COLUMNS, SLOT_CELL_COLUMNS, TABLE,
                                    archive_columns)

_LAZY = {
    "checkpoint": ("load_checkpoint", "load_search", "save_checkpoint", "save_search"),
    "confirm": ("Confirmation", "confirm_elites", "confirm_run", "emotion_report"),
    "runner": ("EvolveRun", "RunInterrupted", "RunResult", "run_evolve"),
    "writer": ("ArchiveTable", "prepare_run_dir", "update_archive_columns", "write_archive", "write_config",
               "write_elite_images", "write_history", "write_manifest", "write_reference", "write_solutions"),
}

__all__ = [
    "CELL_COLUMNS", "CRITIC_COLUMNS", "CRITIC_EMOTION_COLUMNS", "DISPLAY_CELLS", "DIST_COLUMNS", "EMOTION_COLUMN",
    "FLAG_COLUMNS", "GRID_NAMES", "HISTORY_COLUMNS", "MANIFEST", "METRIC_KEYS", "NUMERIC_COLUMNS", "SD_COLUMNS",
    "SLOT_CELL_COLUMNS", "TABLE", "CsvTable", "RunFolder", "RunGrid", "archive_columns",
    "parse_grid", "proxy_dims", "read_csv_table", "read_manifest", "read_run", "read_solutions",
    *(name for names in _LAZY.values() for name in names),
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
