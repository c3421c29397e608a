"""Read archive run folders and comparison folders for ``qdemo browse``.

Reads the formats in ``docs/formats.md`` with the standard library only (no pandas, no
torch): ``manifest.json``, ``archive.csv``, optional ``reference.csv`` (real photos scored
by the searcher) and a comparison folder's ``samples.csv`` (generator samples per cell).
A run that is still being written is re-read when its ``archive.csv`` changes.
"""

from __future__ import annotations

import csv
import json
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdemo.errors import DataError

DIMS = ("valence", "arousal", "dominance")
ARCHIVE_REQUIRED = ("index", "objective", "valence", "arousal", "image")
SAMPLES_REQUIRED = ("archive", "index", "image")
DEFAULT_DISPLAY_CELLS = (10, 10, 5)
"""Display grid for archives without a regular grid (CVT): elites binned by searcher VAD."""
NEAREST_PHOTOS = 4


def _num(value: Any) -> float | None:
    """A finite float, or None for empty / NaN / unparsable cells."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a CSV as dicts; DataError naming the file for missing columns / bad encoding."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise DataError(
                    f"{path}: missing column(s) {', '.join(map(repr, missing))} "
                    f"(found: {', '.join(header) or 'nothing'})"
                )
            reader.fieldnames = header
            return [{k: (v if v is not None else "") for k, v in row.items() if k is not None}
                    for row in reader]
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


@dataclass
class Grid:
    """The V-A(-D) grid the page draws."""

    name: str
    dims: list[str]
    cells: list[int]
    ranges: list[list[float]]
    binned: bool = False
    """True when elites are placed by their searcher VAD (no regular grid in the archive)."""

    def centre(self, coords: list[int]) -> list[float]:
        out = []
        for i, c in enumerate(coords):
            lo, hi = self.ranges[i]
            out.append(lo + (c + 0.5) * (hi - lo) / self.cells[i])
        return out

    def locate(self, values: list[float | None]) -> list[int] | None:
        out = []
        for i in range(len(self.cells)):
            x = values[i] if i < len(values) else None
            if x is None:
                return None
            lo, hi = self.ranges[i]
            c = int(math.floor((x - lo) / (hi - lo) * self.cells[i]))
            out.append(min(max(c, 0), self.cells[i] - 1))
        return out

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dims": self.dims, "cells": self.cells,
                "ranges": self.ranges, "binned": self.binned}


def _grid_from_manifest(manifest: dict[str, Any], has_cell_cols: bool, source: Path) -> Grid:
    g = manifest.get("grid") or {}
    name = str(g.get("name") or "unknown")
    dims = list(g.get("dims") or DIMS[:3])
    cells = g.get("cells")
    ranges = g.get("ranges")
    regular = (
        name in ("vad", "va")
        and has_cell_cols
        and isinstance(cells, list)
        and len(cells) in (2, 3)
        and all(isinstance(c, int) and c > 0 for c in cells)
    )
    if regular:
        if not (isinstance(ranges, list) and len(ranges) == len(cells)):
            ranges = [[-1.0, 1.0]] * len(cells)
        try:
            ranges = [[float(lo), float(hi)] for lo, hi in ranges]
        except (TypeError, ValueError):
            raise DataError(f"{source}: grid.ranges must be [[lo, hi], ...], got {ranges!r}") from None
        return Grid(name, [str(d) for d in dims[: len(cells)]], list(cells), ranges)
    n = 3 if len(dims) >= 3 else 2
    return Grid(name, list(DIMS[:n]), list(DEFAULT_DISPLAY_CELLS[:n]), [[-1.0, 1.0]] * n, binned=True)


@dataclass
class RunArchive:
    """One ``archives/<run>/`` folder, re-read when ``archive.csv`` changes."""

    root: Path
    name: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)
    grid: Grid | None = None
    elites: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Flat cell index -> elite record (see :meth:`_elite`)."""
    photos: list[dict[str, Any]] = field(default_factory=list)
    _stamp: tuple = ()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "RunArchive":
        root = Path(path)
        if not root.is_dir():
            raise DataError(f"{root}: not an archive run folder (no such directory)")
        if not (root / "archive.csv").is_file():
            hint = ""
            if (root / "manifest.json").is_file():
                hint = "; the run has not saved its archive yet (try again after its first checkpoint)"
            raise DataError(f"{root}: not an archive run folder (no archive.csv{hint})")
        run = cls(root=root.resolve(), name=root.resolve().name)
        run.refresh()
        return run

    def _files_stamp(self) -> tuple:
        out = []
        for name in ("archive.csv", "manifest.json", "reference.csv"):
            try:
                st = (self.root / name).stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    def refresh(self) -> None:
        """Re-read the folder if any of its tables changed since the last read."""
        with self._lock:
            stamp = self._files_stamp()
            if stamp == self._stamp:
                return
            manifest: dict[str, Any] = {}
            mpath = self.root / "manifest.json"
            if mpath.is_file():
                try:
                    manifest = json.loads(mpath.read_text(encoding="utf-8"))
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise DataError(f"{mpath}: not valid JSON ({exc})") from None
                if not isinstance(manifest, dict):
                    raise DataError(f"{mpath}: expected a JSON object")
            apath = self.root / "archive.csv"
            rows = read_csv(apath, ARCHIVE_REQUIRED)
            has_cells = bool(rows) and "cell_v" in rows[0] and "cell_a" in rows[0]
            if not rows:
                has_cells = True
            grid = _grid_from_manifest(manifest, has_cells, mpath)
            elites: dict[int, dict[str, Any]] = {}
            for lineno, row in enumerate(rows, start=2):
                rec = self._elite(row, grid)
                if rec is None:
                    raise DataError(f"{apath}: line {lineno}: 'index' is not an integer ({row.get('index')!r})")
                elites[rec["index"]] = rec
            self.manifest, self.grid, self.elites = manifest, grid, elites
            self.photos = self._read_photos()
            self._stamp = stamp

    def _elite(self, row: dict[str, str], grid: Grid) -> dict[str, Any] | None:
        idx = _num(row.get("index"))
        if idx is None or idx != int(idx):
            return None
        ndim = len(grid.cells)
        vad = [_num(row.get(d)) for d in DIMS]
        sd = [_num(row.get(f"{d}_sd")) for d in DIMS]
        critic = [_num(row.get(f"critic_{d}")) for d in DIMS]
        if grid.binned:
            coords = grid.locate(vad[:ndim])
        else:
            coords = [_num(row.get(c)) for c in ("cell_v", "cell_a", "cell_d")[:ndim]]
            coords = None if any(c is None for c in coords) else [int(c) for c in coords]  # type: ignore[arg-type]
        if coords is None:
            coords = [0] * ndim
        has_critic = all(c is not None for c in critic[:ndim])
        dist = None
        if has_critic and all(v is not None for v in vad[:ndim]):
            dist = math.sqrt(sum((critic[i] - vad[i]) ** 2 for i in range(ndim)))  # type: ignore[operator]
        spreads = [s for s in sd[:ndim] if s is not None]
        same = _num(row.get("critic_same_cell"))
        within = _num(row.get("critic_within_one"))
        return {
            "index": int(idx),
            "coords": coords,
            "centre": grid.centre(coords),
            "objective": _num(row.get("objective")),
            "vad": vad,
            "sd": sd,
            "spread": (sum(spreads) / len(spreads)) if spreads else None,
            "critic": critic if has_critic else None,
            "critic_distance": dist,
            "agreement": None if dist is None else max(0.0, 1.0 - min(dist, 1.0)),
            "critic_same_cell": None if same is None else bool(same),
            "critic_within_one": None if within is None else bool(within),
            "image": (row.get("image") or "").strip(),
        }

    def _read_photos(self) -> list[dict[str, Any]]:
        path = self.root / "reference.csv"
        if not path.is_file():
            return []
        rows = read_csv(path, ())
        if not rows:
            return []
        cols = rows[0].keys()
        img_col = next((c for c in ("image", "thumbnail", "thumb", "file", "path") if c in cols), None)
        if img_col is None:
            raise DataError(f"{path}: needs an 'image' column (found: {', '.join(cols)})")
        out = []
        for row in rows:
            if not (row.get(img_col) or "").strip():
                continue  # scored without a thumbnail: nothing to show
            vad = [_num(row.get(d)) for d in DIMS]
            if vad[0] is None or vad[1] is None:
                vad = [_num(row.get(f"predicted_{d}")) for d in DIMS]
            human = [_num(row.get(f"{p}{d}")) for p in ("human_", "rated_", "rating_") for d in DIMS]
            human3 = next((human[i:i + 3] for i in (0, 3, 6) if any(h is not None for h in human[i:i + 3])), None)
            label = next((row[c] for c in ("name", "id", "theme", "source", "origin") if row.get(c)), "")
            label = label.replace("\\", "/").rsplit("/", 1)[-1]  # a source path: show its file name only
            out.append({"image": row[img_col].strip(), "vad": vad, "human": human3, "label": label})
        return out

    def nearest_photos(self, vad: list[float | None], k: int = NEAREST_PHOTOS) -> list[dict[str, Any]]:
        """The ``k`` reference photos whose searcher VAD is closest to ``vad``."""
        dims = [i for i in range(3) if i < len(vad) and vad[i] is not None]
        scored = []
        for p in self.photos:
            if any(p["vad"][i] is None for i in dims):
                continue
            d = math.sqrt(sum((p["vad"][i] - vad[i]) ** 2 for i in dims))  # type: ignore[operator]
            scored.append((d, p))
        scored.sort(key=lambda t: t[0])
        return [dict(p, distance=d) for d, p in scored[:k]]

    def summary(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "name": self.name,
            "status": m.get("status"),
            "created": m.get("created"),
            "seed": m.get("seed"),
            "emitter": m.get("emitter"),
            "renderer": m.get("renderer"),
            "models": m.get("models"),
            "metrics": m.get("metrics"),
            "grid": self.grid.to_json() if self.grid else None,
            "n_elites": len(self.elites),
            "n_photos": len(self.photos),
        }


