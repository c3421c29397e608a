"""The ``qdemo`` command line (the top layer). One module per command group registers its
sub-commands.

Command modules (``qdemo.cli.<group>``) expose ``register(subparsers)`` and must not import
torch or other heavy modules at module level: ``qdemo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from qdemo import __version__
from qdemo.errors import QdemoError

AREAS = (
    "qdemo.cli.regressor",   # qdemo regressor train|eval|predict|explain|bench
    "qdemo.cli.evolve",      # qdemo evolve, qdemo confirm
    "qdemo.cli.evolve_bench", # qdemo evolve-bench throughput|qd|scaling|reach
    "qdemo.cli.generator",   # qdemo generator train|sample
    "qdemo.cli.compare",     # qdemo compare, qdemo export-study
    "qdemo.cli.normalise",   # qdemo normalise shine|train|apply|report
    "qdemo.cli.web",         # qdemo browse, qdemo rate, qdemo validate
    "qdemo.cli.stimuli",     # qdemo stimuli export
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qdemo",
        description="Illuminate valence-arousal-dominance space with images.",
    )
    parser.add_argument("--version", action="version", version=f"qdemo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in AREAS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except QdemoError as exc:
        print(f"qdemo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qdemo: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
