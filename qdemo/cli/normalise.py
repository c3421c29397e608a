"""``qdemo normalise ...``: equalise low-level statistics, keep the emotion (registered by qdemo.cli).

    qdemo normalise shine  --data DIR --mode full --out DIR         SHINE targets (Ray shards)
    qdemo normalise train  --shine DIR --out DIR [--sweep]          emotional pix2pix
    qdemo normalise apply  --model CKPT PATH... --out DIR           normalise images / elites
    qdemo normalise report --shine DIR --sweep DIR --out DIR        spread + emotion drift
    qdemo normalise bench  --data DIR                               throughput figures
"""

from __future__ import annotations

import argparse
import json
import sys

from qdemo.flags import Flag, add_config_options, add_flags


CONFIG = "qdemo.normalise.config:NormaliseConfig"
DATA_FLAGS = (
    Flag("data.format", "--format"),
    Flag("data.size", "--size", note="0 = native size."),
    Flag("data.limit", "--limit"),
    Flag("data.on_error", "--skip-bad", value="skip"),
)
"""Flags of the commands that read a set of images (shine, bench)."""
PATHS = ("train.init_from",)
"""Input paths of NormaliseConfig: relative to the config file they are written in."""
SPECS = ("train.emotion_model", "report.critic")
"""Model specs of NormaliseConfig: a file named in a config file is relative to it."""


def _common_config(p: argparse.ArgumentParser, flags: tuple = ()) -> None:
    add_config_options(p, "normalise")
    add_flags(p, CONFIG, flags)


def register(subparsers) -> None:
    """Add this area's sub-commands to the top-level parser."""
    top = subparsers.add_parser("normalise", help="equalise low-level statistics, keep the emotion (SHINE, pix2pix)",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="normalise_command", metavar="SUBCOMMAND")
    sub.required = True
    for add in (_add_shine, _add_train, _add_apply, _add_report, _add_bench):
        add(sub)


def _add_shine(sub) -> None:
    p = sub.add_parser("shine", help="SHINE-equalise a set of images (shinier, sharded over Ray)")
    p.add_argument("--data", required=True, help="image folder, Emotion6/OASIS folder or rating CSV")
    p.add_argument("--out", required=True, help="output folder (images/, manifest.csv, shine.json)")
    p.add_argument("--ray-address", default=None, help="join a Ray cluster (default: local)")
    p.add_argument("--serial", action="store_true", help="run shards in this process (no Ray)")
    _common_config(p, DATA_FLAGS + (Flag("shine.mode", "--mode"), Flag("shine.scope", "--scope"),
                                    Flag("shine.group_by", "--group-by")))
    p.set_defaults(func=cmd_shine)


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train the emotional pix2pix on a SHINE output folder (resumable)")
    p.add_argument("--shine", required=True, help="folder written by `qdemo normalise shine`")
    p.add_argument("--out", required=True, help="run folder (or sweep folder with --sweep)")
    p.add_argument("--sweep", nargs="?", const="0,10,20,100", default=None, metavar="L1,L2,...",
                   help="train one model per lambda_emo as a Ray experiment grid (default 0,10,20,100)")
    p.add_argument("--ray-address", default=None, help="join a Ray cluster for --sweep")
    p.add_argument("--serial", action="store_true", help="--sweep: run the runs one after another here")
    p.add_argument("--cpus-per-run", type=float, default=1.0, help="--sweep: cores each run claims")
    _common_config(p, (Flag("train.lambda_emo", "--lambda-emo"), Flag("train.steps", "--steps"),
                       Flag("train.condition", "--condition"), Flag("device")))
    p.set_defaults(func=cmd_train)


