"""A state file that cannot execute or allocate on its author's say-so (checkpoints).

    data = save_state(obj)                  # bytes: a zip of state.json + arrays/<n>.npy
    new = load_state(data, template, where)  # obj rebuilt along ``template``

:func:`save_state` walks an object graph (the explorer's pyribs scheduler, archives, emitters,
CMA-ES state, random generators) and writes its values: plain data as JSON, every numpy array
as an ``.npy`` member (stored, not compressed), each numpy random generator as its bit
generator's state. No class, function or module is ever *named by the file* for loading:

- :func:`load_state` rebuilds the graph along a **template**, the same object graph freshly
  built from the run's config. Each object is made as ``type(template).__new__`` and filled
  with the file's values for the template's own attributes; a class, dtype, type or module
  in the template is taken from the template (the file must name the same one). What the
  template does not have may only be plain data (numbers, strings, lists, dicts, arrays).
- Arrays are read with ``allow_pickle=False`` after their header is checked: numeric dtypes
  only, and the bytes the header announces must be in the file (no compressed members, no
  size that the file does not hold), so memory use is bounded by the file's own size.
- Sharing is kept (an object reached twice is one object), as pickle keeps it.

Anything else -- an unknown node, a mismatching class, a short or corrupt member -- raises
:class:`StateFileError` naming the place in the graph.
"""

from __future__ import annotations

import io
import json
import math
import types
import zipfile
from typing import Any

import numpy as np

FORMAT = "qdemo-state"
VERSION = 1
_PLAIN = (type(None), bool, int, float, str)
_NUMERIC_KINDS = "biufc"
_MISSING = object()


class StateFileError(ValueError):
    """The state file is corrupt, foreign or does not fit the template (the message says where)."""


def _qualname(obj: Any) -> str:
    t = obj if isinstance(obj, type) else type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def _same_key(obj: Any) -> str | None:
    """How a value taken from the template is named in the file (None: not such a value)."""
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    if isinstance(obj, type):
        return f"type {_qualname(obj)}"
    if isinstance(obj, np.dtype):
        return f"dtype {obj.str} {obj.descr!r}"
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)) and not hasattr(obj, "__self__"):
        return f"function {getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"
    return None


def _plain_state_class(cls: type) -> bool:
    """A class rebuilt as ``cls.__new__(cls)`` + ``__dict__`` (what pickle does for it)."""
    if cls.__reduce_ex__ is not object.__reduce_ex__ or cls.__reduce__ is not object.__reduce__:
        return False
    if cls.__new__ is not object.__new__ or any(vars(k).get("__slots__") for k in cls.__mro__[:-1]):
        return False
    setstate = getattr(cls, "__setstate__", None)
    return setstate is None or getattr(setstate, "__qualname__", "") == "PickleXPMixin.__setstate__"


class _Writer:
    def __init__(self) -> None:
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []  # holds the objects whose id() is memoised
        self.arrays: dict[str, np.ndarray] = {}

    def node(self, obj: Any, where: str) -> Any:  # long: one branch per kind of value, read together
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return {"t": "np", "dtype": obj.dtype.str, "v": _json_number(obj.item())}
        if isinstance(obj, _PLAIN):
            return _json_number(obj)
        same = _same_key(obj)
        if same is not None:
            return {"t": "same", "what": same}
        if id(obj) in self.memo:
            return {"t": "ref", "id": self.memo[id(obj)]}
        n = self.memo[id(obj)] = len(self.memo)
        self.keep.append(obj)
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                return {"t": "objarray", "id": n, "shape": list(obj.shape),
                        "items": [self.node(x, f"{where}[{i}]") for i, x in enumerate(obj.flat)]}
            if obj.dtype.kind not in _NUMERIC_KINDS or obj.dtype.fields is not None:
                raise StateFileError(f"{where}: arrays of dtype {obj.dtype} are not stored")
            key = f"a{len(self.arrays)}"
            self.arrays[key] = obj
            return {"t": "array", "id": n, "key": key}
        if isinstance(obj, (list, tuple)):
            return {"t": type(obj).__name__, "id": n, "items": [self.node(x, f"{where}[{i}]") for i, x in enumerate(obj)]}
        if isinstance(obj, dict):
            return {"t": "dict", "id": n, "items": [[self.node(k, f"{where} key"), self.node(v, f"{where}[{k!r}]")]
                                                    for k, v in obj.items()]}
        if isinstance(obj, np.random.Generator):
            return {"t": "rng", "id": n, "state": self.node(obj.bit_generator.state, f"{where}.bit_generator")}
        if not _plain_state_class(type(obj)) or not hasattr(obj, "__dict__"):
            raise StateFileError(f"{where}: cannot store a {_qualname(obj)} (custom pickling or slots)")
        return {"t": "obj", "id": n, "class": _qualname(obj),
                "state": {k: self.node(v, f"{where}.{k}") for k, v in vars(obj).items()}}


