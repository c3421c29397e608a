"""The output folder of ``qdemo normalise shine`` (``images/``, ``manifest.csv``, ``shine.json``).

Shared by the image scope (:mod:`qdemo.normalise.shine`) and the group scope
(:mod:`qdemo.normalise.shine_groups`): sharding and cache keys, output names, the checks
before anything is written, the manifest writer, and :class:`ShineOutput`, its reader.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qdemo.errors import DataError, QdemoError
from qdemo.io import atomic_write_text
from qdemo.normalise.data import ImageSet
from qdemo.tables import read_output_table, table_text

MANIFEST_COLUMNS = ("source", "group", "output", "valence", "arousal", "dominance")
"""manifest.csv: source photo, its group, output image (relative), human VAD (empty where unrated)."""


def shards(n: int, size: int) -> list[list[int]]:
    if size < 1:
        raise QdemoError(f"shine.shard_size={size}: must be at least 1")
    return [list(range(i, min(n, i + size))) for i in range(0, n, size)]


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]


def out_name(images: ImageSet, i: int) -> Path:
    """Output path (relative) of image ``i``: its path under the set's root, as PNG."""
    return images.rel(i).with_suffix(".png")


def refuse_unreadable(skipped: Sequence[tuple[str, str]], on_error: str) -> None:
    if skipped and on_error == "raise":
        listed = "; ".join(reason for _, reason in skipped[:5])
        more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
        raise DataError(f"{len(skipped)} unreadable image(s): {listed}{more}. "
                        f"Fix or remove them, or pass --skip-bad to leave them out")


def output_names(images: ImageSet, ok: Sequence[int]) -> dict[int, Path]:
    names = {i: out_name(images, i) for i in ok}
    if len(set(names.values())) != len(names):
        raise DataError(f"{images.root}: two images map to the same output name (e.g. a.jpg and a.png); rename one")
    return names


def check_written(results: dict[str, Any], names: dict[int, Path], out: Path, what: str) -> None:
    written = {p for r in results.values() for p in r["written"]}
    missing = [str(out / "images" / n) for n in names.values()
               if str(out / "images" / n) not in written or not (out / "images" / n).exists()]
    if missing:
        raise QdemoError(f"{len(missing)} output image(s) missing after {what} (e.g. {missing[0]}); "
                         f"delete {out / 'cache'} and run again")


def write_manifest(images: ImageSet, ok: Sequence[int], names: dict[int, Path], out: Path) -> None:
    rows = []
    for i in ok:
        t = images.targets[i] if images.targets is not None else [float("nan")] * 3
        rows.append([str(images.paths[i]), images.groups[i], f"images/{names[i].as_posix()}",
                     *(("" if not np.isfinite(x) else f"{float(x):.6f}") for x in t)])
    atomic_write_text(out / "manifest.csv", table_text(MANIFEST_COLUMNS, rows))


@dataclass
class ShineOutput:
    """A finished ``qdemo normalise shine`` folder, read back."""

    root: Path
    sources: list[Path]
    groups: list[str]
    outputs: list[Path]
    targets: np.ndarray
    """(N, 3) human VAD (NaN where unrated)."""
    summary: dict[str, Any]

    @classmethod
    def read(cls, root: str | Path) -> "ShineOutput":
        root = Path(root)
        man, js = root / "manifest.csv", root / "shine.json"
        if not man.exists() or not js.exists():
            raise DataError(f"{root}: not a SHINE output folder (no manifest.csv / shine.json); "
                            f"make one with `qdemo normalise shine --out {root}`")
        rows = read_output_table(man, required=MANIFEST_COLUMNS).dicts()

        def num(x: str) -> float:
            return float(x) if x.strip() else float("nan")

        return cls(root=root, sources=[Path(r["source"]) for r in rows], groups=[r["group"] for r in rows],
                   outputs=[root / r["output"] for r in rows],
                   targets=np.array([[num(r["valence"]), num(r["arousal"]), num(r["dominance"])] for r in rows],
                                    dtype=np.float32).reshape(-1, 3),
                   summary=json.loads(js.read_text(encoding="utf-8")))


__all__ = ["ShineOutput", "check_written", "digest", "out_name", "output_names", "refuse_unreadable", "shards",
           "write_manifest"]
