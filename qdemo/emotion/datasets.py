"""Rated image sets: OASIS, Emotion6 and a user's own CSV, all on the canonical scale.

A :class:`RatedSet` holds absolute image paths and ``(N, 3)`` valence / arousal /
dominance targets on [-1, 1] (NaN where a dimension is not rated), where each dimension
came from (``sources``: ``"human"``, ``"proxy:<how>"`` or ``"missing"``), the groups that
must never straddle a train/test split (OASIS themes) and the strata to balance folds
over (Emotion6 folders, OASIS categories).

Loaders accept what real files look like: ``\\r``, ``\\n`` or ``\\r\\n`` line endings, a
UTF-8 byte-order mark, comma / tab / semicolon separators, stray spaces around names
(OASIS has ``'Crosswalk 1 '`` whose file is ``Crosswalk 1.jpg``). Anything unusable
raises :class:`~qdemo.errors.DataError` naming the file, the line and the problem.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from qdemo import DIMS
from qdemo.emotion.scale import EMOTION6, OASIS, Scale, parse_scale, to_canonical
from qdemo.errors import DataError
from qdemo.io import IMAGE_SUFFIXES, open_rgb

EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
"""The 7 categories of the Emotion6 distribution, in its column order."""

SOURCE_HUMAN = "human"
SOURCE_MISSING = "missing"

_NA_STRINGS = {"", "na", "nan", "n/a", "null", "none", "-", "?"}


# ----------------------------------------------------------------------------- RatedSet


@dataclass
class RatedSet:
    """Images with valence / arousal / dominance targets on the canonical [-1, 1] scale."""

    name: str
    """Short name of the set ('oasis', 'emotion6', or the CSV's stem)."""
    root: Path
    """Folder the set was loaded from (image paths are absolute, this is for reports)."""
    paths: list[Path]
    """(N,) absolute image paths."""
    targets: np.ndarray
    """(N, 3) float32 valence, arousal, dominance on [-1, 1]; NaN where not rated."""
    sources: dict[str, str]
    """Per dimension: 'human', 'proxy:<how>' or 'missing'."""
    groups: np.ndarray
    """(N,) str: images of one group never straddle train and test (OASIS theme)."""
    strata: np.ndarray
    """(N,) str: folds are balanced over these (Emotion6 folder, OASIS category)."""
    emotion_dist: np.ndarray | None = None
    """(N, 7) Emotion6 distribution over :data:`EMOTIONS` (rows sum to 1), or None."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(file, reason) for every row or image that was skipped on request."""
    info: dict[str, Any] = field(default_factory=dict)
    """Extra facts for reports: native scale, CSV file, proxy coverage, ..."""

    def __post_init__(self) -> None:
        n = len(self.paths)
        self.paths = [Path(p) for p in self.paths]
        for what, arr, shape in (("targets", self.targets, (n, len(DIMS))), ("groups", self.groups, (n,)),
                                 ("strata", self.strata, (n,)),
                                 ("emotion_dist", self.emotion_dist, (n, len(EMOTIONS)))):
            if arr is not None and np.shape(arr) != shape:
                raise ValueError(f"RatedSet {self.name!r}: {what} has shape {np.shape(arr)}, expected {shape}")
        self.targets = np.asarray(self.targets, dtype=np.float32).reshape(n, len(DIMS))
        self.groups = np.asarray(self.groups, dtype=str).reshape(n)
        self.strata = np.asarray(self.strata, dtype=str).reshape(n)
        if self.emotion_dist is not None:
            self.emotion_dist = np.asarray(self.emotion_dist, dtype=np.float32).reshape(n, len(EMOTIONS))
        for d in DIMS:
            self.sources.setdefault(d, SOURCE_MISSING)

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, idx: Sequence[int] | np.ndarray) -> "RatedSet":
        """A new set with the rows ``idx`` (integer indices or a boolean mask)."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"boolean mask of shape {idx.shape} for a set of {len(self)}")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).reshape(-1)
        return replace(
            self,
            paths=[self.paths[i] for i in idx],
            targets=self.targets[idx].copy(),
            sources=dict(self.sources),
            groups=self.groups[idx].copy(),
            strata=self.strata[idx].copy(),
            emotion_dist=None if self.emotion_dist is None else self.emotion_dist[idx].copy(),
            skipped=list(self.skipped),
            info=dict(self.info),
        )

    def mask(self) -> np.ndarray:
        """(N, 3) bool: True where the target is present (not NaN)."""
        return ~np.isnan(self.targets)

    def human_rated(self) -> tuple[str, ...]:
        """Dimensions rated by people for this set."""
        return tuple(d for d in DIMS if self.sources.get(d) == SOURCE_HUMAN)

    def proxy_dims(self) -> tuple[str, ...]:
        """Dimensions filled by a documented proxy."""
        return tuple(d for d in DIMS if self.sources.get(d, "").startswith("proxy"))

    def summary(self) -> str:
        """A few lines for logs and reports: size, what each dimension is, skips."""
        m = self.mask()
        lines = [f"{self.name}: {len(self)} images from {self.root}"]
        for j, d in enumerate(DIMS):
            col = self.targets[m[:, j], j]
            if col.size:
                stats = f"mean {col.mean():+.2f}, sd {col.std():.2f}, range [{col.min():+.2f}, {col.max():+.2f}]"
            else:
                stats = "no values"
            lines.append(f"  {d:<9} {self.sources.get(d, SOURCE_MISSING):<28} n={int(m[:, j].sum()):<5} {stats}")
        lines.append(f"  {len(np.unique(self.groups))} groups, {len(np.unique(self.strata))} strata"
                     + (", 7-way emotion distribution" if self.emotion_dist is not None else ""))
        if self.skipped:
            reasons: dict[str, int] = {}
            for _, why in self.skipped:
                reasons[why] = reasons.get(why, 0) + 1
            lines.append(f"  skipped {len(self.skipped)}: "
                         + "; ".join(f"{n} {why}" for why, n in sorted(reasons.items())))
            for f, why in self.skipped[:5]:
                lines.append(f"    {f}: {why}")
            if len(self.skipped) > 5:
                lines.append(f"    ... and {len(self.skipped) - 5} more")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"RatedSet(name={self.name!r}, n={len(self)}, sources={self.sources}, "
                f"skipped={len(self.skipped)})")


def concat_sets(sets: Sequence[RatedSet], name: str | None = None) -> RatedSet:
    """Stack several sets (e.g. OASIS + Emotion6 for training on both).

    Groups and strata are prefixed with each set's name so they cannot collide; a
    dimension's source is kept when all sets agree, else listed per set.
    """
    if not sets:
        raise ValueError("concat_sets needs at least one set")
    sources = {}
    for d in DIMS:
        kinds = {s.sources.get(d, SOURCE_MISSING) for s in sets}
        sources[d] = kinds.pop() if len(kinds) == 1 else "mixed:" + ",".join(
            f"{s.name}={s.sources.get(d, SOURCE_MISSING)}" for s in sets)
    dist = None
    if any(s.emotion_dist is not None for s in sets):
        dist = np.concatenate([
            s.emotion_dist if s.emotion_dist is not None else np.full((len(s), len(EMOTIONS)), np.nan, np.float32)
            for s in sets])
    return RatedSet(
        name=name or "+".join(s.name for s in sets),
        root=Path(sets[0].root),
        paths=[p for s in sets for p in s.paths],
        targets=np.concatenate([s.targets for s in sets]),
        sources=sources,
        groups=np.concatenate([np.char.add(f"{s.name}:", s.groups.astype(str)) for s in sets]),
        strata=np.concatenate([np.char.add(f"{s.name}:", s.strata.astype(str)) for s in sets]),
        emotion_dist=dist,
        skipped=[x for s in sets for x in s.skipped],
        info={"parts": {s.name: len(s) for s in sets}},
    )


# ----------------------------------------------------------------------------- tables


@dataclass
class Table:
    """A parsed delimited text file: header, rows and the file line of each row."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    """File line number (1-based) of each row, for error messages."""
    delimiter: str

    def column(self, name: str) -> int:
        return self.header.index(name)


def _norm_header(name: str) -> str:
    """'[Valence Mean]' / 'Valence.Mean' / ' valence_mean ' -> 'valence_mean'."""
    s = name.strip().strip("[](){}").strip().lower()
    s = re.sub(r"[\s.\-/]+", "_", s)
    return s.strip("_")


def read_table(path: str | Path, *, delimiter: str | None = None) -> Table:
    """Read a CSV / TSV file robustly, or raise :class:`DataError` naming it.

    Handles ``\\r``, ``\\n`` and ``\\r\\n`` line endings, a UTF-8 BOM, cp1252 text, and
    sniffs the separator (tab, comma or semicolon) from the header line. Blank lines are
    dropped; short rows are padded with empty cells.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a CSV file")
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{path}: empty file (expected a CSV with a header row)")
    if b"\x00" in data[:8192]:
        raise DataError(f"{path}: binary file, not a CSV/text table")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise DataError(f"{path}: not a text file (neither UTF-8 nor cp1252)") from None
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    first = next((ln for ln in text.split("\n") if ln.strip()), "")
    if delimiter is None:
        counts = {d: first.count(d) for d in ("\t", ",", ";")}
        delimiter = max(counts, key=counts.get) if max(counts.values()) > 0 else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            if header is None:
                header = [c.strip() for c in row]
                continue
            if len(row) < len(header):
                row = row + [""] * (len(header) - len(row))
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{path}: cannot parse as CSV near line {reader.line_num} ({exc})") from None
    if header is None:
        raise DataError(f"{path}: empty file (expected a CSV with a header row)")
    return Table(path=path, header=header, rows=rows, lines=lines, delimiter=delimiter)


