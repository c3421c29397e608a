"""``qdemo stimuli export``: a run as a normed stimulus set (registered by qdemo.cli).

    qdemo stimuli export RUN --out DIR [--db ratings.sqlite [--exclude-flagged]] [--equalise MODE]

No torch import at module level (``qdemo --help`` stays fast).
"""

from __future__ import annotations

import argparse

from qdemo.flags import Flag, add_flags

CONFIG = "qdemo.stimuli.config:StimuliConfig"
FLAGS = (
    Flag("out", metavar="DIR"),
    Flag("db", metavar="DB"),
    Flag("exclude_flagged", value=True),
    Flag("flag_below", metavar="R"),
    Flag("equalise", choices=("lum", "hist", "sf", "spec", "full")),
    Flag("prefix"),
    Flag("licence", metavar="TEXT"),
    Flag("contact_columns", metavar="N"),
    Flag("force", value=True),
    Flag("seed"),
)


def register(subparsers) -> None:
    """Add ``qdemo stimuli ...`` to the top-level parser."""
    s = subparsers.add_parser("stimuli", help="a run as a normed stimulus set (images, norms.csv, DATASHEET.md)",
                              description="Stimulus sets for affective science from qdemo runs.")
    sub = s.add_subparsers(dest="stimuli_command", metavar="SUBCOMMAND")
    sub.required = True
    p = sub.add_parser(
        "export", help="images + norms.csv + DATASHEET.md + contact sheet of a run (human norms with --db)",
        description="Export the elites of RUN as a stimulus set: PNG images, norms.csv (human rating means, SDs "
                    "and Ns on SAM 1-9 and canonical, the intended cell, both models' predictions, low-level "
                    "statistics), DATASHEET.md and contact_sheet.png. With --db (a `qdemo rate` database of a "
                    "study exported from RUN) the set is the rated elites with their norms; without it every "
                    "elite with model norms only. See docs/study.md.")
    p.add_argument("run", metavar="RUN", help="run folder of `qdemo evolve`")
    add_flags(p, CONFIG, FLAGS)
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from qdemo.config import load_config
    from qdemo.flags import flag_overrides
    from qdemo.stimuli.config import StimuliConfig
    from qdemo.stimuli.export import export_stimuli

    cfg = load_config(StimuliConfig, None, {**flag_overrides(args), "run": args.run})
    facts = export_stimuli(cfg)
    study = facts.get("study")
    what = (f"human norms from {study['n_raters']} raters ({len(study['excluded'])} flagged rater(s) left out)"
            if study else "model norms only (no --db)")
    print(f"qdemo stimuli export: {facts['n']} images, {what} -> {cfg.out}/ (norms.csv, DATASHEET.md, "
          f"contact_sheet.png) in {facts['seconds']:.1f} s")
    return 0
