"""Loading a command's config from its arguments: default file, ``--set``, dedicated flags.

    cfg = load_command_config(EvolveConfig, "evolve", args, paths=("dataset.path",))

Order (later wins): the dataclass defaults, the config file (``--config`` or the command's
default, found without the current folder), ``--set key=value`` in the order given, then
the dedicated flags (qdemo.flags). The file used is printed to stderr at the start and
recorded on the config (written above the resolved config.yaml a run saves).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Iterable, Optional, TypeVar

T = TypeVar("T")


def load_command_config(cls: type[T], command: str, args: argparse.Namespace, *, label: Optional[str] = None,
                        extra: Optional[dict[str, Any]] = None, paths: Iterable[str] = (),
                        specs: Iterable[str] = ()) -> T:
    """``cls`` for ``qdemo <label or command>``; ``extra``: overrides the handler computed from
    other options (None values skipped; they win over everything). ``paths`` / ``specs``: input
    paths and model specs that are read relative to the config file (qdemo.config.load_config)."""
    from qdemo.config import config_source, default_config_path, load_config
    from qdemo.flags import flag_overrides

    path = args.config if getattr(args, "config", None) is not None else default_config_path(command)
    items: list = list(getattr(args, "set", None) or [])
    items += list(flag_overrides(args).items())
    items += [(k, v) for k, v in (extra or {}).items() if v is not None]
    cfg = load_config(cls, path, items, paths=paths, specs=specs)
    announce(label or command, cfg)
    return cfg


def announce(command: str, cfg: Any) -> None:
    """Print which config file (or built-in defaults) ``cfg`` came from, to stderr."""
    from qdemo.config import config_source

    src = config_source(cfg)
    if src is not None:
        print(f"qdemo {command}: {src.describe()}", file=sys.stderr)