def _find_column(table: Table, aliases: Iterable[str], explicit: str | None = None,
                 *, role: str, required: bool = True) -> int | None:
    """Index of the column for ``role`` (explicit name first, then aliases, case-insensitive)."""
    normed = [_norm_header(h) for h in table.header]
    if explicit is not None:
        key = _norm_header(explicit)
        if key in normed:
            return normed.index(key)
        raise DataError(
            f"{table.path}: column {explicit!r} (given for {role}) not found "
            f"(found: {', '.join(repr(h) for h in table.header)})")
    for alias in aliases:
        key = _norm_header(alias)
        if key in normed:
            return normed.index(key)
    if required:
        raise DataError(
            f"{table.path}: missing column for {role} (looked for {', '.join(list(aliases)[:6])}, ...; "
            f"found: {', '.join(repr(h) for h in table.header)}); name it with columns={{'{role}': ...}}"
            f" or --columns {role}=NAME")
    return None


def _parse_number(table: Table, r: int, c: int, what: str, *, allow_nan: bool) -> float:
    raw = table.rows[r][c].strip()
    if raw.lower() in _NA_STRINGS:
        if allow_nan:
            return math.nan
        raise DataError(f"{table.path}: line {table.lines[r]}: {what} is missing/NaN ({raw!r}) "
                        f"in column {table.header[c]!r}")
    txt = raw
    if table.delimiter == ";" and "," in txt and "." not in txt:
        txt = txt.replace(",", ".")  # European decimal comma
    try:
        val = float(txt)
    except ValueError:
        raise DataError(f"{table.path}: line {table.lines[r]}: {what} {raw!r} in column "
                        f"{table.header[c]!r} is not a number") from None
    if not math.isfinite(val):
        if allow_nan and math.isnan(val):
            return math.nan
        raise DataError(f"{table.path}: line {table.lines[r]}: {what} is {raw!r} in column "
                        f"{table.header[c]!r} (not a finite number)")
    return val


