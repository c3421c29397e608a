"""``qdemo generator ...`` (registered by qdemo.cli).

    qdemo generator train --config configs/generator.yaml [--resume] [--set key=value ...]
    qdemo generator train --renderer shapes [--out DIR]       (configs/generator-shapes.yaml)
    qdemo generator sample --vad=0.8,0.5,0 -n 8 --out DIR [--generator shapes|pixels|CKPT]
    qdemo generator sample --grid [--dominance 0] [--steps 5] --out DIR
    qdemo generator sweep --lambdas 0,10,20,100 --steps 300 --out DIR [--ray-address ADDR]
"""

from __future__ import annotations

import argparse

from qdemo.emotion.specs import MODEL_SPEC_HELP
from qdemo.errors import QdemoError
from qdemo.flags import Flag, add_config_options, add_flags

CONFIG = "qdemo.generator.train:GeneratorConfig"
FLAGS = (Flag("out", metavar="DIR"), Flag("device"), Flag("renderer", metavar="NAME"))
"""The config fields of ``generator train`` with a flag of their own; every other field: --set."""
PATHS = ("photos", "init_from")
"""Input paths of GeneratorConfig: relative to the config file they are written in."""
SPECS = ("searcher",)
"""Model specs of GeneratorConfig: a file named in a config file is relative to it."""


def parse_vad(text: str, *, option: str = "--vad") -> tuple[float, float, float]:
    """``"V,A,D"`` (or ``"V,A"``, dominance 0) on [-1, 1] -> a 3-tuple; clear error otherwise."""
    parts = [p for p in text.replace(" ", "").split(",") if p != ""]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise QdemoError(f"{option} {text!r}: expected numbers like 0.5,-0.2,0") from None
    if len(vals) == 2:
        vals.append(0.0)
    if len(vals) != 3:
        raise QdemoError(f"{option} {text!r}: expected V,A,D (three numbers on [-1, 1])")
    if any(not (-1.0 <= v <= 1.0) for v in vals):
        raise QdemoError(f"{option} {text!r}: values must lie on [-1, 1]")
    return vals[0], vals[1], vals[2]


def _floats(text: str, option: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise QdemoError(f"{option} {text!r}: expected comma-separated numbers") from None


def register(subparsers) -> None:
    """Add this area's sub-commands to the top-level parser."""
    p = subparsers.add_parser("generator", help="conditional generator G(z, vad): train, sample, lambda sweep")
    sub = p.add_subparsers(dest="generator_command", metavar="SUBCOMMAND")
    sub.required = True

    t = sub.add_parser("train", help="train the conditional GAN against the searcher (--renderer shapes: in the "
                                     "explorer's image space)")
    add_config_options(t, "generator")
    add_flags(t, CONFIG, FLAGS)
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=_train)

    s = sub.add_parser("sample", help="draw images for a VAD, or a valence x arousal sweep picture")
    s.add_argument("--vad", help="V,A,D on [-1, 1]; write --vad=-0.5,0.2,0 when V is negative")
    s.add_argument("-n", type=int, default=8, help="images to draw (default: %(default)s)")
    s.add_argument("--grid", action="store_true", help="valence x arousal sweep at fixed --dominance into one picture")
    s.add_argument("--dominance", type=float, default=0.0, help="dominance for --grid (default: %(default)s)")
    s.add_argument("--steps", type=int, default=5, help="sweep points per axis for --grid (default: %(default)s)")
    s.add_argument("--per-cell", type=int, default=1, help="images per sweep point for --grid (default: %(default)s)")
    s.add_argument("--generator", help="shapes | pixels (the shipped generators) or weights (.safetensors or run "
                                       "folder); default: pixels")
    s.add_argument("--searcher", default="shipped", help=f"the judge now, checked against the one the generator "
                                                         f"was trained against: {MODEL_SPEC_HELP}")
    s.add_argument("--strict", action="store_true", help="refuse a generator trained against another judge "
                                                         "(default: a one-line warning)")
    s.add_argument("--select", type=int, default=0, metavar="N", help="with --vad: draw N and keep the -n images the "
                   "searcher places nearest the VAD, as the explorer keeps its best (default: no selection)")
    s.add_argument("--seed", type=int, default=0, help="latent seed (default: %(default)s)")
    s.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    s.add_argument("--out", required=True, help="output folder")
    s.set_defaults(func=_sample)

    _add_evaluate(sub)
    _add_sweep(sub)


