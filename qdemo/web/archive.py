"""Read archive run folders and comparison folders for ``qdemo browse``.

Reads the formats in ``docs/formats.md`` with the standard library only (no pandas, no
torch): ``manifest.json`` and ``archive.csv`` through :func:`qdemo.runfolder.read_run`
(the reader shared with ``qdemo compare`` and the plots), optional ``reference.csv`` (real
photos scored by the searcher) and a comparison folder's ``samples.csv`` (generator samples
per cell). A run that is still being written is re-read when its ``archive.csv`` changes.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdemo import DIMS, EMOTIONS
from qdemo.errors import DataError
from qdemo.runfolder import RunFolder, proxy_dims, read_classes, read_reference, read_run
from qdemo.measure_space import MeasureSpace
from qdemo.runfolder.schema import CLASSES, MANIFEST, REFERENCE, TABLE
from qdemo.tables import read_output_table

ARCHIVE_REQUIRED = ("index", "objective", "valence", "arousal", "image")
SLOT_REQUIRED = ("emotion",)
"""... and of an emotions archive."""
SAMPLES_REQUIRED = ("archive", "index", "image")
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


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass
class RunArchive:
    """One ``archives/<run>/`` folder, re-read when ``archive.csv`` changes."""

    root: Path
    name: str = ""
    folder: RunFolder | None = None
    """The run folder as :func:`qdemo.runfolder.read_run` last read it (the one form)."""
    elites: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Flat cell index -> elite record (see :meth:`_elite`)."""
    photos: list[dict[str, Any]] = field(default_factory=list)
    classes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Flat cell index -> what the critic's classifiers see in its elite (``classes.json``; may be empty)."""
    _stamp: tuple = ()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "RunArchive":
        root = Path(path)
        run = cls(root=root.resolve(), name=root.resolve().name)
        run.refresh()  # read_run: DataError naming what is missing or wrong
        return run

    @property
    def manifest(self) -> dict[str, Any]:
        return self.folder.manifest if self.folder is not None else {}

    @property
    def grid(self) -> MeasureSpace | None:
        """The run's measure space (its display grid for CVT)."""
        return self.folder.grid if self.folder is not None else None

    def _files_stamp(self) -> tuple:
        out = []
        for name in (TABLE, MANIFEST, REFERENCE, CLASSES):
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
            folder = read_run(self.root, require=ARCHIVE_REQUIRED)
            if folder.grid.is_slots:
                folder = read_run(self.root, require=ARCHIVE_REQUIRED + SLOT_REQUIRED)
            self.folder = folder
            self.elites = {index: self._elite(folder, i) for i, index in enumerate(folder.indices)}
            self.photos = self._read_photos()
            self.classes = read_classes(self.root)
            self._stamp = stamp

    @staticmethod
    def _elite(run: RunFolder, i: int) -> dict[str, Any]:
        """The browser's record of elite ``i`` (None for empty numbers)."""
        grid, ndim = run.grid, run.grid.ndim
        vad = [_finite(run.value(d, i)) for d in DIMS]
        sd = [_finite(run.value(f"{d}_sd", i)) for d in DIMS]
        critic = [_finite(run.value(f"critic_{d}", i)) for d in DIMS]
        coords = list(run.coords[i])
        has_critic = all(c is not None for c in critic[:ndim])
        dist = None
        if has_critic and all(v is not None for v in vad[:ndim]):
            dist = math.sqrt(sum((critic[k] - vad[k]) ** 2 for k in range(ndim)))  # type: ignore[operator]
        spreads = [s for s in sd[:ndim] if s is not None]
        same = _finite(run.value("critic_same_cell", i))
        within = _finite(run.value("critic_within_one", i))
        return {
            "index": run.indices[i],
            "coords": coords,
            "centre": None if grid.is_slots else grid.centre(coords),
            **(RunArchive._slot_fields(run, i) if grid.is_slots else {}),
            "objective": _finite(run.value("objective", i)),
            "vad": vad,
            "sd": sd,
            "spread": (sum(spreads) / len(spreads)) if spreads else None,
            "critic": critic if has_critic else None,
            "critic_distance": dist,
            "agreement": None if dist is None else max(0.0, 1.0 - min(dist, 1.0)),
            "critic_same_cell": None if same is None else bool(same),
            "critic_within_one": None if within is None else bool(within),
            "image": run.columns["image"][i],
        }

    @staticmethod
    def _slot_fields(run: RunFolder, i: int) -> dict[str, Any]:
        """An emotions archive's elite: its slot emotion, the searcher's distribution and the critic's emotion."""
        emotion = run.columns["emotion"][i]
        critic = run.columns.get("critic_emotion", [""] * run.n)[i] or None
        match = _finite(run.value("critic_match", i))
        return {
            "emotion": emotion,
            "p": _finite(run.value(f"p_{emotion}", i)),
            "dist": {e: _finite(run.value(f"p_{e}", i)) for e in EMOTIONS},
            "critic_emotion": critic,
            "critic_p": _finite(run.value("critic_p", i)),
            "critic_p_slot": _finite(run.value("critic_p_slot", i)),
            "critic_match": None if match is None else bool(match),
        }

    def _read_photos(self) -> list[dict[str, Any]]:
        path = self.root / REFERENCE
        rows = read_reference(self.root)
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
            "proxy": proxy_dims(m),
            "human_rated": _human_rated(m),
            "metrics": m.get("metrics"),
            "emotions": m.get("emotions"),
            "grid": self.grid.to_json() if self.grid else None,
            "n_elites": len(self.elites),
            "n_photos": len(self.photos),
        }