def _add_apply(sub) -> None:
    p = sub.add_parser("apply", help="normalise images, folders, archive elites or generator samples")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders, or archives/<run> folders")
    p.add_argument("--model", default=None, help="generator .safetensors, checkpoint .pt or run folder, or "
                                                 "'group' for the shipped group-conditioned one (needs one "
                                                 "sub-folder per group; default: the shipped per-image model)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--size", type=int, default=None, help="work size (default: the model's resolution)")
    p.add_argument("--fit", choices=["crop", "stretch"], default="crop", help="how images reach the size")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable images (counted) instead of stopping")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--group-iterations", type=int, default=6,
                   help="group-conditioned models: iterations of the between-group equalisation they start from")
    p.add_argument("--searcher", default="shipped", help="the judge now, checked against the emotion model the "
                                                         "normaliser was trained against (D_emo): searcher | PATH")
    p.add_argument("--strict", action="store_true", help="refuse a normaliser trained against another emotion "
                                                         "model (default: a one-line warning)")
    p.set_defaults(func=cmd_apply)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="between-group low-level spread and emotion drift, with plots")
    p.add_argument("--shine", required=True, help="SHINE folder the models were trained on")
    p.add_argument("--sweep", default=None, help="sweep folder from `train --sweep` (all its runs)")
    p.add_argument("--model", dest="models", action="append", default=[], metavar="NAME=PATH",
                   help="a generator to compare (repeatable)")
    p.add_argument("--chosen", default=None, help="variant judged against the targets (default: lambda 20)")
    p.add_argument("--split", choices=["test", "val", "all"], default="test",
                   help="images to evaluate: the held-out test share (default), the validation share "
                        "(train.val_fraction; compare variants here) or all")
    p.add_argument("--all", action="store_true", help="same as --split all")
    p.add_argument("--out", required=True, help="report folder (report.json, report.md, figures)")
    _common_config(p, (Flag("report.group_equalise", "--group-equalise", value=True),
                       Flag("shine.group_by", "--group-by"), Flag("device")))
    p.set_defaults(func=cmd_report)


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="print throughput of apply and of SHINE via Ray (1 vs 2 workers)")
    p.add_argument("--data", required=True, help="images to use")
    p.add_argument("--model", default=None, help="generator for the apply benchmark (default: shipped)")
    p.add_argument("--repeats", type=int, default=3, help="repeats per measurement (median reported)")
    p.add_argument("--workers", default="1,2", help="Ray worker counts to compare")
    p.add_argument("--json", default=None, help="also write the figures to this JSON file")
    p.add_argument("--ray-address", default=None, help="join a Ray cluster")
    _common_config(p, DATA_FLAGS)
    p.set_defaults(func=cmd_bench)


def _load_cfg(args, extra: dict | None = None):
    """Defaults <- the config file <- --set overrides <- dedicated flags (when given) <- ``extra``."""
    from qdemo.cli._config import load_command_config
    from qdemo.config import describe
    from qdemo.normalise.config import NormaliseConfig

    if getattr(args, "help_config", False):
        print(describe(NormaliseConfig))
        raise SystemExit(0)
    cfg = load_command_config(NormaliseConfig, "normalise", args, label=f"normalise {args.normalise_command}",
                              extra=extra, paths=PATHS, specs=SPECS)
    if cfg.data.size == 0:  # 0 = keep the native size (all images must then share one)
        cfg.data.size = None
    return cfg


def cmd_shine(args) -> int:
    from qdemo.normalise.data import choose_subset, collect
    from qdemo.normalise.shine import run_shine

    cfg = _load_cfg(args)
    images = choose_subset(collect(args.data, cfg.data.format), cfg.data.limit, cfg.data.seed)
    s = run_shine(images, args.out, cfg, address=args.ray_address, backend="serial" if args.serial else "ray")
    by = s.get("group_by", ["folder"])
    scope = "" if s.get("scope") != "group" else " (group scope)" if by == ["folder"] else \
        f" (group scope by {' + '.join(by)})"
    print(f"SHINE {s['mode']}{scope}: {s['n_images']} images -> {args.out}/images "
          f"({s['n_skipped']} skipped; stats {s['seconds']['stats']:.1f} s, match {s['seconds']['match']:.1f} s)")
    return 0


def cmd_train(args) -> int:
    from qdemo.errors import QdemoError

    cfg = _load_cfg(args)
    if args.sweep is not None:
        from qdemo.normalise.sweep import run_sweep

        try:
            lambdas = [float(x) for x in args.sweep.split(",") if x.strip()]
        except ValueError:
            raise QdemoError(f"--sweep {args.sweep!r}: expected numbers separated by commas") from None
        dev = "cpu" if cfg.device == "auto" else cfg.device
        res = run_sweep(args.shine, args.out, cfg, lambdas, device=dev, address=args.ray_address,
                        backend="serial" if args.serial else "ray", cpus_per_task=args.cpus_per_run)
        for k, r in res.items():
            print(f"{k}: {r['steps']} steps, {r['seconds']:.0f} s, final L1 {r['final'].get('loss_l1', float('nan')):.4f}, "
                  f"emotion MSE {r['final'].get('loss_emo', float('nan')):.4f}")
        return 0
    from qdemo.normalise.train import Trainer

    s = Trainer(args.shine, args.out, cfg, device=cfg.device).run()
    print(f"trained {s['steps']} steps in {s['seconds']:.0f} s -> {args.out}/generator.safetensors"
          f"{' (resumed)' if s['resumed'] else ''}")
    return 0