def _check_range(table: Table, r: int, c: int, val: float, scale: Scale, what: str) -> None:
    lo, hi = scale
    tol = 1e-6 * (hi - lo)
    if not math.isnan(val) and (val < lo - tol or val > hi + tol):
        raise DataError(
            f"{table.path}: line {table.lines[r]}: {what} {val:g} in column {table.header[c]!r} "
            f"is outside the scale [{lo:g}, {hi:g}] (give the native scale of this set, "
            f"e.g. scale=(1, 9) / --scale 1,9)")


def _resolve_image(name: str, roots: Sequence[Path]) -> Path | None:
    """The existing file for ``name`` under one of ``roots`` (stray spaces and a missing
    image suffix are tolerated), or None."""
    cands = [name.strip()]
    if name != name.strip():
        cands.append(name)
    if "\\" in name:  # a Windows-style relative path
        cands.append(name.strip().replace("\\", "/"))
    for cand in cands:
        p = Path(cand)
        bases = [p] if p.is_absolute() else [root / p for root in roots]
        for b in bases:
            if b.is_file():
                return b.resolve()
            if not b.suffix or b.suffix.lower() not in IMAGE_SUFFIXES:
                for suf in IMAGE_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES):
                    q = b.with_name(b.name + suf)
                    if q.is_file():
                        return q.resolve()
    return None


def _check_on_missing(on_missing: str) -> None:
    if on_missing not in ("raise", "skip"):
        raise ValueError(f"on_missing must be 'raise' or 'skip', got {on_missing!r}")


