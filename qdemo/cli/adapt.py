"""``qdemo regressor adapt``: fit an emotion model to new human ratings (registered by cli.regressor).

    qdemo regressor adapt --model searcher --db ratings.sqlite --out adapted.safetensors
    qdemo regressor adapt --model critic --data my_set/ratings.csv --format csv --scale 1,9 --out a.safetensors
    qdemo regressor adapt ... --train-config configs/regressor.yaml --role searcher   # + training rows

No torch import at module level (``qdemo --help`` stays fast).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from qdemo.flags import Flag, add_config_options, add_flags

CONFIG = "qdemo.emotion.adapt_config:AdaptConfig"
METHOD_CHOICES = ("auto", "parent", "domain-calibration", "recalibrate", "refit-prior", "refit", "refit-domain")
FLAGS = (
    Flag("model", metavar="SPEC"),
    Flag("db", metavar="DB"),
    Flag("data", metavar="FILE_OR_DIR"),
    Flag("format", choices=("auto", "oasis", "emotion6", "bass", "csv")),
    Flag("scale", metavar="LO,HI"),
    Flag("image_root", metavar="DIR"),
    Flag("out", metavar="FILE.safetensors"),
    Flag("method", choices=METHOD_CHOICES),
    Flag("train_config", metavar="YAML"),
    Flag("role", choices=("searcher", "critic")),
    Flag("folds"),
    Flag("seed"),
    Flag("exclude_flagged", value=True),
    Flag("flag_below", metavar="R"),
    Flag("force", value=True),
    Flag("batch_size"),
    Flag("device"),
)


def register(sub) -> None:
    """Add ``adapt`` to the ``qdemo regressor`` sub-commands."""
    p = sub.add_parser(
        "adapt", help="fit a model to new human ratings (a `qdemo rate` database or a rated set)",
        description="Adapt an emotion model (its heads and/or calibration; the backbone stays) to new human "
                    "ratings. Every available method is measured by cross-validation grouped by stimulus and "
                    "the best kept (--method auto); the report gives held-out r / MAE / sd ratio before and "
                    "after, and with --train-config the change on the original held-out sets. See docs/study.md.")
    add_flags(p, CONFIG, FLAGS)
    p.set_defaults(func=cmd_adapt)

    b = sub.add_parser(
        "adapt-bench", help="measure adapting: a searcher fitted without BASS, adapted on n BASS images",
        description="The protocol of docs/study.md: a parent searcher fitted on the config's sets without BASS "
                    "(from the training's feature cache), adapted by every method on n BASS images (whole "
                    "stems) of one half of the stems, tested on the other half; gain in r, sd ratio, MAE and "
                    "the original sets' r change, mean over repeats.")
    add_config_options(b, "regressor")
    b.add_argument("--sizes", default="25,50,100,200,300", help="numbers of rated images (default %(default)s)")
    b.add_argument("--repeats", type=int, default=5, help="stem splits and draws per size (default %(default)s)")
    b.add_argument("--folds", type=int, default=5, help="CV folds inside the adapt images (default %(default)s)")
    b.add_argument("--no-auto", action="store_true", help="skip the automatic choice (faster)")
    b.add_argument("--json", metavar="OUT.json", help="every run's numbers and the summary")
    b.set_defaults(func=cmd_adapt_bench)


def _new_ratings(cfg) -> tuple[list, Any, Any, dict[str, Any]]:
    """(image paths, targets (N, 3) canonical, groups (N,), what the metadata says of the ratings)."""
    import numpy as np

    from qdemo.emotion.adapt_data import rated_set_info, rows_sha256
    from qdemo.errors import ConfigError

    if bool(cfg.db) == bool(cfg.data):
        raise ConfigError("qdemo regressor adapt: give the ratings as --db DB or --data FILE_OR_DIR (one of them)")
    if cfg.data:
        from qdemo.emotion.datasets import load_dataset

        kw: dict[str, Any] = {}
        if cfg.format in ("csv", "auto") and (cfg.scale or cfg.format == "csv"):
            kw["scale"] = cfg.scale
            if cfg.image_root:
                kw["image_root"] = cfg.image_root
        rated = load_dataset(cfg.data, cfg.format, **kw)
        return list(rated.paths), np.asarray(rated.targets, np.float64), np.asarray(rated.groups), rated_set_info(rated)
    from qdemo.web.reliability import read_study

    study = read_study(cfg.db, exclude_flagged=cfg.exclude_flagged, threshold=cfg.flag_below)
    ids = sorted(study.means)
    lines = [f"{r['participant']}\t{r['stimulus_id']}\t{r['valence']}\t{r['arousal']}\t{r['dominance']}"
             for r in study.db.ratings]
    info = {"source": str(cfg.db), "format": "qdemo rate database", "sha256": rows_sha256(lines),
            "n_stimuli": len(ids), "n_raters": study.db.n_raters, "n_ratings": len(study.db.ratings),
            "stimulus_set": study.db.meta.get("stimulus_set"), "excluded_raters": len(study.db.excluded),
            "flag_below": cfg.flag_below if cfg.exclude_flagged else None}
    return ([study.stimuli[s].path for s in ids], np.array([study.means[s]["mean"] for s in ids]),
            np.array(ids), info)


def _table(report: dict[str, Any]) -> str:
    lines = [f"{'method':<19} {'dim':<9} {'r':>6} {'MAE':>6} {'sd ratio':>8}   original sets: r change (V / A)"]
    for m, e in report["methods"].items():
        orig = e.get("original")
        for j, d in enumerate(("valence", "arousal", "dominance")):
            x = e["new"][d]
            if not x["n"]:
                continue
            tail = ""
            if orig and j == 0:
                before = report["methods"]["parent"]["original"]
                tail = "  " + ", ".join(f"{n} {orig[n]['valence']['r'] - before[n]['valence']['r']:+.3f} / "
                                        f"{orig[n]['arousal']['r'] - before[n]['arousal']['r']:+.3f}" for n in orig)
            lines.append(f"{m if j == 0 else '':<19} {d:<9} {x['r']:>6.3f} {x['mae']:>6.3f} {x['sd_ratio']:>8.2f}{tail}")
    lines.append(f"chosen: {report['chosen']} ({report['rule']})")
    return "\n".join(lines)


def cmd_adapt(args: argparse.Namespace) -> int:
    from qdemo.config import load_config
    from qdemo.flags import flag_overrides
    from qdemo.emotion.adapt_config import AdaptConfig

    cfg = load_config(AdaptConfig, None, flag_overrides(args))
    report = run_adapt(cfg)
    print(_table(report))
    print(f"wrote {report['out']} (+ .json, {report['report']})")
    return 0


def cmd_adapt_bench(args: argparse.Namespace) -> int:
    from qdemo.cli._config import load_command_config
    from qdemo.emotion.adapt_bench import build_setup, format_summary, run_bench, summarise
    from qdemo.emotion.train.config import RegressorConfig
    from qdemo.io import atomic_write_json

    cfg = load_command_config(RegressorConfig, "regressor", args, label="regressor adapt-bench", paths=_TRAIN_PATHS)
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    setup = build_setup(cfg)
    result = run_bench(setup, sizes, args.repeats, auto=not args.no_auto, folds=args.folds)
    result["summary"] = summarise(result)
    print(format_summary(result["summary"]))
    if args.json:
        atomic_write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


def run_adapt(cfg, *, progress: bool = True) -> dict[str, Any]:  # long: one linear recipe, each step a call
    """Adapt ``cfg.model`` to the ratings of ``cfg`` (an AdaptConfig); returns the report written."""
    import time

    from qdemo.config import load_config
    from qdemo.device import resolve_device
    from qdemo.emotion.adapt import AUTO, METHODS, NEEDS_ROWS
    from qdemo.emotion.adapt_data import check_output, image_features, model_parts, training_rows
    from qdemo.emotion.adapt_run import Problem, apply_adaptation, compare_methods, fit_method, heads_of
    from qdemo.emotion.zoo import describe_model, load_emotion_model, save_model
    from qdemo.errors import ConfigError
    from qdemo.io import atomic_write_json

    out = check_output(cfg.out, cfg.force)
    if cfg.method not in METHOD_CHOICES:
        raise ConfigError(f"--method {cfg.method!r}: one of {', '.join(METHOD_CHOICES)}")
    paths, targets, groups, info = _new_ratings(cfg)
    device = resolve_device(cfg.device)
    parent = load_emotion_model(cfg.model, role=cfg.role, device=device)
    model_parts(parent)
    Z = image_features(parent, paths, batch_size=cfg.batch_size, device=device, progress=progress)
    old = None
    if cfg.train_config:
        from qdemo.emotion.train.config import RegressorConfig

        old = training_rows(parent, load_config(RegressorConfig, cfg.train_config, paths=_TRAIN_PATHS), cfg.role,
                            device=device, progress=progress)
    heads, cal = heads_of(parent)
    pb = Problem(Z, targets, groups, heads, cal, old=old, folds=cfg.folds, seed=cfg.seed)
    if cfg.method in NEEDS_ROWS and old is None:
        raise ConfigError(f"--method {cfg.method} needs --train-config (the parent's training rows)")
    methods = [m for m in METHODS if old is not None or m not in NEEDS_ROWS]
    if cfg.method != "auto":
        methods = list(dict.fromkeys(["parent", cfg.method]))
    t0 = time.time()
    report = compare_methods(pb, methods, candidates=AUTO if cfg.method == "auto" else None)
    fits = report.pop("fits")
    chosen = report["chosen"] if cfg.method == "auto" else cfg.method
    new_heads, new_cal, fit = fits.get(chosen) or fit_method(pb, chosen)
    extra = {"parent": describe_model(parent, str(cfg.model)) | {"name": parent.meta.name}, "ratings": info,
             "method": chosen, "fit": fit, "cross_validated": report["methods"][chosen]["new"],
             "parent_cross_validated": report["methods"]["parent"]["new"]}
    adapted = apply_adaptation(parent, new_heads, new_cal, extra)
    adapted.meta.name = f"{parent.meta.name}+adapted-{info['sha256'][:8]}"
    save_model(adapted, out)
    report.update({"out": str(out), "report": str(out.with_suffix(".report.json")), "seconds": time.time() - t0,
                   "ratings": info, "parent": extra["parent"], "fit": fit, "chosen": chosen})
    atomic_write_json(out.with_suffix(".report.json"), report)
    if cfg.db and cfg.exclude_flagged:
        print(f"qdemo regressor adapt: left out {info['excluded_raters']} flagged rater(s) of {cfg.db} "
              f"(mean leave-one-out r below {cfg.flag_below:g}); {info['n_raters']} kept", file=sys.stderr)
    return report


_TRAIN_PATHS = ("data.oasis", "data.emotion6", "data.bass", "data.word_norms", "data.csv", "card_notes",
                "searcher.model.backbone_weights", "critic.model.backbone_weights")
"""Input paths of the training config, relative to its file (as `qdemo regressor train` reads them)."""