def _human_rated(manifest: dict[str, Any]) -> list[str]:
    """The manifest's ``models.searcher.human_rated``: dimensions learned from human ratings."""
    searcher = (manifest.get("models") or {}).get("searcher") or {}
    rated = searcher.get("human_rated") if isinstance(searcher, dict) else None
    return [d for d in rated if isinstance(d, str)] if isinstance(rated, (list, tuple)) else []


@dataclass
class Samples:
    """A comparison folder: ``samples.csv`` (each generator's samples per (archive, cell), its
    ``source`` column naming the generator) and, when there, ``summary.json`` (the metrics of
    every source per archive, for the side-by-side table)."""

    root: Path
    by_cell: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Samples":
        root = Path(path)
        csv_path = root / "samples.csv"
        if not csv_path.is_file():
            raise DataError(f"{root}: not a comparison folder (no samples.csv)")
        out = cls(root=root.resolve())
        table = read_output_table(csv_path, required=SAMPLES_REQUIRED)
        for lineno, row in zip(table.lines, table.dicts()):
            idx = _num(row.get("index"))
            if idx is None or idx != int(idx):
                raise DataError(f"{csv_path}: line {lineno}: 'index' is not an integer ({row.get('index')!r})")
            rec = {
                "source": (row.get("source") or "").strip() or "generator",
                "k": _num(row.get("k")),
                "image": row["image"].strip(),
                "critic": [_num(row.get(f"critic_{d}")) for d in DIMS],
                "target": [_num(row.get(f"target_{d}")) for d in DIMS],
            }
            out.by_cell.setdefault((row["archive"].strip(), int(idx)), []).append(rec)
        for recs in out.by_cell.values():
            recs.sort(key=lambda r: (_source_rank(r["source"]), r["k"] is None, r["k"] or 0))
        out.summary = _read_summary(root / "summary.json")
        return out

    def compare_for(self, archive: str) -> dict[str, Any] | None:
        """The sources and metrics of ``archive`` in this comparison (finite numbers or None)."""
        block = (self.summary.get("archives") or {}).get(archive)
        if not isinstance(block, dict) or not isinstance(block.get("metrics"), dict):
            return None
        metrics = {}
        for name, row in block["metrics"].items():
            if isinstance(row, dict):
                metrics[name] = {k: (v if isinstance(v, str) else _num(v)) for k, v in row.items()}
        generators = self.summary.get("generators") or {}
        stale = {k: g.get("stale") for k, g in generators.items() if isinstance(g, dict) and g.get("stale")}
        return {"sources": [s for s in block.get("sources", []) if isinstance(s, str)], "metrics": metrics,
                "left_out": block.get("left_out") or {}, "stale": stale, "tolerance": _num(self.summary.get("tolerance"))}

    @property
    def archive_names(self) -> set[str]:
        return {name for name, _ in self.by_cell}

    def for_cell(self, archive: str, index: int) -> list[dict[str, Any]]:
        return self.by_cell.get((archive, index), [])


SOURCE_ORDER = ("generator-shapes", "generator-pixels")
"""How a cell's samples are listed: the explorer's kind of image first, then the others by name."""


def _source_rank(source: str) -> tuple[int, str]:
    return (SOURCE_ORDER.index(source), "") if source in SOURCE_ORDER else (len(SOURCE_ORDER), source)


def _read_summary(path: Path) -> dict[str, Any]:
    """A comparison's summary.json, or {} when absent or unreadable (the samples still show)."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


__all__ = ["DIMS", "RunArchive", "Samples"]
