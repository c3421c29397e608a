"""``qdemo compare``, ``qdemo export-study`` (registered by qdemo.cli).

    qdemo compare ARCHIVE... [--generator shapes|pixels|CKPT ...] [--strict] --out DIR [--ray-address ADDR]
    qdemo export-study --archive RUN [--generator CKPT] [--photos DIR] --out DIR
    qdemo compare-categories RUN_EMOTIONS RUN_VAD --out DIR [--emotion6 DIR]
"""

from __future__ import annotations

import argparse

from qdemo.emotion.specs import MODEL_SPEC_HELP
from qdemo.errors import QdemoError
from qdemo.flags import Flag, add_config_options, add_flags

CONFIG = "qdemo.compare.elites_vs_samples:CompareConfig"
FLAGS = (
    Flag("generators", "--generator", repeat=True, metavar="SPEC"),
    Flag("strict"),
    Flag("samples_per_cell", short="-k"),
    Flag("select_from", "--select", metavar="N"),
    Flag("critic", metavar="SPEC"),
    Flag("searcher", metavar="SPEC"),
    Flag("photos", repeat=True, metavar="DIR"),
)
"""The config fields of ``compare`` with a flag of their own; every other field: --set."""
PATHS = ("photos",)
"""Input paths of CompareConfig: relative to the config file they are written in."""
SPECS = ("generators", "critic", "searcher")
"""Model specs of CompareConfig: a file named in a config file is relative to it."""


def register(subparsers) -> None:
    """Add this area's sub-commands to the top-level parser."""
    c = subparsers.add_parser("compare", help="explorer elites vs the shapes and pixel generators per cell (Ray tasks)")
    c.add_argument("archives", nargs="*", metavar="ARCHIVE", help="'qdemo evolve' run folders")
    c.add_argument("--out", help="comparison folder")
    add_config_options(c, "compare")
    add_flags(c, CONFIG, FLAGS)
    c.add_argument("--ray-address", help="join this Ray cluster instead of starting a local one")
    c.add_argument("--num-cpus", type=int, help="local Ray CPUs (default: all cores)")
    c.add_argument("--serial", action="store_true", help="run the tasks in this process (no Ray)")
    c.add_argument("--no-progress", action="store_true", help="no progress bars")
    c.set_defaults(func=_compare)

    s = subparsers.add_parser("export-study", help="blinded, shuffled stimulus set with a hidden key")
    s.add_argument("--archive", required=True, help="'qdemo evolve' run folder (its elites)")
    s.add_argument("--generator", help="generator weights; default: shipped (use --no-generator to leave them out)")
    s.add_argument("--no-generator", action="store_true", help="no generator samples")
    s.add_argument("--photos", help="folder of real photos to mix in (default: none)")
    s.add_argument("--n-elites", type=int, default=0, help="elites to include, spread over cells (0 = all)")
    s.add_argument("--n-generator", type=int, default=0, help="generator samples (one per chosen cell; 0 = as many as elites)")
    s.add_argument("--n-photos", type=int, default=0, help="photos to include (0 = as many as elites)")
    s.add_argument("--size", type=int, default=256, help="side of every stimulus in pixels, so size gives nothing away (default: %(default)s)")
    s.add_argument("--critic", default="shipped", help=f"critic for the predicted VAD: {MODEL_SPEC_HELP}")
    s.add_argument("--seed", type=int, default=0, help="shuffle / selection seed (default: %(default)s)")
    s.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    s.add_argument("--equalise", choices=("lum", "hist", "sf", "spec", "full"),
                   help="SHINE-equalise all stimuli together before they are rated (luminance, histogram, spectrum)")
    s.add_argument("--out", required=True, help="stimulus folder to create")
    s.set_defaults(func=_export_study)

    k = subparsers.add_parser(
        "compare-categories", help="an emotions archive beside a VAD grid on the valence-arousal plane",
        description="Place the elites of a `qdemo evolve --grid emotions` run on the valence-arousal plane by "
                    "both models' VAD, next to a VAD-grid run's elites, beside the human mean VA of the Emotion6 "
                    "photos of each emotion; report how often the critic confirms each representation's elites. "
                    "Reads the two run folders only (no model is loaded). See docs/evolve.md.")
    k.add_argument("emotions_run", metavar="RUN_EMOTIONS", help="run folder of `qdemo evolve --grid emotions`")
    k.add_argument("vad_run", metavar="RUN_VAD", help="run folder of `qdemo evolve --grid vad` (or va, cvt)")
    k.add_argument("--out", required=True, help="folder for report.md, summary.json, categories.csv and the figure")
    k.add_argument("--emotion6", metavar="DIR", help="the Emotion6 folder for the human means (default: "
                                                     "shared/datasets/emotion6 beside the clone, skipped if absent)")
    k.set_defaults(func=_compare_categories)


def _compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qdemo.cli._config import load_command_config
    from qdemo.compare.elites_vs_samples import CompareConfig, run_compare
    from qdemo.config import describe

    if args.help_config:
        print(describe(CompareConfig))
        return 0
    if not args.archives:
        raise QdemoError("compare: give at least one ARCHIVE run folder")
    if not args.out:
        raise QdemoError("compare: --out DIR is required")
    cfg = load_command_config(CompareConfig, "compare", args, paths=PATHS, specs=SPECS)
    summary = run_compare(args.archives, cfg, args.out, address=args.ray_address, num_cpus=args.num_cpus,
                          backend="serial" if args.serial else "ray", progress=not args.no_progress)
    for m, v in summary["all"]["metrics"].items():
        values = "  ".join(f"{s} {x:.4g}" for s, x in v.items() if s != "winner")
        print(f"{m:24s} {values}  best {v['winner']}")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def _compare_categories(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qdemo.compare.categories import compare_categories

    s = compare_categories(args.emotions_run, args.vad_run, args.out, emotion6=args.emotion6)
    c, v = s["categorical"], s["continuous"]
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    print(f"categorical: critic's top emotion = slot for {pct(c['critic_match'])} of {c['elites']} elites "
          f"(chance {pct(c['chance'])}, critic on Emotion6 photos {pct(c['critic_heldout_accuracy'])})")
    print(f"continuous:  critic in the same cell for {pct(v['critic_same_cell'])}, within one cell "
          f"{pct(v['critic_within_one'])} of {v['elites']} elites")
    for n in s["notes"]:
        print(f"note: {n}")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def _export_study(args: argparse.Namespace) -> int:
    from qdemo.compare.study import export_study

    n = export_study(
        args.archive, args.out, generator=None if args.no_generator else (args.generator or "shipped"),
        photos=args.photos, n_elites=args.n_elites, n_generator=args.n_generator, n_photos=args.n_photos,
        size=args.size, critic=args.critic, seed=args.seed, device=args.device, equalise=args.equalise,
    )
    print(f"wrote {n} stimuli to {args.out} (key: {args.out}/key.csv - keep it from the raters)")
    return 0
