"""SHINE-equalise a list of image files in this process (a stimulus set before it is rated).

    outputs, summary = equalise_files(paths, work_dir, mode="full")

The files are linked into ``work_dir/src`` under their position, so any names work, then
:func:`qdemo.normalise.shine.run_shine` matches them to the set-wide targets (luminance
mean/contrast, histogram and/or amplitude spectrum; image scope, luminance colour space,
native size, serial backend). ``outputs[i]`` is the equalised PNG of ``paths[i]``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Sequence

from qdemo.errors import ConfigError, DataError

MODES = ("lum", "hist", "sf", "spec", "full")
"""SHINE modes (:class:`qdemo.normalise.config.ShineConfig`)."""


def equalise_files(paths: Sequence[str | os.PathLike], work_dir: str | os.PathLike, mode: str = "full", *,
                   seed: int = 0) -> tuple[list[Path], dict[str, Any]]:
    """Equalise ``paths`` (all of one size) as one set; returns the equalised files (in
    ``work_dir/out/images``) and the SHINE summary (mode, steps, targets)."""
    from qdemo.config import load_config
    from qdemo.normalise.config import NormaliseConfig
    from qdemo.normalise.data import ImageSet
    from qdemo.normalise.shine import run_shine

    if mode not in MODES:
        raise ConfigError(f"--equalise {mode!r}: one of {', '.join(MODES)}")
    if not paths:
        raise DataError("nothing to equalise (no images)")
    work = Path(work_dir)
    src = work / "src"
    src.mkdir(parents=True, exist_ok=True)
    linked = []
    for i, p in enumerate(paths):
        dst = src / f"{i:05d}{Path(p).suffix.lower() or '.png'}"
        try:
            os.link(p, dst)
        except OSError:
            shutil.copyfile(p, dst)
        linked.append(dst)
    cfg = load_config(NormaliseConfig, None, {"data.size": None, "shine.mode": mode, "shine.scope": "image",
                                              "shine.seed": seed})
    images = ImageSet(root=src, paths=linked, groups=["all"] * len(linked), name="stimuli")
    summary = run_shine(images, work / "out", cfg, backend="serial", use_cache=False)
    outputs = [work / "out" / "images" / f"{i:05d}.png" for i in range(len(linked))]
    missing = [str(o) for o in outputs if not o.is_file()]
    if missing:
        raise DataError(f"SHINE wrote no image for {len(missing)} file(s), e.g. {paths[outputs.index(Path(missing[0]))]}")
    return outputs, summary


__all__ = ["MODES", "equalise_files"]
