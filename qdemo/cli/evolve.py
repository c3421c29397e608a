"""``qdemo evolve``, ``qdemo confirm`` (registered by qdemo.cli).

    qdemo evolve [--grid vad|va|cvt|emotions] [--emitter NAME] [--renderer NAME] [--iterations N] ...
    qdemo evolve --resume archives/<run>
    qdemo evolve --resume archives/<run> --searcher adapted.safetensors --rejudge
    qdemo confirm archives/<run> [--critic PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qdemo.emotion.specs import MODEL_SPEC_HELP  # standard library only
from qdemo.flags import Flag, add_config_options, add_flags
from qdemo.qd.config import GRIDS  # names only: no torch or ribs

CONFIG = "qdemo.qd.config:EvolveConfig"
FLAGS = (
    Flag("grid.name", "--grid", choices=GRIDS),
    Flag("grid.slots", "--slots", metavar="EMOTIONS"),
    Flag("emitter.name", "--emitter"),
    Flag("renderer.name", "--renderer"),
    Flag("renderer.resolution", "--resolution"),
    Flag("iterations"),
    Flag("batch_size"),
    Flag("seed"),
    Flag("device"),
    Flag("out_root", "--out", metavar="DIR"),
    Flag("name"),
    Flag("dataset.format", "--dataset-format"),
    Flag("searcher", metavar="PATH"),
    Flag("critic", metavar="PATH"),
)
"""The config fields with a flag of their own; every other field: --set key=value."""
PATHS = ("dataset.path",)
"""Input paths of EvolveConfig: relative to the config file they are written in."""
SPECS = ("searcher", "critic")
"""Model specs of EvolveConfig: a file named in a config file is relative to it."""
RESUMABLE = ("iterations", "device", "critic")
"""Fields a resumed run may change."""


def register(subparsers) -> None:
    """Add this area's sub-commands to the top-level parser."""
    p = subparsers.add_parser(
        "evolve", help="quality-diversity search for images over valence-arousal(-dominance) cells",
        description="Fill a grid of emotion cells with images, each the best found for its cell, "
                    "by searching a renderer's parameters against the searcher model (pyribs). "
                    "Writes archives/<run>/ (see docs/evolve.md).")
    add_config_options(p, "evolve")
    add_flags(p, CONFIG, FLAGS)
    p.add_argument("--cells", help="cells per dimension, e.g. 10,10,5 (or CVT cell count) [config: grid.cells]")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its checkpoint")
    p.add_argument("--rejudge", action="store_true",
                   help="with --resume and --searcher: re-score the run's elites with that searcher (e.g. one "
                        "adapted by `qdemo regressor adapt`), re-place them in its cells and continue the search")
    p.add_argument("--force", action="store_true", help="replace an existing run folder")
    p.add_argument("--dataset", metavar="DIR", help="reference photos scored by the searcher (required to exist) "
                                                    "[config: dataset.path]")
    p.add_argument("--no-dataset", action="store_true", help="skip the reference photos")
    p.add_argument("--no-plots", action="store_true", help="skip heatmaps, montage and metric plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--strict", action="store_true", help="--renderer generator: refuse a generator trained against "
                                                         "another searcher than this run's (default: a warning)")
    p.set_defaults(func=_evolve)

    c = subparsers.add_parser("confirm", help="re-score a run's elites with the critic",
                              description="Re-score every elite of a run folder with the critic, store the "
                                          "critic's VAD in archive.csv and update the manifest metrics.")
    c.add_argument("run_dir", metavar="RUN_DIR")
    c.add_argument("--critic", metavar="SPEC", help=f"critic (default: the run's config): {MODEL_SPEC_HELP}")
    c.add_argument("--device", default="auto")
    c.add_argument("--no-plots", action="store_true")
    c.set_defaults(func=_confirm)


def _extra(args: argparse.Namespace) -> dict:
    """Overrides from the options that are not one field each (--cells, --dataset)."""
    o: dict = {}
    if args.dataset:
        o["dataset.path"] = args.dataset
        o["dataset.required"] = True
    if args.cells:
        from qdemo.errors import ConfigError

        try:
            cells = [int(x) for x in args.cells.replace("x", ",").split(",") if x.strip()]
        except ValueError:
            raise ConfigError(f"--cells {args.cells!r}: expected integers like 10,10,5") from None
        if (args.grid or "") == "cvt" and len(cells) == 1:
            o["grid.cvt_cells"] = cells[0]
        else:
            o["grid.cells"] = cells
    return o