def _json_number(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return {"t": "float", "v": repr(x)}  # 'nan', 'inf', '-inf'
    return x


def save_state(obj: Any) -> bytes:
    """``obj`` as the bytes of a state file (a zip: ``state.json`` + ``arrays/<key>.npy``)."""
    w = _Writer()
    tree = w.node(obj, "state")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("state.json", json.dumps({"format": FORMAT, "version": VERSION, "state": tree},
                                             allow_nan=False, separators=(",", ":")))
        for key, arr in w.arrays.items():
            out = io.BytesIO()
            np.lib.format.write_array(out, arr, allow_pickle=False)
            zf.writestr(f"arrays/{key}.npy", out.getvalue())
    return buf.getvalue()


def _read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, where: str) -> np.ndarray:
    """One ``.npy`` member, after checking that its header asks for no more than the member holds."""
    if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size or info.file_size > size:
        raise StateFileError(f"{where}: array member {info.filename} is compressed or larger than the file")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise StateFileError(f"{where}: array member {info.filename}: unknown .npy version {version}")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f, max_header_size=1000)
        if dtype.hasobject or dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None:
            raise StateFileError(f"{where}: array member {info.filename} has dtype {dtype}")
        count = math.prod(shape)
        if f.tell() + count * dtype.itemsize != info.file_size:
            raise StateFileError(f"{where}: array member {info.filename} does not hold the {shape} it announces")
        data = bytearray(f.read(count * dtype.itemsize))
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape[::-1]).transpose() if fortran else arr.reshape(shape)


def _is_object(tpl: Any) -> bool:
    """Whether the template holds an object (not plain data) here: the file must then match it."""
    return not (tpl is _MISSING or isinstance(tpl, (*_PLAIN, np.generic, np.ndarray, list, tuple, dict))) \
        or (isinstance(tpl, np.ndarray) and tpl.dtype.hasobject)


