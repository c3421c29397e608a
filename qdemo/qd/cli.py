"""Command-line entry points of qdemo.qd (registered by qdemo.cli).

    qdemo evolve [--grid vad|va|cvt] [--emitter NAME] [--renderer NAME] [--iterations N] ...
    qdemo evolve --resume archives/<run>
    qdemo confirm archives/<run> [--critic PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qdemo.emotion.specs import MODEL_SPEC_HELP  # standard library only
from qdemo.qd.config import EMITTERS  # names only: no torch or ribs

DEFAULT_CONFIG = "configs/evolve.yaml"


def register(subparsers) -> None:
    """Add this area's sub-commands to the top-level parser."""
    p = subparsers.add_parser(
        "evolve", help="quality-diversity search for images over valence-arousal(-dominance) cells",
        description="Fill a grid of emotion cells with images, each the best found for its cell, "
                    "by searching a renderer's parameters against the searcher model (pyribs). "
                    "Writes archives/<run>/ (see docs/evolve.md).")
    p.add_argument("--config", default=None,
                   help=f"YAML config (default: {DEFAULT_CONFIG} when it exists, else built-in defaults)")
    p.add_argument("--grid", choices=["vad", "va", "cvt"], help="3-D VAD grid, 2-D VA grid, or CVT over VAD")
    p.add_argument("--cells", help="cells per dimension, e.g. 10,10,5 (or CVT cell count)")
    p.add_argument("--emitter", help=" | ".join(EMITTERS))
    p.add_argument("--renderer", help="cppn | pixels | fourier | generator (the shipped conditional generator's latent space)")
    p.add_argument("--resolution", type=int, help="rendered image side in pixels")
    p.add_argument("--iterations", type=int, help="ask/tell iterations")
    p.add_argument("--batch-size", type=int, help="solutions scored per iteration")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto | cpu | cuda[:N]")
    p.add_argument("--out", help="folder holding run folders (default: archives)")
    p.add_argument("--name", help="run folder name (default: <grid>-<emitter>-<renderer>-s<seed>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its checkpoint")
    p.add_argument("--force", action="store_true", help="replace an existing run folder")
    p.add_argument("--dataset", metavar="DIR", help="reference photos scored by the searcher")
    p.add_argument("--dataset-format", choices=["auto", "oasis", "emotion6", "csv", "folder"],
                   help="rated set (read with its ratings) or a plain folder of images")
    p.add_argument("--no-dataset", action="store_true", help="skip the reference photos")
    p.add_argument("--searcher", metavar="SPEC", help=f"searcher: {MODEL_SPEC_HELP}")
    p.add_argument("--critic", metavar="SPEC", help=f"critic: {MODEL_SPEC_HELP} | none (skip confirmation)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set emitter.sigma=0.3 (repeatable)")
    p.add_argument("--no-plots", action="store_true", help="skip heatmaps, montage and metric plots")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--help-config", action="store_true", help="list every config field and exit")
    p.set_defaults(func=_evolve)

    c = subparsers.add_parser("confirm", help="re-score a run's elites with the critic",
                              description="Re-score every elite of a run folder with the critic, store the "
                                          "critic's VAD in archive.csv and update the manifest metrics.")
    c.add_argument("run_dir", metavar="RUN_DIR")
    c.add_argument("--critic", metavar="SPEC", help=f"critic (default: the run's config): {MODEL_SPEC_HELP}")
    c.add_argument("--device", default="auto")
    c.add_argument("--no-plots", action="store_true")
    c.set_defaults(func=_confirm)

    from qdemo.qd.bench import register_bench  # qdemo evolve-bench throughput|qd|scaling (light imports)
    register_bench(subparsers)


def _overrides(args: argparse.Namespace) -> dict:
    from qdemo.config import parse_override

    o: dict = {
        "grid.name": args.grid, "emitter.name": args.emitter, "renderer.name": args.renderer,
        "renderer.resolution": args.resolution, "iterations": args.iterations, "batch_size": args.batch_size,
        "seed": args.seed, "device": args.device, "out_root": args.out, "name": args.name,
        "dataset.format": args.dataset_format, "searcher": args.searcher, "critic": args.critic,
    }
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
    for text in args.set:
        k, v = parse_override(text)
        o[k] = v
    if args.no_dataset:
        o["dataset.path"] = None
        o.setdefault("dataset.required", False)
    return o


