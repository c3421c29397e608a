"""Resumable checkpoints of an explorer run, ``<run>/checkpoint/`` (qdemo's own format).

    save_search(run_dir, search)     # every checkpoint_every iterations and on Ctrl-C
    load_search(run_dir, search)     # --resume: the explorer continues where it stopped

pyribs has no save/load API, so the explorer's whole state (the scheduler with its archives,
emitters, CMA-ES state and every numpy random generator, plus the explorer's counters,
:meth:`qdemo.qd.explorer.Explorer.state`) is stored as a state file
(:mod:`qdemo.runfolder.statefile`): ``checkpoint/state.npz``, a zip of ``state.json`` (plain
values) and ``arrays/<n>.npy`` (numpy arrays, read with ``allow_pickle=False``). It cannot
execute anything or allocate more than its own size: on ``--resume`` the search is first
built from the run's ``config.yaml`` and the file only fills in the values of that fresh
search's own objects (a class, type or module is never taken from the file).

``checkpoint/meta.json`` says, for people, which iteration it holds. Writes are atomic
(temporary file + rename), so an interrupted save leaves the previous checkpoint intact. A
checkpoint only resumes a search with the same :data:`SEARCH_KEYS` of the config, renderer
size and searcher weights. A checkpoint of the old pickle format (``state.bin``) is refused
with a message: it is not read, since a pickle can run code.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from pathlib import Path
from typing import Any

from qdemo.config import to_dict
from qdemo.emotion.zoo import model_sha256
from qdemo.errors import CheckpointError
from qdemo.io import atomic_write_bytes, atomic_write_json
from qdemo.qd.build import Search
from qdemo.qd.config import EvolveConfig
from qdemo.runfolder.schema import CHECKPOINT
from qdemo.runfolder.statefile import StateFileError, load_state, save_state

STATE = "state.npz"
OLD_STATE = "state.bin"
"""The pickle-based checkpoint of qdemo before issue 25 (refused)."""
MAX_STATE_BYTES = 8 << 30
"""Largest checkpoint file read (8 GiB): more is refused before it is read."""
SEARCH_KEYS = ("seed", "batch_size", "searcher", "grid", "renderer", "emitter", "objective")
"""Config fields that define the search itself: a checkpoint only resumes under the same ones."""


def save_checkpoint(folder: str | Path, state: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write ``state`` (a state file) and ``meta`` (JSON, for people) atomically."""
    folder = Path(folder)
    try:
        data = save_state(state)
    except StateFileError as exc:  # a pyribs object this format does not know: a bug to report
        raise CheckpointError(f"{folder / STATE}: cannot write the checkpoint ({exc})") from None
    atomic_write_bytes(folder / STATE, data)
    atomic_write_json(folder / "meta.json", {**meta, "format": "state.npz", "sha256": hashlib.sha256(data).hexdigest()})
    (folder / OLD_STATE).unlink(missing_ok=True)  # a resumed old run now has a checkpoint of the new format
    return folder / STATE


def load_checkpoint(folder: str | Path, template: dict[str, Any], *, only: tuple[str, ...] | None = None
                    ) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` along ``template`` (the state of the
    same search freshly built; ``only``: just these top-level keys); CheckpointError naming the
    file for anything that does not fit."""
    path = Path(folder) / STATE
    if not path.exists():
        if (Path(folder) / OLD_STATE).exists():
            raise CheckpointError(
                f"{Path(folder) / OLD_STATE}: a checkpoint of the old pickle format is not read any more (a pickle "
                "can run code); start the run again, or finish it with the qdemo version that wrote it")
        raise CheckpointError(f"{path}: no checkpoint here (nothing to resume)")
    size = path.stat().st_size
    if size > MAX_STATE_BYTES:
        raise CheckpointError(f"{path}: {size} bytes, more than a checkpoint holds ({MAX_STATE_BYTES})")
    try:
        state = load_state(path.read_bytes(), template, str(path), only=only)
    except StateFileError as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(state, dict) or not set(only or template) <= set(state):
        raise CheckpointError(f"{path}: checkpoint does not hold an explorer state")
    return state


def search_key(config: EvolveConfig) -> dict[str, Any]:
    """The config's :data:`SEARCH_KEYS` as plain data."""
    d = to_dict(config)
    return {k: d[k] for k in SEARCH_KEYS}


def _identity(search: Search) -> dict[str, Any]:
    """What a checkpoint must match before its explorer state is read: config, searcher, size."""
    return {"search": search_key(search.config), "searcher_sha256": model_sha256(search.searcher),
            "solution_dim": int(search.renderer.solution_dim)}


def save_search(run_dir: str | Path, search: Search) -> Path:
    """Checkpoint ``search``'s explorer into ``run_dir/checkpoint``."""
    ex = search.explorer
    meta = {"iteration": ex.iteration, "evaluations": ex.evaluations,
            "saved": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return save_checkpoint(Path(run_dir) / CHECKPOINT, {**_identity(search), "explorer": ex.state()}, meta)


def load_search(run_dir: str | Path, search: Search) -> None:
    """Continue ``search``'s explorer from ``run_dir/checkpoint``; CheckpointError when the
    checkpoint belongs to another search (config, renderer size or searcher)."""
    folder = Path(run_dir) / CHECKPOINT
    new = _identity(search)
    # The identity first, read as plain data, so that another search is named as such ...
    head = load_checkpoint(folder, new, only=tuple(new))
    if head.get("search") != new["search"]:
        old = head.get("search") if isinstance(head.get("search"), dict) else {}
        diff = [k for k in SEARCH_KEYS if old.get(k) != new["search"].get(k)]
        raise CheckpointError(f"{folder}: written with a different configuration "
                              f"({', '.join(diff) or 'unknown'} differ); resume with the run's own config.yaml")
    if head.get("solution_dim") != new["solution_dim"]:
        raise CheckpointError(f"{folder}: solution size {head.get('solution_dim')} does not match the renderer")
    if head.get("searcher_sha256") != new["searcher_sha256"]:
        raise CheckpointError(f"{folder}: the searcher's weights differ from the ones this run started with "
                              f"(e.g. a run from before the calibrated v2 models, whose cells are on another "
                              f"scale): its cells cannot be continued; start a new run, or re-judge it "
                              f"(qdemo evolve --resume {run_dir} --searcher PATH --rejudge)")
    # ... then the explorer, along the state of this freshly built search.
    state = load_checkpoint(folder, {**new, "explorer": search.explorer.state()})
    search.explorer.load_state(state["explorer"])