class _Reader:
    def __init__(self, zf: zipfile.ZipFile, size: int, where: str):
        self.zf, self.size, self.where = zf, size, where
        self.memo: dict[int, Any] = {}
        self.members = {i.filename: i for i in zf.infolist()}

    def fail(self, path: str, problem: str) -> StateFileError:
        return StateFileError(f"{self.where}: {path}: {problem}")

    def value(self, node: Any, tpl: Any, path: str) -> Any:  # long: one branch per kind of node
        if node is None:
            return None
        if isinstance(node, _PLAIN):
            return node
        if isinstance(node, list):  # the JSON of a node is an object; lists only inside "items"
            raise self.fail(path, "malformed node")
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise self.fail(path, "malformed node")
        kind = node["t"]
        if kind in ("float", "np"):
            return self._number(node, path)
        if kind == "same":
            if tpl is _MISSING or _same_key(tpl) != node.get("what"):
                raise self.fail(path, f"names {str(node.get('what'))[:80]!r}, this search has "
                                      f"{_same_key(tpl) if tpl is not _MISSING else 'nothing'}")
            return tpl
        if kind == "ref":
            if not isinstance(node.get("id"), int) or node["id"] not in self.memo:
                raise self.fail(path, "reference to nothing read yet")
            obj = self.memo[node["id"]]
            if _is_object(tpl) and type(obj) is not type(tpl):
                raise self.fail(path, f"reference to a {_qualname(obj)} where this search has a {_qualname(tpl)}")
            return obj
        nid = node.get("id")
        if not isinstance(nid, int) or nid in self.memo:
            raise self.fail(path, "malformed node id")
        if kind == "array":
            return self._array(node, tpl, path)
        if kind in ("list", "tuple", "dict"):
            return self._container(node, tpl, path)
        if tpl is _MISSING or tpl is None:
            raise self.fail(path, f"a {kind!r} where this search has nothing of the kind")
        if kind == "objarray":
            return self._objarray(node, tpl, path)
        if kind == "rng":
            return self._rng(node, tpl, path)
        if kind == "obj":
            return self._object(node, tpl, path)
        raise self.fail(path, f"unknown node {kind[:20]!r}")

    def _number(self, node: dict, path: str) -> Any:
        v, kind = node.get("v"), node["t"]
        try:
            if kind == "float" and v in ("nan", "inf", "-inf"):
                return float(v)
            dtype = np.dtype(node.get("dtype")) if kind == "np" and isinstance(node.get("dtype"), str) else None
            if dtype is not None and dtype.kind in "biuf" and dtype.fields is None:
                raw = v if isinstance(v, (bool, int, float)) else self._number(v, path) if isinstance(v, dict) else None
                if raw is not None:
                    return dtype.type(raw)
        except (TypeError, ValueError, OverflowError):
            pass
        raise self.fail(path, f"malformed {kind} value")

    def _array(self, node: dict, tpl: Any, path: str) -> np.ndarray:
        info = self.members.get(f"arrays/{node.get('key')}.npy")
        if info is None:
            raise self.fail(path, "array member missing")
        if _is_object(tpl):
            raise self.fail(path, f"an array where this search has a {_qualname(tpl)}")
        arr = _read_array(self.zf, info, self.size, f"{self.where}: {path}")
        self.memo[node["id"]] = arr
        return arr

    def _container(self, node: dict, tpl: Any, path: str) -> Any:
        kind, items = node["t"], node.get("items")
        want = {"list": list, "tuple": tuple, "dict": dict}[kind]
        if not isinstance(items, list) or _is_object(tpl):
            raise self.fail(path, f"a {kind} where this search has a {_qualname(tpl)}")
        if type(tpl) is not want:  # plain data may change kind as a search runs ([] -> array)
            tpl = _MISSING
        if kind == "dict":
            out: dict = {}
            self.memo[node["id"]] = out
            for pair in items:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise self.fail(path, "malformed dict item")
                key = self.value(pair[0], _MISSING, f"{path} key")
                try:
                    hash(key)
                except TypeError:
                    raise self.fail(path, "unhashable dict key") from None
                sub = tpl.get(key, _MISSING) if isinstance(tpl, dict) else _MISSING
                out[key] = self.value(pair[1], sub, f"{path}[{key!r}]"[:200])
            return out
        seq: list = []
        self.memo[node["id"]] = seq
        for i, item in enumerate(items):
            sub = tpl[i] if isinstance(tpl, (list, tuple)) and i < len(tpl) else _MISSING
            seq.append(self.value(item, sub, f"{path}[{i}]"))
        if kind == "tuple":
            self.memo[node["id"]] = seq = tuple(seq)
        return seq

    def _objarray(self, node: dict, tpl: Any, path: str) -> np.ndarray:
        items = node.get("items")
        if not (isinstance(tpl, np.ndarray) and tpl.dtype.hasobject and isinstance(items, list)
                and list(tpl.shape) == node.get("shape") and len(items) == tpl.size):
            raise self.fail(path, "object array that does not match this search's")
        out = np.empty(tpl.shape, dtype=object)
        self.memo[node["id"]] = out
        for i, (item, sub) in enumerate(zip(items, tpl.flat)):
            out.flat[i] = self.value(item, sub, f"{path}[{i}]")
        return out

    def _rng(self, node: dict, tpl: Any, path: str) -> np.random.Generator:
        if not isinstance(tpl, np.random.Generator):
            raise self.fail(path, f"a random generator where this search has a {_qualname(tpl)}")
        rng = np.random.Generator(type(tpl.bit_generator)())
        self.memo[node["id"]] = rng
        try:
            rng.bit_generator.state = self.value(node.get("state"), _MISSING, f"{path}.state")
        except (TypeError, ValueError, KeyError) as exc:
            raise self.fail(path, f"random generator state refused ({str(exc)[:80]})") from None
        return rng

    def _object(self, node: dict, tpl: Any, path: str) -> Any:
        cls = type(tpl)
        state, want = node.get("state"), vars(tpl) if hasattr(tpl, "__dict__") else None
        if node.get("class") != _qualname(cls) or not isinstance(state, dict) or want is None:
            raise self.fail(path, f"names class {str(node.get('class'))[:80]!r}, this search has {_qualname(cls)}")
        if not _plain_state_class(cls):
            raise self.fail(path, f"{_qualname(cls)} cannot be restored")
        missing = sorted(set(want) - set(state))
        if missing:
            raise self.fail(path, f"{_qualname(cls)} lacks {', '.join(missing[:5])}")
        obj = cls.__new__(cls)
        self.memo[node["id"]] = obj
        values = {}
        for key, sub in state.items():
            if not key.isidentifier():
                raise self.fail(path, "malformed attribute name")
            values[key] = self.value(sub, want.get(key, _MISSING), f"{path}.{key}")
        obj.__dict__.update(values)
        return obj