def _load(args: argparse.Namespace):
    from qdemo.config import load_config
    from qdemo.qd.config import EvolveConfig

    path = args.config
    if path is None and Path(DEFAULT_CONFIG).exists():
        path = DEFAULT_CONFIG
    overrides = _overrides(args)
    cfg = load_config(EvolveConfig, path, {k: v for k, v in overrides.items() if v is not None})
    if args.no_dataset:
        cfg.dataset.path = None
    return cfg


def _evolve(args: argparse.Namespace) -> int:
    from qdemo.config import describe, load_config
    from qdemo.errors import QdemoError
    from qdemo.qd.config import EvolveConfig

    if args.help_config:
        print(describe(EvolveConfig))
        return 0
    if args.resume:
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").exists():
            raise QdemoError(f"--resume {run_dir}: no config.yaml there (not a run folder)")
        allowed = {"iterations": args.iterations, "device": args.device, "critic": args.critic}
        extra = [k for k in ("grid", "emitter", "renderer", "batch_size", "seed", "searcher", "cells")
                 if getattr(args, k, None) not in (None, False)]
        if extra or args.set:
            raise QdemoError(f"--resume: the run's own config is used; only --iterations, --device and "
                             f"--critic may change (got {', '.join(extra + args.set)})")
        cfg = load_config(EvolveConfig, run_dir / "config.yaml", {k: v for k, v in allowed.items() if v is not None})
        out = run_dir
    else:
        cfg = _load(args)
        out = cfg.run_dir()
    return _run(cfg, out, resume=bool(args.resume), force=args.force, plots=not args.no_plots,
                progress=not args.quiet)


def _run(cfg, out: Path, *, resume: bool, force: bool, plots: bool, progress: bool) -> int:
    from qdemo.qd.explorer import Explorer, RunInterrupted

    explorer = Explorer(cfg)
    print(f"qdemo evolve: {cfg.grid.name} grid, {cfg.emitter.name} on {cfg.renderer.name} "
          f"({explorer.renderer.solution_dim} parameters, {cfg.renderer.resolution} px), "
          f"searcher {explorer.searcher.info.name}, device {explorer.device}, "
          f"{cfg.iterations} iterations x {cfg.batch_size} -> {out}", file=sys.stderr)
    try:
        result = explorer.run(out, progress, resume=resume, force=force)
    except RunInterrupted as exc:
        print(f"qdemo evolve: interrupted after iteration {explorer.iteration} — {exc}", file=sys.stderr)
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
    m = result.metrics
    out = result.out_dir
    lines = [
        f"done: {m['evaluations']} images scored; {_fmt(m['coverage'], True)} of cells filled, "
        f"normalised QD score {_fmt(m['qd_score_normalised'])} (0-100), best objective {_fmt(m['best'])}",
    ]
    if m.get("critic_confirmed") is not None:
        lines.append(f"critic: {_fmt(m['critic_confirmed'], True)} of elites in the same cell, "
                     f"{_fmt(m['critic_within_one_cell'], True)} within one cell "
                     f"(the rest may fool only the searcher: see critic_same_cell in archive.csv)")
    if m.get("dataset_coverage") is not None:
        lines.append(f"reference photos cover {_fmt(m['dataset_coverage'], True)} of cells "
                     f"(archive: {_fmt(m['coverage'], True)})")
    lines += [f"note: {n}" for n in result.notes]
    lines.append(f"results: {out}/  (archive.csv, manifest.json, elites/)")
    for name, paths in figures.items():
        for p in paths[:6]:
            lines.append(f"  {name}: {p}")
    lines.append(f"look at them: qdemo browse {out}")
    print("\n".join(lines))


def _confirm(args: argparse.Namespace) -> int:
    from qdemo.qd.confirm import confirm_run

    metrics = confirm_run(args.run_dir, critic=args.critic, device=args.device)
    print(f"critic: {_fmt(metrics['critic_confirmed'], True)} of elites in the same cell, "
          f"{_fmt(metrics['critic_within_one_cell'], True)} within one cell; updated {args.run_dir}/archive.csv")
    if not args.no_plots:
        for name, paths in _plots(Path(args.run_dir)).items():
            for p in paths[:6]:
                print(f"  {name}: {p}")
    return 0
