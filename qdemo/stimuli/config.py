"""The options of ``qdemo stimuli export`` (standard library only: the CLI reads it for its flags)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StimuliConfig:
    """``qdemo stimuli export RUN --out DIR``: which run, which ratings, how to write the set."""

    run: str = ""
    """The run folder of `qdemo evolve` whose elites form the set."""
    out: str = ""
    """The folder to create (refused if it exists, unless ``force``)."""
    db: str | None = None
    """Ratings database of `qdemo rate` over a study exported from this run: the set is then the run's
    elites in that study, as rated (the study's PNGs), with their human norms. None: every elite, with
    model norms only."""
    exclude_flagged: bool = False
    """Leave out raters flagged by `qdemo validate` (mean leave-one-out r below ``flag_below``)."""
    flag_below: float = 0.2
    """The flag threshold (mean leave-one-out r over valence and arousal)."""
    equalise: str | None = None
    """Without ``db`` only: SHINE-equalise the images (lum, hist, sf, spec, full) before export; the
    models' predictions are then those of the equalised images. With ``db`` the images are the ones
    rated: equalise them when the study is made (`qdemo export-study --equalise`)."""
    prefix: str = "qd"
    """Image ids are the prefix and a number (qd001, qd002, ... in cell order)."""
    licence: str = "CC BY 4.0"
    """Licence of the images stated in the datasheet (renders of procedural renderers: yours to choose)."""
    contact_columns: int = 10
    """Thumbnails per row of contact_sheet.png."""
    force: bool = False
    """Replace ``out`` if it holds an earlier export (norms.csv and DATASHEET.md); any other folder is
    never replaced."""
    seed: int = 0
    """Seed of the random rater splits of the split-half reliability."""


__all__ = ["StimuliConfig"]