def _missing_error(csv_path: Path, missing: list[tuple[int, str]], roots: Sequence[Path]) -> DataError:
    show = ", ".join(f"{name!r} (line {line})" for line, name in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    where = " or ".join(str(r) for r in roots)
    return DataError(
        f"{csv_path}: {len(missing)} image(s) named in the CSV not found under {where}: {show}{more} "
        f"(use on_missing='skip' / --on-missing skip to leave them out)")


# ----------------------------------------------------------------------------- OASIS


def oasis_theme(name: str) -> str:
    """OASIS group of an image: the theme minus its trailing number ('War 2 ' -> 'War')."""
    return re.sub(r"\s*\d+$", "", name.strip()).strip()


def load_oasis(root: str | Path, *, on_missing: str = "raise") -> RatedSet:
    """Load OASIS (Kurdi et al. 2017) from ``root`` (holding ``OASIS.csv`` and ``images/``).

    Valence and arousal (1–7) are human ratings; dominance is missing (see
    :mod:`qdemo.emotion.proxies`). Groups are themes ('Car crash'), strata the Category.
    """
    _check_on_missing(on_missing)
    root = Path(root)
    csv_path = root / "OASIS.csv" if root.is_dir() else root
    if root.is_file():
        root = root.parent
    if not csv_path.exists():
        raise DataError(f"{root}: no OASIS.csv here (expected the OASIS folder with OASIS.csv and images/)")
    img_root = root / "images"
    table = read_table(csv_path)
    c_theme = _find_column(table, ["Theme"], role="theme")
    c_cat = _find_column(table, ["Category"], role="category")
    c_val = _find_column(table, ["Valence_mean"], role="valence")
    c_aro = _find_column(table, ["Arousal_mean"], role="arousal")
    if not table.rows:
        raise DataError(f"{csv_path}: no data rows (only a header)")
    paths, targets, groups, strata, missing, skipped = [], [], [], [], [], []
    seen: dict[str, int] = {}
    for r, row in enumerate(table.rows):
        theme = row[c_theme]
        if not theme.strip():
            raise DataError(f"{csv_path}: line {table.lines[r]}: empty Theme")
        key = theme.strip()
        if key in seen:
            raise DataError(f"{csv_path}: line {table.lines[r]}: duplicate image {key!r} "
                            f"(also on line {seen[key]})")
        seen[key] = table.lines[r]
        v = _parse_number(table, r, c_val, "valence", allow_nan=False)
        a = _parse_number(table, r, c_aro, "arousal", allow_nan=False)
        _check_range(table, r, c_val, v, OASIS, "valence")
        _check_range(table, r, c_aro, a, OASIS, "arousal")
        path = _resolve_image(key + ".jpg", [img_root]) or _resolve_image(key, [img_root])
        if path is None:
            missing.append((table.lines[r], key + ".jpg"))
            skipped.append((key + ".jpg", "image not found"))
            continue
        paths.append(path)
        targets.append([v, a, math.nan])
        groups.append(oasis_theme(theme))
        strata.append(row[c_cat].strip() or "unknown")
    if missing and on_missing == "raise":
        raise _missing_error(csv_path, missing, [img_root])
    t = np.asarray(targets, dtype=np.float64).reshape(-1, 3)
    t[:, :2] = to_canonical(t[:, :2], *OASIS)
    return RatedSet(
        name="oasis", root=root.resolve(), paths=paths, targets=t.astype(np.float32),
        sources={"valence": SOURCE_HUMAN, "arousal": SOURCE_HUMAN, "dominance": SOURCE_MISSING},
        groups=np.asarray(groups, dtype=str), strata=np.asarray(strata, dtype=str),
        skipped=skipped, info={"csv": str(csv_path), "scale": {"valence": OASIS, "arousal": OASIS},
                               "group_by": "theme (name minus trailing number)",
                               "strata_by": "Category"},
    )


# ----------------------------------------------------------------------------- Emotion6


def load_emotion6(root: str | Path, *, on_missing: str = "raise") -> RatedSet:
    """Load Cornell Emotion6 (Peng et al. 2015) from ``root`` (``ground_truth.txt``, ``images/``).

    Valence and arousal (1–9) are human ratings, plus the 7-way emotion distribution.
    Groups are the image paths (no two images share a scene), strata the folder.
    """
    _check_on_missing(on_missing)
    root = Path(root)
    gt = root / "ground_truth.txt" if root.is_dir() else root
    if root.is_file():
        root = root.parent
    if not gt.exists():
        raise DataError(f"{root}: no ground_truth.txt here (expected the Emotion6 folder)")
    img_root = root / "images"
    table = read_table(gt)
    c_file = _find_column(table, ["image_filename", "filename", "image", "file"], role="file")
    c_val = _find_column(table, ["valence"], role="valence")
    c_aro = _find_column(table, ["arousal"], role="arousal")
    normed = [_norm_header(h) for h in table.header]
    c_emo = []
    for emo in EMOTIONS:
        hits = [i for i, h in enumerate(normed) if re.search(rf"(^|_){emo}($|_)", h)]
        if not hits:
            raise DataError(f"{gt}: missing column for the probability of {emo!r} "
                            f"(found: {', '.join(repr(h) for h in table.header)})")
        c_emo.append(hits[0])
    if not table.rows:
        raise DataError(f"{gt}: no data rows (only a header)")
    paths, targets, dists, groups, strata, missing, skipped = [], [], [], [], [], [], []
    seen: dict[str, int] = {}
    for r, row in enumerate(table.rows):
        rel = row[c_file].strip().replace("\\", "/")
        if not rel:
            raise DataError(f"{gt}: line {table.lines[r]}: empty image file name")
        if rel in seen:
            raise DataError(f"{gt}: line {table.lines[r]}: duplicate image {rel!r} (also on line {seen[rel]})")
        seen[rel] = table.lines[r]
        v = _parse_number(table, r, c_val, "valence", allow_nan=False)
        a = _parse_number(table, r, c_aro, "arousal", allow_nan=False)
        _check_range(table, r, c_val, v, EMOTION6, "valence")
        _check_range(table, r, c_aro, a, EMOTION6, "arousal")
        p = np.array([_parse_number(table, r, c, f"probability of {e}", allow_nan=False)
                      for c, e in zip(c_emo, EMOTIONS)])
        if (p < -1e-6).any() or (p > 1 + 1e-6).any() or abs(p.sum() - 1.0) > 0.02:
            raise DataError(f"{gt}: line {table.lines[r]}: emotion distribution {p.round(3).tolist()} "
                            f"is not a probability distribution (sum {p.sum():.3f})")
        p = np.clip(p, 0, None)
        p = p / p.sum()
        path = _resolve_image(rel, [img_root])
        if path is None:
            missing.append((table.lines[r], rel))
            skipped.append((rel, "image not found"))
            continue
        paths.append(path)
        targets.append([v, a, math.nan])
        dists.append(p)
        groups.append(rel)
        strata.append(rel.split("/")[0] if "/" in rel else "unknown")
    if missing and on_missing == "raise":
        raise _missing_error(gt, missing, [img_root])
    t = np.asarray(targets, dtype=np.float64).reshape(-1, 3)
    t[:, :2] = to_canonical(t[:, :2], *EMOTION6)
    return RatedSet(
        name="emotion6", root=root.resolve(), paths=paths, targets=t.astype(np.float32),
        sources={"valence": SOURCE_HUMAN, "arousal": SOURCE_HUMAN, "dominance": SOURCE_MISSING},
        groups=np.asarray(groups, dtype=str), strata=np.asarray(strata, dtype=str),
        emotion_dist=np.asarray(dists, dtype=np.float32).reshape(-1, len(EMOTIONS)),
        skipped=skipped, info={"csv": str(gt), "scale": {"valence": EMOTION6, "arousal": EMOTION6},
                               "group_by": "image", "strata_by": "folder"},
    )


# ----------------------------------------------------------------------------- user CSV

FILE_ALIASES = ("file", "filename", "file_name", "image", "image_file", "image_filename", "image_name",
                "image_path", "imagepath", "path", "img", "picture", "stimulus", "stim", "name", "photo",
                "theme")
VALENCE_ALIASES = ("valence", "valence_mean", "valence_m", "mean_valence", "val", "valmn", "val_mn",
                   "v_mean", "v_mean_sum", "v", "pleasure", "pleasantness")
AROUSAL_ALIASES = ("arousal", "arousal_mean", "arousal_m", "mean_arousal", "aro", "aromn", "aro_mn",
                   "a_mean", "a_mean_sum", "a", "activation")
DOMINANCE_ALIASES = ("dominance", "dominance_mean", "dominance_m", "mean_dominance", "dom", "dommn",
                     "dom1mn", "dom_mn", "d_mean", "d_mean_sum", "d", "control", "potency")
GROUP_ALIASES = ("group", "groups", "theme_group", "scene", "cluster")
STRATUM_ALIASES = ("stratum", "strata", "category", "class", "folder", "label")
ALIASES: dict[str, tuple[str, ...]] = {
    "file": FILE_ALIASES, "valence": VALENCE_ALIASES, "arousal": AROUSAL_ALIASES,
    "dominance": DOMINANCE_ALIASES, "group": GROUP_ALIASES, "stratum": STRATUM_ALIASES,
}
"""Column names recognised (case-insensitively, ignoring spaces, dots, dashes) per role."""


def _scales_per_dim(scale: Any) -> dict[str, Scale]:
    if scale is None:
        raise DataError("the native rating scale of a CSV set must be given (scale=(lo, hi), "
                        "e.g. (1, 9) for SAM, (1, 7) for OASIS, (0, 1); CLI: --scale 1,9)")
    if isinstance(scale, Mapping):
        out = {}
        for d, s in scale.items():
            if d not in DIMS:
                raise DataError(f"scale given for unknown dimension {d!r} (expected one of {', '.join(DIMS)})")
            out[d] = parse_scale(s)
        return out
    try:
        s = parse_scale(scale)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    return {d: s for d in DIMS}


def load_csv(csv_path: str | Path, *, image_root: str | Path | None = None,
             scale: Any = None, columns: Mapping[str, str] | None = None,
             on_missing: str = "raise", on_nan: str = "raise", name: str | None = None,
             delimiter: str | None = None) -> RatedSet:
    """Load a user's rated set: a CSV naming each image and any of valence/arousal/dominance.

    Args:
        csv_path: the ratings table (comma, tab or semicolon separated; any line endings).
        image_root: folder the file names are relative to (default: the CSV's folder, then
            its ``images/`` sub-folder). Names without a suffix are tried with image suffixes.
        scale: native rating scale, required: ``(lo, hi)``, ``"1,9"``, a name such as
            ``"sam"`` / ``"oasis"``, or a dict per dimension.
        columns: explicit column names per role (``file``, ``valence``, ``arousal``,
            ``dominance``, ``group``, ``stratum``); other roles are found by alias
            (:data:`ALIASES`). A CSV needs a file column and at least one dimension.
        on_missing: ``"raise"`` (default) if a named image is absent, or ``"skip"`` it
            (reported in ``skipped`` with a count).
        on_nan: ``"raise"`` (default) on an empty/NaN rating, or ``"mask"`` it (the
            dimension is then masked for that image only).
        name: the set's name (default: the CSV's stem).

    Groups default to the image (each its own group); strata to the image's sub-folder.
    """
    _check_on_missing(on_missing)
    if on_nan not in ("raise", "mask"):
        raise ValueError(f"on_nan must be 'raise' or 'mask', got {on_nan!r}")
    csv_path = Path(csv_path)
    scales = _scales_per_dim(scale)
    columns = dict(columns or {})
    unknown = set(columns) - set(ALIASES)
    if unknown:
        raise DataError(f"unknown column role(s) {sorted(unknown)} (expected {', '.join(ALIASES)})")
    table = read_table(csv_path, delimiter=delimiter)
    if len(table.header) < 2:
        raise DataError(
            f"{csv_path}: found a single column ({table.header[0]!r}); expected a CSV table with a "
            f"file column and valence/arousal/dominance columns separated by commas, tabs or semicolons")
    c_file = _find_column(table, FILE_ALIASES, columns.get("file"), role="file")
    c_dim: dict[str, int] = {}
    for d in DIMS:
        c = _find_column(table, ALIASES[d], columns.get(d), role=d, required=False)
        if c is not None and c != c_file:
            c_dim[d] = c
    no_scale = [d for d in c_dim if d not in scales]
    if no_scale:
        raise DataError(f"{csv_path}: no rating scale given for {', '.join(no_scale)} "
                        f"(scales given for: {', '.join(scales) or 'none'})")
    if not c_dim:
        raise DataError(
            f"{csv_path}: no valence, arousal or dominance column (found: "
            f"{', '.join(repr(h) for h in table.header)}); name them with columns={{'valence': ...}} "
            f"or --columns valence=NAME")
    used = {c_file, *c_dim.values()}
    c_group = _find_column(table, GROUP_ALIASES, columns.get("group"), role="group", required=False)
    c_strat = _find_column(table, STRATUM_ALIASES, columns.get("stratum"), role="stratum", required=False)
    c_group = None if c_group in used else c_group
    c_strat = None if c_strat in used else c_strat
    if not table.rows:
        raise DataError(f"{csv_path}: no data rows (only a header)")
    roots: list[Path] = [Path(image_root)] if image_root is not None else [csv_path.parent, csv_path.parent / "images"]
    if image_root is not None and not roots[0].is_dir():
        raise DataError(f"{image_root}: image folder not found")

    paths, targets, groups, strata, missing, skipped = [], [], [], [], [], []
    seen: dict[str, int] = {}
    for r, row in enumerate(table.rows):
        fname = row[c_file]
        if not fname.strip():
            raise DataError(f"{csv_path}: line {table.lines[r]}: empty file name in column "
                            f"{table.header[c_file]!r}")
        key = fname.strip()
        if key in seen:
            raise DataError(f"{csv_path}: line {table.lines[r]}: duplicate image {key!r} "
                            f"(also on line {seen[key]})")
        seen[key] = table.lines[r]
        t = [math.nan] * len(DIMS)
        for j, d in enumerate(DIMS):
            if d in c_dim:
                val = _parse_number(table, r, c_dim[d], d, allow_nan=on_nan == "mask")
                _check_range(table, r, c_dim[d], val, scales[d], d)
                t[j] = float(to_canonical(val, *scales[d])) if not math.isnan(val) else math.nan
        path = _resolve_image(fname, roots)
        if path is None:
            missing.append((table.lines[r], key))
            skipped.append((key, "image not found"))
            continue
        paths.append(path)
        targets.append(t)
        groups.append(row[c_group].strip() if c_group is not None and row[c_group].strip() else str(path))
        if c_strat is not None:
            strata.append(row[c_strat].strip() or "unknown")
        else:
            rel = Path(key)
            strata.append(rel.parent.as_posix() if rel.parent.as_posix() not in ("", ".") else "all")
    if missing and on_missing == "raise":
        raise _missing_error(csv_path, missing, roots)
    if not paths:
        raise DataError(f"{csv_path}: none of the {len(table.rows)} images named in the CSV were found "
                        f"under {' or '.join(str(r) for r in roots)}")
    return RatedSet(
        name=name or csv_path.stem, root=(roots[0]).resolve(), paths=paths,
        targets=np.asarray(targets, dtype=np.float32).reshape(-1, 3),
        sources={d: (SOURCE_HUMAN if d in c_dim else SOURCE_MISSING) for d in DIMS},
        groups=np.asarray(groups, dtype=str), strata=np.asarray(strata, dtype=str),
        skipped=skipped,
        info={"csv": str(csv_path), "scale": {d: scales[d] for d in c_dim},
              "columns": {d: table.header[c] for d, c in [("file", c_file), *c_dim.items()]},
              "group_by": table.header[c_group] if c_group is not None else "image",
              "strata_by": table.header[c_strat] if c_strat is not None else "sub-folder"},
    )


def parse_columns(spec: str | Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Column roles from a CLI string: ``"file=Image,valence=Val"`` (or a list of
    ``role=NAME`` items, or a dict) -> ``{"file": "Image", "valence": "Val"}``."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        parts = spec.split(",") if isinstance(spec, str) else [x for s in spec for x in str(s).split(",")]
        items = []
        for part in parts:
            if not part.strip():
                continue
            if "=" not in part:
                raise DataError(f"--columns: {part!r} is not role=NAME (roles: {', '.join(ALIASES)})")
            role, name = part.split("=", 1)
            items.append((role.strip().lower(), name.strip()))
    out = {}
    for role, name in items:
        if role not in ALIASES:
            raise DataError(f"--columns: unknown role {role!r} (roles: {', '.join(ALIASES)})")
        out[role] = name
    return out


# ----------------------------------------------------------------------------- dispatch

FORMATS = ("auto", "oasis", "emotion6", "csv")


def detect_format(path: str | Path) -> str:
    """'oasis', 'emotion6' or 'csv' from what is at ``path``."""
    path = Path(path)
    if path.is_dir():
        if (path / "OASIS.csv").exists():
            return "oasis"
        if (path / "ground_truth.txt").exists():
            return "emotion6"
        raise DataError(f"{path}: cannot tell the format (no OASIS.csv or ground_truth.txt; "
                        f"for your own set pass the CSV file and format='csv')")
    if path.name.lower() == "oasis.csv":
        return "oasis"
    if path.name.lower() == "ground_truth.txt":
        return "emotion6"
    return "csv"


def load_dataset(path: str | Path, format: str = "auto", **kw: Any) -> RatedSet:
    """Load a rated set: ``format`` is 'oasis', 'emotion6', 'csv' or 'auto' (detect).

    Keyword arguments go to the loader (``on_missing``; for CSV ``scale``,
    ``columns``, ``image_root``, ``on_nan``, ``name``).
    """
    fmt = (format or "auto").lower()
    if fmt not in FORMATS:
        raise DataError(f"unknown dataset format {format!r} (expected one of {', '.join(FORMATS)})")
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "oasis":
        return load_oasis(path, **kw)
    if fmt == "emotion6":
        return load_emotion6(path, **kw)
    if path.is_dir():
        csvs = sorted(p for p in path.iterdir() if p.suffix.lower() in (".csv", ".tsv", ".txt"))
        if len(csvs) != 1:
            raise DataError(f"{path}: format 'csv' needs the CSV file itself "
                            f"(found {len(csvs)} candidate tables here)")
        path = csvs[0]
    return load_csv(path, **kw)


# ----------------------------------------------------------------------------- images


def verify_images(rated_set: RatedSet, *, on_error: str = "raise", progress: bool | None = None) -> RatedSet:
    """Open every image once (via :func:`qdemo.io.open_rgb`) and report unusable ones.

    ``on_error="raise"`` raises one :class:`DataError` listing the bad files (corrupt,
    non-image, unreadable); ``"skip"`` returns the set without them, each recorded in
    ``skipped`` with its reason. Grayscale, CMYK and alpha images are fine (converted).
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    from tqdm.auto import tqdm

    if progress is None:
        progress = len(rated_set) >= 200
    bad: list[tuple[int, str]] = []
    for i, p in enumerate(tqdm(rated_set.paths, desc=f"checking {rated_set.name} images",
                               disable=not progress, unit="img")):
        try:
            open_rgb(p)
        except DataError as exc:
            bad.append((i, str(exc)))
    if not bad:
        return rated_set
    if on_error == "raise":
        show = "; ".join(msg for _, msg in bad[:5])
        more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise DataError(f"{rated_set.name}: {len(bad)} of {len(rated_set)} images unusable: {show}{more} "
                        f"(use on_error='skip' / --on-bad-image skip to leave them out)")
    keep = np.ones(len(rated_set), dtype=bool)
    keep[[i for i, _ in bad]] = False
    out = rated_set.subset(keep)
    out.skipped = list(rated_set.skipped) + [
        (str(rated_set.paths[i]), msg.split(": ", 1)[-1] if msg.startswith(str(rated_set.paths[i])) else msg)
        for i, msg in bad]
    return out


def load_image_array(paths: Sequence[str | Path], size: int, *, fit: str = "resize",
                     cache_dir: str | Path | None = None, progress: bool | None = None) -> np.ndarray:
    """All images as one uint8 array ``(N, 3, size, size)`` (for training and frozen features).

    ``fit="resize"`` squashes the whole image to a square (what
    :meth:`EmotionModel.prepare` does to any input); ``"center_crop"`` resizes the short
    side to ``size`` and crops the centre. Images go through :func:`qdemo.io.open_rgb`
    (grayscale, CMYK, alpha handled; a corrupt file raises :class:`DataError` naming it).
    With ``cache_dir`` the array is saved as ``.npy`` keyed by the paths, their sizes and
    modification times, so a second call loads it (atomic write).
    """
    import hashlib

    from PIL import Image
    from tqdm.auto import tqdm

    if fit not in ("resize", "center_crop"):
        raise ValueError(f"fit must be 'resize' or 'center_crop', got {fit!r}")
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    cache = None
    if cache_dir is not None:
        from qdemo.io import hash_files_state

        h = hashlib.sha256(f"{size}|{fit}".encode())
        hash_files_state(h, paths)
        cache = Path(cache_dir) / f"images-{size}-{fit}-{h.hexdigest()[:16]}.npy"
        if cache.exists():
            arr = np.load(cache)
            if arr.shape == (len(paths), 3, size, size) and arr.dtype == np.uint8:
                return arr
    out = np.empty((len(paths), 3, size, size), dtype=np.uint8)
    if progress is None:
        progress = len(paths) >= 200
    for i, p in enumerate(tqdm(paths, desc=f"loading images at {size}px", unit="img", disable=not progress)):
        im = open_rgb(p)
        if fit == "center_crop":
            w, h = im.size
            s = size / min(w, h)
            im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BICUBIC)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            im = im.crop((left, top, left + size, top + size))
        else:
            im = im.resize((size, size), Image.BICUBIC)
        out[i] = np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)  # (3, size, size)
    if cache is not None:
        from qdemo.io import atomic_path

        with atomic_path(cache) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, out)
    return out


__all__ = [
    "ALIASES", "EMOTIONS", "FORMATS", "RatedSet", "Table", "concat_sets", "detect_format",
    "load_csv", "load_dataset", "load_emotion6", "load_image_array", "load_oasis", "oasis_theme",
    "parse_columns", "read_table",
    "verify_images",
]
