"""``qdemo evolve-bench throughput|qd|scaling|reach|content`` (registered by qdemo.cli).

Each mode's options are the fields of its config dataclass (qdemo.bench.*), derived by
qdemo.flags; the command prints a table, writes ``<out>/<mode>.json`` and ``.md`` and, for
qd and reach, draws a plot with qdemo.viz.bench_plots.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from qdemo.flags import Flag, add_flags

THROUGHPUT = ("qdemo.bench.throughput:ThroughputConfig", (
    Flag("searcher"), Flag("renderer"), Flag("device"), Flag("resolution"), Flag("batch_sizes"), Flag("repeats"),
    Flag("single_images"), Flag("grad", "--no-grad", value=False), Flag("threads"), Flag("seed"),
))
QD = ("qdemo.bench.qd:QDBenchConfig", (
    Flag("searcher"), Flag("renderer"), Flag("device"), Flag("critic"), Flag("emitters"), Flag("seeds"),
    Flag("first_seed"), Flag("budget"), Flag("batch_size"), Flag("dataset", metavar="DIR"),
    Flag("dataset_max_images"), Flag("overrides", "--set", repeat=True, metavar="KEY=VALUE"), Flag("threads"),
    Flag("ray_address"), Flag("num_cpus"), Flag("backend", "--serial", value="serial"),
))
SCALING = ("qdemo.bench.scaling:ScalingConfig", (
    Flag("searcher"), Flag("renderer"), Flag("device"), Flag("critic"), Flag("emitter"), Flag("grid_sizes"),
    Flag("batch_sizes"), Flag("batch_size"), Flag("iterations"), Flag("threads"),
    Flag("tracemalloc", "--no-tracemalloc", value=False),
))
REACH = ("qdemo.bench.reach:ReachConfig", (
    Flag("searcher"), Flag("device"), Flag("critic"), Flag("cells"), Flag("steps"), Flag("lr"), Flag("chunk"),
    Flag("seed"), Flag("threads"),
))
CONTENT = ("qdemo.bench.content:ContentConfig", (
    Flag("datasets"), Flag("renderers"), Flag("samples"), Flag("resolution"), Flag("sigma"), Flag("seed"),
    Flag("threads"),
))
"""Per mode: the config dataclass ("module:Class") and the fields that get a flag."""


def register(subparsers: Any) -> None:
    """Add ``qdemo evolve-bench throughput|qd|scaling|reach|content`` to the top-level parser."""
    p = subparsers.add_parser(
        "evolve-bench", help="measure the explorer: throughput, QD efficiency, scaling",
        description="Benchmarks of the explorer. Each prints a table and writes <out>/<mode>.json and .md. "
                    "Options not given take the defaults of the mode's config (built-in; no config file).")
    modes = p.add_subparsers(dest="bench_mode", metavar="MODE")
    modes.required = True
    for name, helptext, (target, flags), func in (
        ("throughput", "scored images/s: end-to-end vs bare forward vs one at a time", THROUGHPUT, _cmd_throughput),
        ("qd", "emitters x seeds at a fixed evaluation budget (Ray tasks, cached)", QD, _cmd_qd),
        ("scaling", "wall time and peak memory vs grid size and batch size", SCALING, _cmd_scaling),
        ("reach", "how much of the VA grid any image can reach: free pixels optimised against the searcher "
                  "(an upper bound on coverage)", REACH, _cmd_reach),
        ("content", "image statistics of the rated sets (the content prior's ranges) and the content score "
                    "of renders, flat fields and noise", CONTENT, _cmd_content),
    ):
        q = modes.add_parser(name, help=helptext)
        q.add_argument("--out", default="archives/_bench", help="output folder (default archives/_bench)")
        q.add_argument("--no-progress", action="store_true", help="no progress bars")
        add_flags(q, target, flags)
        q.set_defaults(func=func, bench_config=target)


def _config(args: argparse.Namespace):
    """The mode's config: its defaults updated by the flags given."""
    import importlib

    from qdemo.cli._config import announce
    from qdemo.config import load_config
    from qdemo.flags import flag_overrides

    module, cls = args.bench_config.split(":")
    cfg = load_config(getattr(importlib.import_module(module), cls), None, flag_overrides(args))
    announce(f"evolve-bench {args.bench_mode}", cfg)
    return cfg


def _finish(out: Path, mode: str, res: dict[str, Any], md: str) -> int:
    from qdemo.bench.common import write_outputs

    paths = write_outputs(out, mode, res, md)
    print(md)
    print(f"\nwrote {paths['json']} and {paths['md']}")
    return 0


def _cmd_throughput(args: argparse.Namespace) -> int:
    from qdemo.bench.throughput import bench_throughput, throughput_markdown

    res = bench_throughput(_config(args), progress=not args.no_progress)
    return _finish(Path(args.out), "throughput", res, throughput_markdown(res))


def _cmd_qd(args: argparse.Namespace) -> int:
    from qdemo.bench.qd import bench_qd, qd_markdown
    from qdemo.viz.bench_plots import qd_plot

    out = Path(args.out) / "qd"
    res = bench_qd(_config(args), out_dir=out, progress=not args.no_progress)
    png = qd_plot(res, out / "qd.png")
    rc = _finish(out, "qd", res, qd_markdown(res))
    print(f"plot: {png}")
    return rc


def _cmd_reach(args: argparse.Namespace) -> int:
    from qdemo.bench.reach import bench_reach, reach_markdown
    from qdemo.viz.bench_plots import reach_plot

    out = Path(args.out) / "reach"
    res = bench_reach(_config(args), progress=not args.no_progress)
    png = reach_plot(res, out / "reach.png")
    rc = _finish(out, "reach", res, reach_markdown(res))
    print(f"plot: {png}")
    return rc


def _cmd_scaling(args: argparse.Namespace) -> int:
    from qdemo.bench.scaling import bench_scaling, scaling_markdown

    out = Path(args.out) / "scaling"
    res = bench_scaling(_config(args), out_dir=out, progress=not args.no_progress)
    return _finish(out, "scaling", res, scaling_markdown(res))


def _cmd_content(args: argparse.Namespace) -> int:
    from qdemo.bench.content import bench_content, content_markdown

    res = bench_content(_config(args), progress=not args.no_progress)
    return _finish(Path(args.out) / "content", "content", res, content_markdown(res))