def _load(args: argparse.Namespace):
    from qdemo.cli._config import load_command_config
    from qdemo.qd.config import EvolveConfig

    cfg = load_command_config(EvolveConfig, "evolve", args, extra=_extra(args), paths=PATHS, specs=SPECS)
    _drop_foreign_options(cfg, args)
    if getattr(args, "strict", False) and cfg.renderer.name == "generator":  # the renderer checks its judge
        cfg.renderer.options = {**cfg.renderer.options, "strict": True}
    if args.no_dataset:
        cfg.dataset.path = None
        cfg.dataset.required = bool(args.dataset)
    return cfg


def _drop_foreign_options(cfg, args: argparse.Namespace) -> None:
    """``--renderer NAME`` picks another renderer than the config file's: the file's
    ``renderer.options`` belong to its renderer, so the ones NAME does not take are dropped
    (with a note), unless ``--set renderer.options...`` gave them."""
    import importlib
    import inspect

    from qdemo.render.base import RENDERERS

    name = cfg.renderer.name
    if getattr(args, "renderer", None) is None or name not in RENDERERS or not cfg.renderer.options:
        return
    if any(str(kv).startswith("renderer.options") for kv in getattr(args, "set", []) or []):
        return
    module, cls = RENDERERS[name].split(":")
    params = inspect.signature(getattr(importlib.import_module(module), cls).__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    foreign = sorted(k for k in cfg.renderer.options if k not in params)
    if foreign:
        print(f"qdemo evolve: --renderer {name}: ignoring the config's renderer.options {', '.join(foreign)} "
              f"(they belong to another renderer)")
        cfg.renderer.options = {k: v for k, v in cfg.renderer.options.items() if k not in foreign}


def _load_resumed(args: argparse.Namespace, run_dir: Path):
    """The run's own config.yaml; only the RESUMABLE fields may change."""
    from qdemo.cli._config import announce
    from qdemo.errors import QdemoError
    from qdemo.flags import flag_overrides
    from qdemo.runfolder import CONFIG, read_config

    if not (run_dir / CONFIG).exists():
        raise QdemoError(f"--resume {run_dir}: no {CONFIG} there (not a run folder)")
    given = flag_overrides(args)
    option = {f.field: f.option for f in FLAGS}
    allowed = RESUMABLE + (("searcher",) if args.rejudge else ())
    refused = [option[k] for k in given if k not in allowed]
    refused += [o for o, v in (("--cells", args.cells), ("--dataset", args.dataset), ("--config", args.config),
                               ("--no-dataset", args.no_dataset)) if v] + list(args.set)
    if refused:
        raise QdemoError(f"--resume: the run's own config is used; only --iterations, --device and "
                         f"--critic may change (got {', '.join(refused)}); --searcher with --rejudge")
    if args.rejudge and "searcher" not in given:
        raise QdemoError("--rejudge: give the new searcher (--searcher PATH), e.g. one from `qdemo regressor adapt`")
    cfg = read_config(run_dir, {k: v for k, v in given.items() if k in allowed})
    announce("evolve", cfg)
    return cfg


def _evolve(args: argparse.Namespace) -> int:
    from qdemo.config import describe
    from qdemo.qd.config import EvolveConfig

    if args.help_config:
        print(describe(EvolveConfig))
        return 0
    if args.resume:
        out = Path(args.resume)
        cfg = _load_resumed(args, out)
    elif args.rejudge:
        from qdemo.errors import QdemoError

        raise QdemoError("--rejudge goes with --resume RUN_DIR --searcher PATH")
    else:
        cfg = _load(args)
        out = cfg.run_dir()
    return _run(cfg, out, resume=bool(args.resume), force=args.force, plots=not args.no_plots,
                progress=not args.quiet, rejudge=args.rejudge)


def _run(cfg, out: Path, *, resume: bool, force: bool, plots: bool, progress: bool, rejudge: bool = False) -> int:
    from qdemo.qd.build import build_search
    from qdemo.runfolder.runner import RunInterrupted, run_evolve

    search = build_search(cfg)
    print(f"qdemo evolve: {cfg.grid.name} grid, {cfg.emitter.name} on {cfg.renderer.name} "
          f"({search.renderer.solution_dim} parameters, {cfg.renderer.resolution} px), "
          f"searcher {search.searcher.info.name}, device {search.device}, "
          f"{cfg.iterations} iterations x {cfg.batch_size} -> {out}", file=sys.stderr)
    try:
        result = run_evolve(cfg, search=search, out_dir=out, progress=progress, resume=resume, force=force,
                            rejudge=rejudge)
    except RunInterrupted as exc:
        print(f"qdemo evolve: interrupted after iteration {search.explorer.iteration} — {exc}", file=sys.stderr)
        return exc.exit_code
    figures = _plots(out) if plots else {}
    _report(result, figures)
    return 0


def _plots(out: Path) -> dict:
    try:
        from qdemo.viz import plot_all
    except ImportError as exc:  # viz layer not installed: the run itself is complete
        print(f"qdemo evolve: plots skipped ({exc})", file=sys.stderr)
        return {}
    return plot_all(out)


def _fmt(x, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:.1f}%" if pct else f"{x:.2f}"


def _report(result, figures: dict) -> None:
    from qdemo.runfolder.schema import CLASSES

    m = result.metrics
    out = result.out_dir
    lines = [
        f"done: {m['evaluations']} images scored; {_fmt(m['coverage'], True)} of cells filled, "
        f"normalised QD score {_fmt(m['qd_score_normalised'])} (0-100), best objective {_fmt(m['best'])}",
    ]
    if m.get("critic_emotion_match") is not None:
        lines += _emotion_lines(out)
    elif m.get("critic_confirmed") is not None:
        lines.append(f"critic: {_fmt(m['critic_confirmed'], True)} of elites in the same cell, "
                     f"{_fmt(m['critic_within_one_cell'], True)} within one cell "
                     f"(the rest may fool only the searcher: see critic_same_cell in archive.csv)")
    if m.get("va_cells_filled") is not None:
        conf = m.get("va_cells_confirmed")
        lines.append(f"valence x arousal plane: {m['va_cells_filled']} of {m['va_cells']} cells filled"
                     + (f", {conf} confirmed by the critic (an elite within one VA cell)" if conf is not None else "")
                     + f"; {m['near_uniform_elites']} near-uniform elites (grey sd < 0.05)")
    if m.get("elite_diversity") is not None:
        ref = m.get("reference_diversity")
        lines.append(f"diversity (mean pairwise feature distance, mean colour removed): elites {_fmt(m['elite_diversity'])}"
                     + (f", reference photos {_fmt(ref)}" if ref is not None else ""))
    if m.get("dataset_coverage") is not None:
        lines.append(f"reference photos cover {_fmt(m['dataset_coverage'], True)} of cells "
                     f"(archive: {_fmt(m['coverage'], True)})")
    lines += [f"note: {n}" for n in result.notes]
    lines.append(f"results: {out}/  (archive.csv, manifest.json, elites/"
                 + (", classes.json: what the critic's classifiers see in each elite" if (out / CLASSES).is_file()
                    else "") + ")")
    for name, paths in figures.items():
        for p in paths[:6]:
            lines.append(f"  {name}: {p}")
    lines.append(f"look at them: qdemo browse {out}")
    print("\n".join(lines))


def _emotion_lines(out: Path) -> list[str]:
    """An emotions run's critic agreement, overall and per slot, beside chance and the critic's held-out accuracy."""
    from qdemo.runfolder import read_manifest

    e = read_manifest(out).get("emotions") or {}
    held = e.get("critic_heldout_accuracy")
    ref = f"chance {_fmt(e.get('chance'), True)}" + (
        f", the critic's held-out accuracy on Emotion6 photos {_fmt(held, True)}" if held is not None else "")
    per = e.get("critic_match_by_slot") or {}
    slots = ", ".join(f"{k} {_fmt(v['match'], True)}" if v.get("match") is not None else f"{k} empty"
                      for k, v in per.items())
    return [f"critic: its top emotion is the slot's for {_fmt(e.get('critic_match'), True)} of elites ({ref})",
            f"  per slot: {slots}"]


def _confirm(args: argparse.Namespace) -> int:
    from qdemo.runfolder.confirm import confirm_run

    metrics = confirm_run(args.run_dir, critic=args.critic, device=args.device)
    if metrics.get("critic_emotion_match") is not None:
        print("\n".join(_emotion_lines(Path(args.run_dir))) + f"\nupdated {args.run_dir}/archive.csv")
    else:
        print(f"critic: {_fmt(metrics['critic_confirmed'], True)} of elites in the same cell, "
              f"{_fmt(metrics['critic_within_one_cell'], True)} within one cell; updated {args.run_dir}/archive.csv")
    if not args.no_plots:
        for name, paths in _plots(Path(args.run_dir)).items():
            for p in paths[:6]:
                print(f"  {name}: {p}")
    return 0