def _add_evaluate(sub) -> None:
    e = sub.add_parser("evaluate", help="critic error to requested VAD over a spread target grid, and realism")
    e.add_argument("--generator", help="shapes | pixels (shipped) or generator weights; default: pixels")
    e.add_argument("--critic", default="shipped", help=f"critic: {MODEL_SPEC_HELP}")
    e.add_argument("--searcher", default="shipped", help=f"searcher: {MODEL_SPEC_HELP}")
    e.add_argument("--photos", action="append", help="real photo folders for realism (default: OASIS + Emotion6)")
    e.add_argument("--cache-dir", default="../cache/generator", help="photo/feature cache (default: %(default)s)")
    e.add_argument("--targets", type=int, default=5, help="targets per axis (default: %(default)s)")
    e.add_argument("--plane", type=int, default=0, metavar="N", help="instead: N x N targets over the valence x "
                                                                      "arousal plane, corners at +-0.9, dominance 0")
    e.add_argument("--strict", action="store_true", help="refuse a generator trained against another searcher")
    e.add_argument("--per-target", type=int, default=4, help="samples per target (default: %(default)s)")
    e.add_argument("--select", type=int, default=0, metavar="N", help="keep each target's samples from N draws: "
                   "the ones the searcher places nearest the target (default: no selection)")
    e.add_argument("--realism-photos", type=int, default=600, help="photos defining realism and the critic's photo range (0 = all; default: %(default)s)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="auto")
    e.add_argument("--out", help="write evaluation.json here")
    e.set_defaults(func=_evaluate)


def _add_sweep(sub) -> None:
    w = sub.add_parser("sweep", help="lambda_emo x seed experiment grid as Ray tasks (train + evaluate each)")
    add_config_options(w, "generator")
    w.add_argument("--lambdas", default="0,10,20,100", help="comma list of lambda_emo (default: %(default)s)")
    w.add_argument("--seeds", default="0", help="comma list of seeds (default: %(default)s)")
    add_flags(w, CONFIG, (Flag("steps", note="Every run of the sweep."),))
    w.add_argument("--critic", default="shipped", help=f"critic for the evaluation: {MODEL_SPEC_HELP}")
    w.add_argument("--targets", type=int, default=5, help="evaluation targets per axis (V x A x D grid; default: %(default)s)")
    w.add_argument("--per-target", type=int, default=4, help="samples per evaluation target (default: %(default)s)")
    w.add_argument("--ray-address", help="join this Ray cluster instead of starting a local one")
    w.add_argument("--num-cpus", type=int, help="local Ray CPUs (default: all cores)")
    w.add_argument("--serial", action="store_true", help="run the runs one after another in this process (no Ray)")
    w.add_argument("--out", required=True, help="sweep folder (runs/, cache/, sweep.csv, sweep.md)")
    w.set_defaults(func=_sweep)


def _train(args: argparse.Namespace) -> int:
    from qdemo.cli._config import load_command_config
    from qdemo.config import describe
    from qdemo.generator.train import GeneratorConfig, train

    if args.help_config:
        print(describe(GeneratorConfig))
        return 0
    rendered = getattr(args, "renderer", None) is not None and getattr(args, "config", None) is None
    cfg = load_command_config(GeneratorConfig, "generator-shapes" if rendered else "generator", args,
                              label="generator train", paths=PATHS, specs=SPECS)
    _drop_foreign_options(cfg, args)
    path = train(cfg, resume=args.resume, progress=not args.no_progress)
    print(f"generator weights: {path}")
    return 0


def _drop_foreign_options(cfg, args: argparse.Namespace) -> None:
    """``--renderer NAME`` other than the config file's: its ``renderer_options`` belong to that
    renderer, so the ones NAME does not take are dropped (with a note), unless --set gave them."""
    import inspect

    from qdemo.render.base import RENDERERS

    if cfg.renderer not in RENDERERS or not cfg.renderer_options:
        return
    if any(str(kv).startswith("renderer_options") for kv in getattr(args, "set", None) or []):
        return
    import importlib

    module, cls = RENDERERS[cfg.renderer].split(":")
    params = inspect.signature(getattr(importlib.import_module(module), cls).__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    foreign = sorted(k for k in cfg.renderer_options if k not in params)
    if foreign:
        print(f"qdemo generator train: --renderer {cfg.renderer}: ignoring renderer_options {', '.join(foreign)} "
              f"(they belong to another renderer)")
        cfg.renderer_options = {k: v for k, v in cfg.renderer_options.items() if k not in foreign}


def _sample(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qdemo.device import resolve_device
    from qdemo.emotion.judge import judge_of_spec
    from qdemo.generator.sample import sample_to_dir, sweep_tiles, va_sweep_conditions, generate
    from qdemo.generator.weights_io import check_generator_judge, load_generator

    if not args.grid and not args.vad:
        raise QdemoError("generator sample: give --vad V,A,D or --grid")
    if args.n < 1 or args.steps < 2 or args.per_cell < 1 or args.select < 0:
        raise QdemoError("generator sample: -n and --per-cell must be >= 1, --steps >= 2, --select >= 0")
    if args.grid and args.select:
        raise QdemoError("generator sample: --select works with --vad (a --grid sweep keeps one latent per column)")
    device = resolve_device(args.device)
    gen = load_generator(args.generator, device=device)
    check_generator_judge(gen, judge_of_spec(args.searcher), strict=args.strict)
    out = Path(args.out)
    if args.grid:
        import torch

        if not -1.0 <= args.dominance <= 1.0:
            raise QdemoError(f"--dominance {args.dominance}: must lie on [-1, 1]")
        cond = va_sweep_conditions(args.steps, args.dominance)  # (S*S, 3)
        z = gen.sample_z(args.per_cell, generator=torch.Generator().manual_seed(args.seed))  # same latents per point
        cond_rep = cond.repeat_interleave(args.per_cell, dim=0)
        images = generate(gen, cond_rep, z=z.repeat(len(cond), 1))
        path = out / f"va_sweep_d{args.dominance:+.2f}.png"
        from qdemo.viz.generator import plot_va_sweep

        plot_va_sweep(sweep_tiles(images, args.per_cell), cond.numpy(), args.steps, path,
                      resolution=images.shape[-1], per_cell=args.per_cell)
        print(f"wrote {path}")
    else:
        vad = parse_vad(args.vad)
        judge = None
        if args.select > args.n:
            from qdemo.emotion.zoo import load_emotion_model

            judge = load_emotion_model(args.searcher, role="searcher", device=device)
        from qdemo.qd.content import content_score

        paths = sample_to_dir(gen, vad, args.n, out, seed=args.seed, select_from=args.select, judge=judge,
                              content=content_score)
        how = f", the {args.n} of {args.select} draws the searcher places nearest" if judge is not None else ""
        print(f"wrote {len(paths)} images to {out}{how}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from qdemo.compare.generator_eval import run_generator_evaluation

    res = run_generator_evaluation(
        args.generator, critic=args.critic, searcher=args.searcher, photos=args.photos, cache_dir=args.cache_dir,
        targets_per_axis=args.targets, per_target=args.per_target, realism_photos=args.realism_photos,
        seed=args.seed, device=args.device, out=args.out, plane=args.plane, strict=args.strict,
        select_from=args.select)
    print(json.dumps(res, indent=2))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qdemo.cli._config import load_command_config
    from qdemo.compare.experiments import run_lambda_sweep
    from qdemo.config import describe, save_config
    from qdemo.generator.train import GeneratorConfig

    if args.help_config:
        print(describe(GeneratorConfig))
        return 0
    lambdas = _floats(args.lambdas, "--lambdas")
    seeds = [int(s) for s in _floats(args.seeds, "--seeds")]
    if not lambdas or not seeds:
        raise QdemoError("generator sweep: --lambdas and --seeds need at least one value each")
    # The base config is resolved here (file, --set, --steps) and handed to the runs as
    # <out>/base-config.yaml: absolute input paths, the source file recorded in its header.
    base = load_command_config(GeneratorConfig, "generator", args, label="generator sweep", paths=PATHS, specs=SPECS)
    out = Path(args.out)
    save_config(base, out / "base-config.yaml")
    table = run_lambda_sweep(
        out / "base-config.yaml", out, lambdas=lambdas, seeds=seeds, critic=args.critic,
        targets_per_axis=args.targets, per_target=args.per_target, address=args.ray_address, num_cpus=args.num_cpus,
        backend="serial" if args.serial else "ray",
    )
    print(table)
    return 0