def cmd_apply(args) -> int:
    from qdemo.device import resolve_device
    from qdemo.normalise.apply import apply_paths
    from qdemo.emotion.judge import judge_of_spec
    from qdemo.normalise.weights_io import check_normaliser_judge, load_generator

    dev = resolve_device(args.device)
    g, info = load_generator(args.model, device=dev)
    check_normaliser_judge(info, judge_of_spec(args.searcher), strict=args.strict)
    s = apply_paths(g, args.paths, args.out, size=args.size, fit=args.fit,
                    on_error="skip" if args.skip_bad else "raise", group_iterations=args.group_iterations)
    print(f"normalised {s['n_images']} images ({s['n_skipped']} skipped) at {s['size']} px -> {args.out} "
          f"[{s['images_per_s']:.1f} images/s]")
    for sk in s["skipped"][:10]:
        print(f"  skipped: {sk['reason']}", file=sys.stderr)
    return 0


def cmd_report(args) -> int:
    from pathlib import Path

    from qdemo.errors import QdemoError
    from qdemo.normalise.report import run_report
    from qdemo.viz.normalise import plot_report

    cfg = _load_cfg(args)
    models: dict[str, str] = {}
    if args.sweep:
        runs = sorted(Path(args.sweep).glob("lambda_emo=*"), key=lambda p: float(p.name.split("=", 1)[1]))
        for r in runs:
            if (r / "generator.safetensors").exists():
                models[f"pix2pix_lambda{r.name.split('=', 1)[1]}"] = str(r / "generator.safetensors")
        if not models:
            raise QdemoError(f"{args.sweep}: no finished runs (lambda_emo=*/generator.safetensors)")
    for m in args.models:
        if "=" not in m:
            raise QdemoError(f"--model {m!r}: expected NAME=PATH")
        k, v = m.split("=", 1)
        models[k] = v
    chosen = args.chosen or ("pix2pix_lambda20" if "pix2pix_lambda20" in models else None)
    dev = "cpu" if cfg.device == "auto" else cfg.device
    res = run_report(args.shine, models, args.out, cfg, chosen=chosen, device=dev,
                     split="all" if args.all else args.split, plot=plot_report)
    print(Path(args.out, "report.md").read_text(encoding="utf-8"))
    return 0


def cmd_bench(args) -> int:
    from qdemo.normalise.throughput import bench_apply, bench_shine
    from qdemo.normalise.data import choose_subset, collect
    from qdemo.normalise.weights_io import load_generator

    # the benchmark's own defaults where neither --limit / --size nor --set gives one
    given = {k for k, _ in (o.split("=", 1) for o in args.set if "=" in o)}
    cfg = _load_cfg(args, {k: v for k, v in (("data.limit", 64), ("data.size", 128))
                           if getattr(args, k.split(".")[1]) is None and k not in given})
    images = choose_subset(collect(args.data, cfg.data.format), cfg.data.limit, cfg.data.seed)
    workers = tuple(int(w) for w in args.workers.split(","))
    out = {"shine": bench_shine(images, cfg, repeats=args.repeats, workers=workers, address=args.ray_address)}
    g, info = load_generator(args.model, device="cpu")
    out["apply"] = bench_apply(g, images, size=g.spec.resolution, fit=cfg.data.fit, repeats=args.repeats)
    out["apply"]["model"] = info["path"]
    sh = out["shine"]
    print(f"SHINE {sh['mode']} on {sh['n_images']} images at {sh['size']} px (median of {args.repeats}):")
    for k in ["serial"] + [f"ray_{w}" for w in workers]:
        print(f"  {k:>8}: {sh[k]['median_s']:.2f} s  ({sh[k]['images_per_s']:.1f} images/s)")
    if "scaling_ratio" in sh:
        print(f"  scaling ratio ray_1 / ray_{max(workers)}: {sh['scaling_ratio']:.2f}x")
    a = out["apply"]
    print(f"apply on {a['n_images']} images at {a['size']} px (CPU, {a['torch_threads']} threads): "
          f"forward {a['forward_images_per_s']:.1f} images/s, end to end {a['end_to_end_images_per_s']:.1f} images/s")
    if args.json:
        from qdemo.io import atomic_write_json

        atomic_write_json(args.json, out)
    json.dumps(out)  # figures are plain numbers
    return 0