def load_state(data: bytes, template: Any, where: str, *, only: tuple[str, ...] | None = None) -> Any:
    """The object graph stored in ``data`` (from :func:`save_state`), rebuilt along ``template``;
    with ``only``, the stored graph must be a dict and just those keys are read. StateFileError
    (message starting with ``where``) for anything corrupt, foreign or mismatching."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        info = zf.getinfo("state.json")
        if info.compress_type != zipfile.ZIP_STORED or info.file_size > len(data):
            raise StateFileError(f"{where}: state.json is compressed or larger than the file")
        doc = json.loads(zf.read(info).decode("utf-8"))
    except (zipfile.BadZipFile, KeyError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise StateFileError(f"{where}: not a readable state file ({type(exc).__name__})") from None
    except (ValueError, RecursionError) as exc:  # JSON (json.JSONDecodeError is a ValueError)
        raise StateFileError(f"{where}: state.json is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise StateFileError(f"{where}: not a {FORMAT} file of version {VERSION}")
    root = doc.get("state")
    if only is not None:
        items = root.get("items") if isinstance(root, dict) and root.get("t") == "dict" else None
        if not isinstance(items, list):
            raise StateFileError(f"{where}: does not hold a dict")
        root = {**root, "items": [p for p in items if isinstance(p, list) and len(p) == 2 and p[0] in only]}
    try:
        return _Reader(zf, len(data), where).value(root, template, "state")
    except RecursionError:
        raise StateFileError(f"{where}: nested too deeply") from None
    except StateFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        # a node of the wrong shape (an unhashable key, a list where a number belongs ...)
        raise StateFileError(f"{where}: corrupt ({type(exc).__name__}: {str(exc)[:80]})") from None


__all__ = ["FORMAT", "StateFileError", "VERSION", "load_state", "save_state"]
