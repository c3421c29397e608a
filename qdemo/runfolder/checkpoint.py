"""Resumable checkpoints of an explorer run, ``<run>/checkpoint/`` (qdemo's own format).

    save_search(run_dir, search)     # every checkpoint_every iterations and on Ctrl-C
    load_search(run_dir, search)     # --resume: the explorer continues where it stopped

pyribs has no save/load API, so the whole scheduler (archives, emitters, CMA-ES state,
every numpy random generator) is pickled together with the explorer's counters
(:meth:`qdemo.qd.explorer.Explorer.state`). The file is never unpickled blindly:

* ``checkpoint/state.bin`` starts with a header line ``QDEMO-CHECKPOINT 1 <sha256>``;
  the SHA-256 of the payload is verified before anything is unpickled, so a truncated,
  corrupt or foreign file is a :class:`CheckpointError`;
* the payload is then read with a restricted unpickler that only resolves numpy's array
  and random-generator reconstructors and classes (never functions) from ``ribs`` and
  ``qdemo.qd``, and a few plain builtins; any other global (``os.system``, ``builtins.eval``, ...) is refused.

Writes are atomic (temporary file + rename), so an interrupted save leaves the previous
checkpoint intact. A checkpoint only resumes a search with the same :data:`SEARCH_KEYS` of
the config, renderer size and searcher weights.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from qdemo.config import to_dict
from qdemo.errors import CheckpointError
from qdemo.io import atomic_write_bytes, atomic_write_json
from qdemo.qd.build import Search
from qdemo.qd.config import EvolveConfig
from qdemo.emotion.zoo import model_sha256
from qdemo.runfolder.schema import CHECKPOINT

MAGIC = b"QDEMO-CHECKPOINT 1 "
STATE = "state.bin"
SEARCH_KEYS = ("seed", "batch_size", "searcher", "grid", "renderer", "emitter", "objective")
"""Config fields that define the search itself: a checkpoint only resumes under the same ones."""

_NUMPY_ALLOWED = {
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__bit_generator_ctor"), ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pcg64", "PCG64"), ("numpy.random._mt19937", "MT19937"),
    ("numpy.random.bit_generator", "SeedSequence"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
}
_BUILTINS_ALLOWED = {"set", "frozenset", "slice", "complex", "range", "bytearray", "tuple", "list", "dict"}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_ALLOWED:
            return super().find_class(module, name)
        if module == "numpy":  # scalar types such as numpy.float64, numpy.int32
            obj = getattr(np, name, None)
            if isinstance(obj, type) and issubclass(obj, np.generic):
                return obj
        if module == "builtins" and name in _BUILTINS_ALLOWED:
            return super().find_class(module, name)
        if module.startswith("ribs.") or module.startswith("qdemo.qd."):
            obj = super().find_class(module, name)
            if isinstance(obj, type):
                return obj
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a qdemo checkpoint")


def save_checkpoint(folder: str | Path, state: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write ``state`` (pickled, hashed) and ``meta`` (JSON, human-readable) atomically."""
    folder = Path(folder)
    payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest()
    atomic_write_bytes(folder / STATE, MAGIC + digest.encode("ascii") + b"\n" + payload)
    atomic_write_json(folder / "meta.json", {**meta, "sha256": digest})
    return folder / STATE


def load_checkpoint(folder: str | Path) -> dict[str, Any]:
    """Read and verify a checkpoint written by :func:`save_checkpoint`."""
    path = Path(folder) / STATE
    if not path.exists():
        raise CheckpointError(f"{path}: no checkpoint here (nothing to resume)")
    raw = path.read_bytes()
    if not raw.startswith(MAGIC):
        raise CheckpointError(f"{path}: not a qdemo checkpoint (unknown header)")
    head, sep, payload = raw[len(MAGIC):].partition(b"\n")
    if not sep or len(head) != 64:
        raise CheckpointError(f"{path}: corrupt checkpoint header")
    if hashlib.sha256(payload).hexdigest() != head.decode("ascii", "replace"):
        raise CheckpointError(f"{path}: checksum mismatch (the checkpoint is corrupt or truncated)")
    try:
        state = _RestrictedUnpickler(io.BytesIO(payload)).load()
    except Exception as exc:  # noqa: BLE001 - any failure here means an unusable file
        raise CheckpointError(f"{path}: cannot read checkpoint ({exc})") from None
    if not isinstance(state, dict) or "scheduler" not in state:
        raise CheckpointError(f"{path}: checkpoint does not hold an explorer state")
    return state


def search_key(config: EvolveConfig) -> dict[str, Any]:
    """The config's :data:`SEARCH_KEYS` as plain data."""
    d = to_dict(config)
    return {k: d[k] for k in SEARCH_KEYS}


def save_search(run_dir: str | Path, search: Search) -> Path:
    """Checkpoint ``search``'s explorer into ``run_dir/checkpoint``."""
    ex = search.explorer
    state = {**ex.state(), "search": search_key(search.config), "searcher_sha256": model_sha256(search.searcher),
             "solution_dim": int(search.renderer.solution_dim)}
    meta = {"iteration": ex.iteration, "evaluations": ex.evaluations,
            "saved": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return save_checkpoint(Path(run_dir) / CHECKPOINT, state, meta)


def load_search(run_dir: str | Path, search: Search) -> None:
    """Continue ``search``'s explorer from ``run_dir/checkpoint``; CheckpointError when the
    checkpoint belongs to another search (config, renderer size or searcher)."""
    folder = Path(run_dir) / CHECKPOINT
    state = load_checkpoint(folder)
    new = search_key(search.config)
    if state.get("search") != new:
        old = state.get("search") or {}
        diff = [k for k in SEARCH_KEYS if old.get(k) != new.get(k)]
        raise CheckpointError(f"{folder}: written with a different configuration "
                              f"({', '.join(diff) or 'unknown'} differ); resume with the run's own config.yaml")
    if state.get("solution_dim") != search.renderer.solution_dim:
        raise CheckpointError(f"{folder}: solution size {state.get('solution_dim')} does not match the renderer")
    if state.get("searcher_sha256") != model_sha256(search.searcher):
        raise CheckpointError(f"{folder}: the searcher's weights differ from the ones this run started with "
                              f"(e.g. a run from before the calibrated v2 models, whose cells are on another "
                              f"scale): its cells cannot be continued; start a new run")
    search.explorer.load_state(state)
