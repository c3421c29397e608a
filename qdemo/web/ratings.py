"""SAM rating storage: stimulus sets, per-participant orders and the SQLite database.

The database (``--db ratings.sqlite``) runs in WAL mode; each rating is committed the
moment it is given. One row per (participant, stimulus), enforced by a UNIQUE constraint:
giving a rating again (the participant went back) updates that row and counts a revision,
it never adds a second one. Every statement is parameterised.

Tables: ``meta`` (key/value: schema version, stimulus folder and a fingerprint of its
stimulus ids, study seed), ``participants`` (the stored presentation order of each
participant, so a resumed session continues the same order) and ``ratings``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from qdemo.errors import DataError
from qdemo.tables import read_output_table, table_text
from qdemo.web.params import ParamError, parse_whole, shown
from qdemo.web.safepath import PathRefused, resolve_under

SCHEMA_VERSION = "1"
DIMS = ("valence", "arousal", "dominance")
PARTICIPANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Participant ids: 1-64 characters, letters, digits, ``_ . -`` (not starting with a symbol)."""
STIMULUS_ID_RE = re.compile(r"[^\x00-\x1f]{1,200}")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS participants (
    participant    TEXT PRIMARY KEY,
    seed           INTEGER NOT NULL,
    stimulus_order TEXT NOT NULL,
    created        TEXT NOT NULL,
    updated        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ratings (
    id          INTEGER PRIMARY KEY,
    participant TEXT NOT NULL REFERENCES participants(participant),
    stimulus_id TEXT NOT NULL,
    position    INTEGER NOT NULL,
    valence     INTEGER NOT NULL CHECK (valence BETWEEN 1 AND 9),
    arousal     INTEGER NOT NULL CHECK (arousal BETWEEN 1 AND 9),
    dominance   INTEGER NOT NULL CHECK (dominance BETWEEN 1 AND 9),
    rt_ms       REAL,
    created     TEXT NOT NULL,
    updated     TEXT NOT NULL,
    revisions   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (participant, stimulus_id)
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Stimulus:
    """One image of a study: its (blinded) id and its real path inside the stimulus folder."""

    id: str
    path: Path


def load_stimuli(folder: str | os.PathLike) -> list[Stimulus]:
    """The stimuli of ``folder``: ``stimuli.csv`` (``qdemo export-study``) or all its images.

    Every file must lie inside ``folder`` (no ``..``, no absolute paths, no escaping
    symlinks) and exist; ``key.csv`` is never read here (raters must not see it).
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: stimulus folder not found")
    listing = root / "stimuli.csv"
    out: list[Stimulus] = []
    if listing.is_file():
        table = read_output_table(listing, required=("stimulus_id", "file"))
        seen: set[str] = set()
        for lineno, row in zip(table.lines, table.dicts()):
            sid, rel = row["stimulus_id"].strip(), row["file"].strip()
            if not sid or not STIMULUS_ID_RE.fullmatch(sid):
                raise DataError(f"{listing}: line {lineno}: invalid stimulus_id {sid!r}")
            if sid in seen:
                raise DataError(f"{listing}: line {lineno}: duplicate stimulus_id {sid!r}")
            seen.add(sid)
            try:
                path = resolve_under(root, rel.replace("\\", "/"), decoded=True)
            except PathRefused as exc:
                raise DataError(f"{listing}: line {lineno}: file {rel!r} refused ({exc})") from None
            except FileNotFoundError:
                raise DataError(f"{listing}: line {lineno}: file {rel!r} not found under {root}") from None
            out.append(Stimulus(sid, path))
    else:
        real_root = Path(os.path.realpath(root))
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root).as_posix()
            if any(part.startswith(".") for part in p.relative_to(root).parts):
                continue
            if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                path = resolve_under(real_root, rel, decoded=True)
            except (PathRefused, FileNotFoundError):
                continue  # a symlink leading out of the folder: not part of the study
            out.append(Stimulus(rel, path))
    if not out:
        raise DataError(f"{root}: no stimuli (no stimuli.csv and no images)")
    return out


def stimulus_fingerprint(ids: list[str]) -> str:
    """SHA-256 of the sorted stimulus ids: identifies a stimulus set in the database."""
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8")).hexdigest()


def participant_order(ids: list[str], seed: int, participant: str) -> tuple[int, list[str]]:
    """The blinded random order for ``participant``: seeded by (study seed, participant id)."""
    digest = hashlib.sha256(f"qdemo-rate:{seed}:{participant}".encode("utf-8")).digest()
    pseed = int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)
    order = list(ids)
    random.Random(pseed).shuffle(order)
    return pseed, order


class RatingError(ParamError):
    """A rating that cannot be stored (the message says why); the server sends it as HTTP 400."""


def check_participant(value: Any) -> str:
    if not isinstance(value, str) or not PARTICIPANT_RE.fullmatch(value):
        raise RatingError(
            "participant id must be 1-64 characters: letters, digits, '_', '.', '-' "
            f"(starting with a letter or digit); got {shown(value)}"
        )
    return value


def check_score(name: str, value: Any) -> int:
    """A SAM score: a whole point 1..9 given as an integer (not a string, bool, ``5.0`` or ``4.5``)."""
    try:
        return parse_whole(value, name, 1, 9)
    except ParamError as exc:
        raise RatingError(str(exc)) from None


class RatingStore:
    """The ratings database. Thread-safe (one connection, one lock); WAL; parameterised SQL."""

    def __init__(self, path: str | os.PathLike, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise DataError(f"{self.path}: ratings database not found")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self.conn = sqlite3.connect(
                str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self.conn.row_factory = sqlite3.Row
            if create:
                mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise DataError(f"{self.path}: cannot switch SQLite to WAL mode (got {mode})")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA busy_timeout=30000")
            if create:
                self.conn.executescript(_SCHEMA)
                self.conn.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                )
            else:
                tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if "ratings" not in tables:
                    raise DataError(f"{self.path}: not a qdemo ratings database (no 'ratings' table)")
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{self.path}: not a usable SQLite database ({exc})") from None

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    # -- study metadata ------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        with self._lock:
            return {r["key"]: r["value"] for r in self.conn.execute("SELECT key, value FROM meta")}

    def bind_study(self, stimuli_dir: Path, ids: list[str], seed: int) -> None:
        """Record (or check) which stimulus set and seed this database belongs to."""
        fp = stimulus_fingerprint(ids)
        with self._lock:
            m = self.meta()
            if "stimulus_set" in m and m["stimulus_set"] != fp:
                raise DataError(
                    f"{self.path}: this database holds ratings of another stimulus set "
                    f"(folder {m.get('stimuli_dir', '?')}, {m.get('n_stimuli', '?')} stimuli); "
                    f"use a new --db for {stimuli_dir}"
                )
            if "seed" in m and m["seed"] != str(seed):
                raise DataError(
                    f"{self.path}: this study was started with --seed {m['seed']}, not {seed} "
                    "(participants' orders would change)"
                )
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for k, v in (("stimulus_set", fp), ("stimuli_dir", str(Path(stimuli_dir).resolve())),
                             ("n_stimuli", str(len(ids))), ("seed", str(seed))):
                    self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (k, v))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    # -- participants --------------------------------------------------------------------------
    def session(self, participant: str, ids: list[str], seed: int) -> tuple[list[str], bool]:
        """(order, resumed): the participant's stored order, created on first visit."""
        check_participant(participant)
        with self._lock:
            row = self.conn.execute(
                "SELECT stimulus_order FROM participants WHERE participant = ?", (participant,)
            ).fetchone()
            if row is not None:
                return json.loads(row["stimulus_order"]), True
            pseed, order = participant_order(ids, seed, participant)
            now = _now()
            self.conn.execute(
                "INSERT INTO participants(participant, seed, stimulus_order, created, updated) "
                "VALUES (?, ?, ?, ?, ?)",
                (participant, pseed, json.dumps(order), now, now),
            )
            return order, False

    def order(self, participant: str) -> list[str] | None:
        with self._lock:
            row = self.conn.execute(
                "SELECT stimulus_order FROM participants WHERE participant = ?", (participant,)
            ).fetchone()
        return None if row is None else json.loads(row["stimulus_order"])

    # -- ratings -------------------------------------------------------------------------------
    def rate(self, participant: str, stimulus_id: str, position: int, scores: dict[str, int],
             rt_ms: float | None = None) -> bool:
        """Store one rating now (commit); True if new, False if it replaced an earlier one."""
        vals = [check_score(d, scores.get(d)) for d in DIMS]
        now = _now()
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                cur = self.conn.execute(
                    "SELECT id FROM ratings WHERE participant = ? AND stimulus_id = ?",
                    (participant, stimulus_id),
                ).fetchone()
                self.conn.execute(
                    "INSERT INTO ratings(participant, stimulus_id, position, valence, arousal, dominance, "
                    "rt_ms, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(participant, stimulus_id) DO UPDATE SET "
                    "valence = excluded.valence, arousal = excluded.arousal, dominance = excluded.dominance, "
                    "rt_ms = excluded.rt_ms, updated = excluded.updated, revisions = ratings.revisions + 1",
                    (participant, stimulus_id, int(position), *vals, rt_ms, now, now),
                )
                self.conn.execute("UPDATE participants SET updated = ? WHERE participant = ?", (now, participant))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return cur is None

    def ratings_of(self, participant: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT stimulus_id, valence, arousal, dominance FROM ratings WHERE participant = ?",
                (participant,),
            ).fetchall()
        return {r["stimulus_id"]: {d: r[d] for d in DIMS} for r in rows}

    def count(self) -> int:
        with self._lock:
            return int(self.conn.execute("SELECT COUNT(*) FROM ratings").fetchone()[0])

    def all_ratings(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.conn.execute(
                "SELECT participant, stimulus_id, position, valence, arousal, dominance, rt_ms, "
                "created, updated, revisions FROM ratings ORDER BY participant, position"
            ).fetchall()
        return [dict(r) for r in rows]


EXPORT_COLUMNS = (
    "participant", "stimulus_id", "position", "valence", "arousal", "dominance",
    "valence_canonical", "arousal_canonical", "dominance_canonical", "rt_ms", "created", "updated", "revisions",
)


def export_csv(db: str | os.PathLike, out: str | os.PathLike) -> int:
    """Write every rating of ``db`` to ``out`` (CSV, atomically); returns the number of rows.

    ``valence``/``arousal``/``dominance`` are the SAM 1-9 answers; ``*_canonical`` the same
    on [-1, 1] by ``(x - 5) / 4``.
    """
    from qdemo.emotion.scale import SAM, to_canonical
    from qdemo.io import atomic_write_text

    store = RatingStore(db, create=False)
    try:
        rows = store.all_ratings()
    finally:
        store.close()
    lines = []
    for r in rows:
        canon = [float(to_canonical(r[d], *SAM)) for d in DIMS]  # (x - 5) / 4
        lines.append([r["participant"], r["stimulus_id"], r["position"], r["valence"], r["arousal"],
                      r["dominance"], *canon, "" if r["rt_ms"] is None else round(r["rt_ms"], 1),
                      r["created"], r["updated"], r["revisions"]])
    atomic_write_text(out, table_text(EXPORT_COLUMNS, lines))
    return len(rows)


__all__ = [
    "DIMS", "EXPORT_COLUMNS", "RatingError", "RatingStore", "Stimulus", "check_participant",
    "check_score", "export_csv", "load_stimuli", "participant_order", "stimulus_fingerprint",
]
