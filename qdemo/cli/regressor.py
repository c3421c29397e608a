"""``qdemo regressor ...``: the emotion model (registered by qdemo.cli).

    qdemo regressor train   --config configs/regressor.yaml [--set key=value ...]
    qdemo regressor eval    --data DIR --format oasis|emotion6|bass|csv [--json OUT.json]
    qdemo regressor predict PATH... [--role searcher|critic] [--out FILE.csv]
    qdemo regressor explain IMAGE --out FILE.png [--method gradcam|smoothgrad]
    qdemo regressor bench   [--batches 1,16,64,256] [--resolutions 64,96,128,224]
    qdemo regressor adapt   --model SPEC --db ratings.sqlite --out adapted.safetensors   (qdemo.cli.adapt)

No torch import at module level: ``qdemo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from qdemo.cli import adapt
from qdemo.flags import Flag, add_config_options, add_flags

CONFIG = "qdemo.emotion.train.config:RegressorConfig"
FLAGS = (
    Flag("data.oasis", "--oasis", metavar="DIR"),
    Flag("data.emotion6", "--emotion6", metavar="DIR"),
    Flag("data.bass", "--bass", metavar="DIR"),
    Flag("data.word_norms", "--word-norms", metavar="DIR"),
    Flag("roles"),
    Flag("out_dir", metavar="DIR"),
    Flag("cache_dir", metavar="DIR"),
    Flag("device"),
    Flag("evaluate", "--no-eval", value=False),
)
"""The config fields of ``regressor train`` with a flag of their own; every other field: --set."""
PATHS = ("data.oasis", "data.emotion6", "data.bass", "data.word_norms", "data.csv", "card_notes",
         "searcher.model.backbone_weights", "critic.model.backbone_weights")
"""Input paths of RegressorConfig: relative to the config file they are written in."""


def _ints(text: str) -> list[int]:
    try:
        return [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _add_model_args(p: argparse.ArgumentParser, default_role: str = "searcher") -> None:
    p.add_argument("--role", choices=("searcher", "critic"), default=default_role,
                   help=f"which shipped model to use (default {default_role})")
    p.add_argument("--weights", metavar="SPEC", default=None,
                   help="the model instead of the shipped one of --role, as a model spec: a .safetensors file "
                        "written by `qdemo regressor train`, searcher, critic or tiny[:SEED]")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--batch-size", type=int, default=32)


def register(subparsers) -> None:
    """Add ``qdemo regressor ...`` to the top-level parser."""
    reg = subparsers.add_parser("regressor", help="emotion model: train, eval, predict, explain, bench",
                                description="The VAD emotion model (searcher and critic).")
    sub = reg.add_subparsers(dest="regressor_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser("train", help="train searcher and critic (reproduces the shipped weights)")
    add_config_options(p, "regressor")
    add_flags(p, CONFIG, FLAGS)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="metrics of the model on a rated set")
    p.add_argument("--data", required=True, help="data folder (or CSV file)")
    p.add_argument("--format", default="auto", choices=("auto", "oasis", "emotion6", "bass", "csv"))
    p.add_argument("--scale", help="native rating scale of a CSV set, e.g. 1,9 (required for csv)")
    p.add_argument("--image-root", help="folder the CSV's file names are relative to")
    p.add_argument("--on-missing", choices=("raise", "skip"), default="raise",
                   help="images named in the CSV but absent: stop (default) or skip with a count")
    p.add_argument("--on-nan", choices=("raise", "mask"), default="raise",
                   help="empty/NaN ratings in a CSV or BASS table: stop (default) or mask that dimension")
    p.add_argument("--json", metavar="OUT.json", help="also write the metrics as JSON")
    _add_model_args(p)
    p.add_argument("--both", action="store_true", help="evaluate searcher and critic")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("predict", help="score images: path,valence,arousal,dominance,*_sd,error")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    p.add_argument("--out", metavar="FILE.csv", help="write the CSV here (default: standard output)")
    p.add_argument("--on-error", choices=("skip", "raise"), default="skip",
                   help="unreadable/non-image files: skip them and list them (default) or stop")
    _add_model_args(p)
    p.set_defaults(func=_cmd_predict)

    _register_explain(sub)

    p = sub.add_parser("bench", help="images/s of searcher and critic at several batch sizes")
    p.add_argument("--roles", default="searcher,critic")
    p.add_argument("--batches", type=_ints, default=[1, 16, 64, 256])
    p.add_argument("--resolutions", type=_ints, default=None,
                   help="resolutions to time each model at (default: each model's own)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--grad-batch", type=int, default=16, help="batch for the input-gradient timing (0 = skip)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--weights", action="append", default=[], metavar="ROLE=FILE",
                   help="time this weights file for ROLE instead of the shipped one")
    p.add_argument("--json", metavar="OUT.json")
    p.set_defaults(func=_cmd_bench)
    adapt.register(sub)  # qdemo regressor adapt, adapt-bench


# ----------------------------------------------------------------------------- handlers


def _load(args, role: str | None = None):
    """The model of ``--weights`` (a model spec) or else the shipped model of the role, by the one loader."""
    from qdemo.device import resolve_device
    from qdemo.emotion.zoo import load_emotion_model

    role = role or args.role
    return load_emotion_model(args.weights or role, role=role, device=resolve_device(args.device))


def _cmd_train(args) -> int:
    from qdemo.cli._config import load_command_config
    from qdemo.config import describe
    from qdemo.emotion.train import RegressorConfig, train_regressor

    if args.help_config:
        print(describe(RegressorConfig))
        return 0
    cfg = load_command_config(RegressorConfig, "regressor", args, label="regressor train", paths=PATHS)
    report = train_regressor(cfg)
    if "roles" in report:
        from qdemo.emotion.metrics import format_metrics_table

        for role, r in report["roles"].items():
            for n, m in r["cv"].items():
                print(format_metrics_table(m, sources=report["data"][n]["sources"], split=report["data"][n]["split"],
                                           title=f"{role} on {n} (held out)"))
        print(f"wrote {cfg.out_dir}/metrics.json and {cfg.out_dir}/MODEL_CARD.md")
    return 0


def _cmd_eval(args) -> int:
    from qdemo.emotion.datasets import load_dataset
    from qdemo.emotion.evaluate import evaluate_model
    from qdemo.emotion.metrics import format_metrics_table
    from qdemo.io import atomic_write_json

    kw: dict = {"on_missing": args.on_missing}
    if args.format in ("csv", "auto") and (args.scale or args.format == "csv"):
        kw.update({"scale": args.scale, "on_nan": args.on_nan})
        if args.image_root:
            kw["image_root"] = args.image_root
    if args.format == "bass":
        kw["on_nan"] = args.on_nan
    rated = load_dataset(args.data, args.format, **kw)
    roles = ["searcher", "critic"] if args.both else [args.role]
    out = {}
    for role in roles:
        model = _load(args, role)
        res = evaluate_model(model, rated, batch_size=args.batch_size)
        out[role] = res
        print(format_metrics_table(res["metrics"], sources=rated.sources, split=res["split"],
                                   title=f"{model.info.name} ({role}) on {rated.name}, n={len(rated)}"))
        print(f"  human-rated in this set: {', '.join(res['dims']['human_rated']) or 'none'}; "
              f"proxy: {', '.join(res['dims']['proxy']) or 'none'}; "
              f"model's proxy dims: {', '.join(model.info.proxy) or 'none'}")
        if "distribution" in res:
            print(format_metrics_table(res["distribution"], title="emotion distribution"))
        if rated.skipped:
            print(f"  skipped {len(rated.skipped)} rows (see JSON)", file=sys.stderr)
    if args.json:
        atomic_write_json(args.json, out if args.both else out[roles[0]])
        print(f"wrote {args.json}")
    return 0


def _cmd_predict(args) -> int:
    from qdemo.emotion.predict import expand_paths, predict_files, rows_to_csv, summarise
    from qdemo.io import atomic_write_text

    paths = expand_paths(args.paths)
    model = _load(args)
    rows, skipped = predict_files(model, paths, batch_size=args.batch_size, on_error=args.on_error,
                                  progress=args.out is not None)
    text = rows_to_csv(rows, skipped)  # one schema: unreadable files get empty numbers + 'error'
    if args.out:
        atomic_write_text(args.out, text)
        print(f"{summarise(rows)}; wrote {args.out} ({model.info.name})")
    else:
        sys.stdout.write(text)
    if skipped:
        print(f"qdemo: skipped {len(skipped)} of {len(paths)} file(s):", file=sys.stderr)
        for p, why in skipped:
            print(f"  {p}: {why}", file=sys.stderr)
        if not rows:
            from qdemo.errors import DataError

            raise DataError(f"none of the {len(paths)} file(s) could be read as an image")
    return 0


def _register_explain(sub) -> None:
    """``qdemo regressor explain``: saliency overlays and the classes behind a prediction."""
    p = sub.add_parser("explain", help="saliency / Grad-CAM overlay per dimension")
    p.add_argument("image")
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.add_argument("--method", choices=("gradcam", "smoothgrad"), default="gradcam")
    p.add_argument("--unit", type=int, default=None, help="backbone unit for Grad-CAM (default: automatic)")
    p.add_argument("--classes", type=int, default=5, metavar="K",
                   help="list the K most probable ImageNet classes of each backbone with their word norms (0: none)")
    p.add_argument("--word-norms", metavar="DIR", default=None,
                   help="word norms for the classes of a model without the semantic channel (default: data.word_norms "
                        "of configs/regressor.yaml, when that folder exists)")
    p.add_argument("--json", metavar="OUT.json", help="also write the prediction and the classes as JSON")
    _add_model_args(p)
    p.set_defaults(func=_cmd_explain)


def _explain_word_norms(path: str | None, classes: int):
    """The WordNorms for explain's classes: ``--word-norms``, else the regressor config's folder if it exists."""
    from qdemo.emotion.wordnorms import WordNorms

    if classes <= 0:
        return None
    if path is None:
        from qdemo.config import default_config_path, load_yaml

        cfg = default_config_path("regressor")
        rel = ((load_yaml(cfg).get("data") or {}).get("word_norms") if cfg is not None else None)
        if not rel or not (cfg.resolve().parent / rel).is_dir():
            return None
        path = str(cfg.resolve().parent / rel)
    return WordNorms.load(path)


def _cmd_explain(args) -> int:
    from qdemo.emotion.explain import explain_image, format_classes
    from qdemo.io import atomic_write_json
    from qdemo.viz.saliency import plot_saliency

    model = _load(args)
    res = explain_image(model, args.image, args.out, plot=plot_saliency, method=args.method, unit=args.unit,
                        classes=max(0, args.classes), word_norms=_explain_word_norms(args.word_norms, args.classes))
    print(f"{args.out}: {args.method} for {args.image} (" + ", ".join(
        f"{d} {v:+.2f}" for d, v in res["prediction"].items()) + ")")
    for line in format_classes(res["classes"]):
        print(line)
    if args.json:
        atomic_write_json(args.json, res)
    return 0


def _cmd_bench(args) -> int:
    import torch

    from qdemo.device import resolve_device
    from qdemo.emotion.bench import format_table, run_bench
    from qdemo.emotion.zoo import load_emotion_model
    from qdemo.errors import ConfigError
    from qdemo.io import atomic_write_json

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    files = {}
    for item in args.weights:
        if "=" not in item:
            raise ConfigError(f"--weights {item!r}: expected ROLE=FILE")
        r, f = item.split("=", 1)
        files[r] = f
    models = {}
    for role in [r.strip() for r in args.roles.split(",") if r.strip()]:
        slot = role if role in ("searcher", "critic") else "searcher"
        models[role] = load_emotion_model(files.get(role) or slot, role=slot, device=device)
    res = run_bench(models, batches=args.batches, repeats=args.repeats, grad_batch=args.grad_batch,
                    resolutions={r: args.resolutions for r in models} if args.resolutions else None)
    res["device"] = str(device)
    print()
    print(format_table(res))
    if args.json:
        atomic_write_json(args.json, res)
    return 0