@dataclass
class Samples:
    """A comparison folder's ``samples.csv``: generator samples per (archive, cell)."""

    root: Path
    by_cell: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Samples":
        root = Path(path)
        csv_path = root / "samples.csv"
        if not csv_path.is_file():
            raise DataError(f"{root}: not a comparison folder (no samples.csv)")
        out = cls(root=root.resolve())
        for lineno, row in enumerate(read_csv(csv_path, SAMPLES_REQUIRED), start=2):
            idx = _num(row.get("index"))
            if idx is None or idx != int(idx):
                raise DataError(f"{csv_path}: line {lineno}: 'index' is not an integer ({row.get('index')!r})")
            rec = {
                "k": _num(row.get("k")),
                "image": row["image"].strip(),
                "critic": [_num(row.get(f"critic_{d}")) for d in DIMS],
                "target": [_num(row.get(f"target_{d}")) for d in DIMS],
            }
            out.by_cell.setdefault((row["archive"].strip(), int(idx)), []).append(rec)
        for recs in out.by_cell.values():
            recs.sort(key=lambda r: (r["k"] is None, r["k"] or 0))
        return out

    @property
    def archive_names(self) -> set[str]:
        return {name for name, _ in self.by_cell}

    def for_cell(self, archive: str, index: int) -> list[dict[str, Any]]:
        return self.by_cell.get((archive, index), [])


__all__ = ["DIMS", "Grid", "RunArchive", "Samples", "read_csv"]
