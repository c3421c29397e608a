"""Command-line entry points of qdemo.generator (registered by qdemo.cli).

    qdemo generator train --config configs/generator.yaml [--resume] [--set key=value ...]
    qdemo generator sample --vad=0.8,0.5,0 -n 8 --out DIR [--generator CKPT]
    qdemo generator sample --grid [--dominance 0] [--steps 5] --out DIR
    qdemo generator sweep --lambdas 0,10,20,100 --steps 300 --out DIR [--ray-address ADDR]
"""

from __future__ import annotations

import argparse

from qdemo.emotion.specs import MODEL_SPEC_HELP
from qdemo.errors import QdemoError


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

    t = sub.add_parser("train", help="train the conditional GAN against the searcher")
    t.add_argument("--config", default="configs/generator.yaml", help="YAML config (default: %(default)s)")
    t.add_argument("--out", help="run folder (overrides the config's 'out')")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    t.add_argument("--device", help="auto | cpu | cuda[:N] (overrides the config)")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set steps=500 (repeatable)")
    t.add_argument("--help-config", action="store_true", help="list the config fields and exit")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=_train)

    s = sub.add_parser("sample", help="draw images for a VAD, or a valence x arousal sweep picture")
    s.add_argument("--vad", help="V,A,D on [-1, 1]; write --vad=-0.5,0.2,0 when V is negative")
    s.add_argument("-n", type=int, default=8, help="images to draw (default: %(default)s)")
    s.add_argument("--grid", action="store_true", help="valence x arousal sweep at fixed --dominance into one picture")
    s.add_argument("--dominance", type=float, default=0.0, help="dominance for --grid (default: %(default)s)")
    s.add_argument("--steps", type=int, default=5, help="sweep points per axis for --grid (default: %(default)s)")
    s.add_argument("--per-cell", type=int, default=1, help="images per sweep point for --grid (default: %(default)s)")
    s.add_argument("--generator", help="generator weights (.safetensors or run folder); default: the shipped one")
    s.add_argument("--seed", type=int, default=0, help="latent seed (default: %(default)s)")
    s.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    s.add_argument("--out", required=True, help="output folder")
    s.set_defaults(func=_sample)

    e = sub.add_parser("evaluate", help="critic error to requested VAD over a spread target grid, and realism")
    e.add_argument("--generator", help="generator weights; default: the shipped one")
    e.add_argument("--critic", default="shipped", help=f"critic: {MODEL_SPEC_HELP}")
    e.add_argument("--searcher", default="shipped", help=f"searcher: {MODEL_SPEC_HELP}")
    e.add_argument("--photos", action="append", help="real photo folders for realism (default: OASIS + Emotion6)")
    e.add_argument("--cache-dir", default="../cache/generator", help="photo/feature cache (default: %(default)s)")
    e.add_argument("--targets", type=int, default=5, help="targets per axis (default: %(default)s)")
    e.add_argument("--per-target", type=int, default=4, help="samples per target (default: %(default)s)")
    e.add_argument("--realism-photos", type=int, default=600, help="photos defining realism and the critic's photo range (0 = all; default: %(default)s)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="auto")
    e.add_argument("--out", help="write evaluation.json here")
    e.set_defaults(func=_evaluate)

    w = sub.add_parser("sweep", help="lambda_emo x seed experiment grid as Ray tasks (train + evaluate each)")
    w.add_argument("--config", default="configs/generator.yaml", help="base training config")
    w.add_argument("--lambdas", default="0,10,20,100", help="comma list of lambda_emo (default: %(default)s)")
    w.add_argument("--seeds", default="0", help="comma list of seeds (default: %(default)s)")
    w.add_argument("--steps", type=int, help="training steps per run (overrides the config)")
    w.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training config field for every run (repeatable)")
    w.add_argument("--critic", default="shipped", help=f"critic for the evaluation: {MODEL_SPEC_HELP}")
    w.add_argument("--targets", type=int, default=5, help="evaluation targets per axis (V x A x D grid; default: %(default)s)")
    w.add_argument("--per-target", type=int, default=4, help="samples per evaluation target (default: %(default)s)")
    w.add_argument("--ray-address", help="join this Ray cluster instead of starting a local one")
    w.add_argument("--num-cpus", type=int, help="local Ray CPUs (default: all cores)")
    w.add_argument("--serial", action="store_true", help="run the runs one after another in this process (no Ray)")
    w.add_argument("--out", required=True, help="sweep folder (runs/, cache/, sweep.csv, sweep.md)")
    w.set_defaults(func=_sweep)


def _train(args: argparse.Namespace) -> int:
    from qdemo.config import describe, load_config, parse_override
    from qdemo.generator.train import GeneratorConfig, train

    if args.help_config:
        print(describe(GeneratorConfig))
        return 0
    overrides = dict(parse_override(o) for o in args.overrides)
    # a flag given on the command line wins over --set and the file; one not given changes nothing
    overrides.update({k: v for k, v in {"out": args.out, "device": args.device}.items() if v is not None})
    cfg = load_config(GeneratorConfig, args.config, overrides)
    path = train(cfg, resume=args.resume, progress=not args.no_progress)
    print(f"generator weights: {path}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qdemo.device import resolve_device
    from qdemo.generator.sample import sample_to_dir, save_sweep_figure, va_sweep_conditions, generate
    from qdemo.generator.weights_io import load_generator

    if not args.grid and not args.vad:
        raise QdemoError("generator sample: give --vad V,A,D or --grid")
    if args.n < 1 or args.steps < 2 or args.per_cell < 1:
        raise QdemoError("generator sample: -n and --per-cell must be >= 1, --steps >= 2")
    device = resolve_device(args.device)
    gen = load_generator(args.generator, device=device)
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
        save_sweep_figure(images, cond_rep, args.steps, path, per_cell=args.per_cell)
        print(f"wrote {path}")
    else:
        vad = parse_vad(args.vad)
        paths = sample_to_dir(gen, vad, args.n, out, seed=args.seed)
        print(f"wrote {len(paths)} images to {out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from qdemo.compare.experiments import evaluate_generator
    from qdemo.compare.metrics import photo_subset, real_feature_space
    from qdemo.device import resolve_device
    from qdemo.generator.data import load_photo_tensor, score_photos
    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.generator.weights_io import load_generator
    from qdemo.io import atomic_write_json

    device = resolve_device(args.device)
    gen = load_generator(args.generator, device=device)
    critic = load_emotion_model(args.critic, role="critic", device=device)
    searcher = load_emotion_model(args.searcher, role="searcher", device=device)
    photos_src = args.photos or ["../shared/datasets/oasis/images", "../shared/datasets/emotion6/images"]
    photos, _ = load_photo_tensor(photos_src, gen.resolution, cache_dir=args.cache_dir)
    space = real_feature_space(photos, critic, n=args.realism_photos, cache_dir=args.cache_dir, tag=f"{gen.resolution}")
    # The critic's VAD of the same real photos: how much of [-1, 1] photos occupy at all.
    subset, tag = photo_subset(photos, args.realism_photos, 0, f"{gen.resolution}")
    photo_vad = score_photos(subset, critic, cache_dir=args.cache_dir, tag=tag, what="vad").numpy()
    res = evaluate_generator(gen, critic, searcher, space, targets_per_axis=args.targets,
                             per_target=args.per_target, seed=args.seed, photo_vad=photo_vad)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        atomic_write_json(Path(args.out) / "evaluation.json", res)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qdemo.compare.experiments import run_lambda_sweep
    from qdemo.config import parse_override

    lambdas = _floats(args.lambdas, "--lambdas")
    seeds = [int(s) for s in _floats(args.seeds, "--seeds")]
    if not lambdas or not seeds:
        raise QdemoError("generator sweep: --lambdas and --seeds need at least one value each")
    overrides = dict(parse_override(o) for o in args.overrides)
    if args.steps is not None:
        overrides["steps"] = args.steps
    table = run_lambda_sweep(
        args.config, Path(args.out), lambdas=lambdas, seeds=seeds, overrides=overrides, critic=args.critic,
        targets_per_axis=args.targets, per_target=args.per_target, address=args.ray_address, num_cpus=args.num_cpus,
        backend="serial" if args.serial else "ray",
    )
    print(table)
    return 0
