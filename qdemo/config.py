"""Typed dataclass configs: YAML file + ``key=value`` overrides; unknown keys raise.

Each command has one dataclass (fields documented by a docstring right under the field,
cleanrl-style) and one YAML file in ``configs/``. Nested dataclasses are addressed with
dots: ``--set archive.cells=[10,10,10]``. Every run writes its resolved config, headed by
the file it came from (path and sha256: :func:`config_source`).

    cfg = load_config(EvolveConfig, "configs/evolve.yaml", ["seed=3", "archive.cells=[5,5,5]"])

Where a command's default config is found, and how relative paths inside a config file
are read, does not depend on the current folder:

- :func:`default_config_path`: ``configs/<command>.yaml`` of the qdemo checkout that holds
  the imported package, else the identical copy packaged in ``qdemo/configs/``.
- Relative *input* paths in a config file (datasets, photos, weights files: the ``paths``
  and ``specs`` a command names) are relative to the folder of that file. Output folders
  (``out``, ``out_root``, ``cache_dir``) and paths given on the command line are relative
  to the current folder, as for any command-line tool.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import inspect
import os
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Optional, TypeVar

import yaml

from qdemo.errors import ConfigError

T = TypeVar("T")

PACKAGE_DIR = Path(__file__).resolve().parent
"""The folder of the imported ``qdemo`` package (its ``configs/`` holds the packaged defaults)."""

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt")
"""A model spec ending so (or holding a path separator) names a file, not a shipped model."""

_SOURCE_ATTR = "_qdemo_config_source"
_HEADER = "# qdemo config source: "
_HEADER_SHA = "# qdemo config sha256: "


def field_docs(cls: type) -> dict[str, str]:
    """Map each field of dataclass ``cls`` to the docstring written under it."""
    try:
        src = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    tree = ast.parse(src)
    docs: dict[str, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node, nxt in zip(body, body[1:]):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def describe(cls: type, prefix: str = "") -> str:
    """Human-readable list of a config's fields, defaults and docs (for ``--help-config``)."""
    lines = []
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name, f.type)
        if dataclasses.is_dataclass(tp):
            lines.append(f"{prefix}{f.name}:  ({docs.get(f.name, '')})")
            lines.append(describe(tp, prefix + f.name + "."))
            continue
        default = _default_of(f)
        lines.append(f"{prefix}{f.name} = {default!r}\n    {docs.get(f.name, '')}")
    return "\n".join(lines)


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def to_dict(cfg: Any) -> dict[str, Any]:
    """Config dataclass -> plain dict (tuples as lists), ready for YAML/JSON."""
    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return conv(cfg)


def portable(value: Any) -> Any:
    """``value`` (a config dataclass, dict, list or string) with no machine paths, for metadata
    that ships (weights' JSON): an absolute path becomes the part of it below ``shared/`` or
    the checkout (``shared/datasets/bass/images``), else its last component; relative paths
    and every other value are kept."""
    if dataclasses.is_dataclass(value) or isinstance(value, Path):
        value = to_dict(value) if dataclasses.is_dataclass(value) else str(value)
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v) for v in value]
    if not isinstance(value, str) or not _looks_absolute(value):
        return value
    parts = Path(value.replace("\\", "/")).parts
    for anchor in ("shared", PACKAGE_DIR.name):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor):])
    return parts[-1] if len(parts) > 1 else ""


def _looks_absolute(text: str) -> bool:
    return text.startswith(("/", "~")) or (len(text) > 2 and text[1] == ":" and text[2] in "\\/")


def save_config(cfg: Any, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML, atomically, headed by the file it was loaded from
    (``# qdemo config source: PATH`` and its sha256; comments, so the YAML reads the same)."""
    from qdemo.io import atomic_write_text  # qdemo.io imports torch: not at module level

    src = config_source(cfg)
    head = "" if src is None else src.header()
    atomic_write_text(path, head + yaml.safe_dump(to_dict(cfg), sort_keys=False))


class ConfigSource(NamedTuple):
    """Where a config came from: a YAML file (path + sha256 of its bytes) or the built-in
    defaults (``path`` None). ``via``: the resolved config actually read (a run's own
    config.yaml, on resume), when ``path`` is the file that one was first made from."""

    path: Optional[str]
    sha256: Optional[str]
    via: Optional[str] = None

    def describe(self) -> str:
        """One line for the start of a command: the file and a short hash, or built-in defaults."""
        what = "built-in defaults (no config file)" if self.path is None else (
            f"{self.path} (sha256 {self.sha256[:12]})" if self.sha256 else self.path)
        return f"config: {self.via} (resolved config made from {what})" if self.via else f"config: {what}"

    def as_dict(self) -> dict[str, Optional[str]]:
        """``{"path": ..., "sha256": ...}`` for a manifest."""
        return {"path": self.path, "sha256": self.sha256}

    def header(self) -> str:
        """The comment lines :func:`save_config` writes above the YAML."""
        if self.path is None:
            return f"{_HEADER}built-in defaults\n"
        return f"{_HEADER}{self.path}\n{_HEADER_SHA}{self.sha256}\n"


def config_source(cfg: Any) -> Optional[ConfigSource]:
    """The source :func:`load_config` recorded on ``cfg`` (None for a config built in code)."""
    return getattr(cfg, _SOURCE_ATTR, None)


def _source_of(path: Optional[Path], raw: Optional[bytes]) -> ConfigSource:
    """The file's own path and hash; a resolved config written by :func:`save_config` keeps
    naming the file it first came from (a resumed run's config.yaml stays byte-identical)."""
    if path is None or raw is None:
        return ConfigSource(None, None)
    lines = raw.decode("utf-8", errors="replace").splitlines()
    if lines and lines[0].startswith(_HEADER):
        origin = lines[0][len(_HEADER):].strip()
        sha = lines[1][len(_HEADER_SHA):].strip() if len(lines) > 1 and lines[1].startswith(_HEADER_SHA) else None
        via = str(path.resolve())
        return ConfigSource(None, None, via) if origin == "built-in defaults" else ConfigSource(origin, sha, via)
    return ConfigSource(str(path.resolve()), hashlib.sha256(raw).hexdigest())


def default_config_path(command: str) -> Optional[Path]:
    """The default config of ``command`` (e.g. "evolve"), found without the current folder:
    ``configs/<command>.yaml`` of the qdemo checkout holding this package (the user-facing
    copy), else ``qdemo/configs/<command>.yaml`` (packaged, identical); None when neither exists."""
    checkout = PACKAGE_DIR.parent
    user = checkout / "configs" / f"{command}.yaml"
    if (checkout / "setup.cfg").is_file() and user.is_file():
        return user
    packaged = PACKAGE_DIR / "configs" / f"{command}.yaml"
    return packaged if packaged.is_file() else None


def _relative_to_file(data: dict[str, Any], key: str, base: Path, *, spec: bool) -> None:
    """Make the relative path(s) at dotted ``key`` of ``data`` absolute against ``base``.

    ``spec``: the value is a model spec ('shipped', 'tiny:1', or a file) and only a value
    that looks like a file (a path separator or a weights suffix) is a path."""
    node: Any = data
    *parents, last = key.split(".")
    for p in parents:
        node = node.get(p) if isinstance(node, dict) else None
    if not isinstance(node, dict) or last not in node:
        return

    def fix(v: Any) -> Any:
        if not isinstance(v, str) or not v or (spec and not ("/" in v or "\\" in v or v.endswith(WEIGHT_SUFFIXES))):
            return v
        p = Path(v).expanduser()
        return str(p) if p.is_absolute() else os.path.normpath(base / p)

    value = node[last]
    node[last] = [fix(v) for v in value] if isinstance(value, list) else fix(value)


def from_dict(cls: type[T], data: dict[str, Any], source: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping for {cls.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(map(repr, unknown))} for {cls.__name__}; "
            f"valid keys: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        kwargs[f.name] = _coerce(hints[f.name], data[f.name], f"{source}: {f.name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(_coerce(a, v, where) for a, v in zip(args, value))
        inner = args[0] if args else Any
        out = [_coerce(inner, v, where) for v in value]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{where}: expected a path, got {value!r}")
        return Path(value)
    return value


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {key!r}: {p!r} is not a section")
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=3"`` -> ``("a.b", 3)``; values are parsed as YAML (``[1,2]``, ``true``, ``0.5``)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: cannot parse value ({exc})") from None
    return key, value


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    return _read_yaml(Path(path))[0]


def _read_yaml(path: Path) -> tuple[dict[str, Any], bytes]:
    """The mapping in YAML file ``path`` and the file's bytes."""
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found" if not path.exists() else f"{path}: not a file")
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    return data, raw


def load_config(
    cls: type[T],
    path: str | os.PathLike | None = None,
    overrides: typing.Iterable[str | tuple[str, Any]] | dict[str, Any] = (),
    *,
    paths: Iterable[str] = (),
    specs: Iterable[str] = (),
) -> T:
    """Defaults of ``cls``, updated by the YAML at ``path``, then by ``overrides``.

    ``overrides`` is a list of ``"key=value"`` strings and ``(key, value)`` pairs, applied in
    order, or a dict of dotted keys. ``None`` values in a dict are ignored, so unset CLI
    flags do not override the file; an explicit ``"key=null"`` string sets None.
    ``paths`` (dotted keys of input files / folders, or lists of them) and ``specs`` (model
    specs that may name a file) read from the file are made absolute against the file's
    folder; overrides are taken as given (relative to the current folder). The source (file
    path + sha256, or built-in defaults) is recorded on the result: :func:`config_source`.
    """
    data: dict[str, Any] = {}
    raw = None
    if path is not None:
        path = Path(path)
        data, raw = _read_yaml(path)
        base = path.resolve().parent
        for key in paths:
            _relative_to_file(data, key, base, spec=False)
        for key in specs:
            _relative_to_file(data, key, base, spec=True)
    source = str(path) if path is not None else cls.__name__
    if isinstance(overrides, dict):
        # Unset CLI flags arrive as None and must not override the file.
        items = [(k, v) for k, v in overrides.items() if v is not None]
    else:
        # An explicit "key=null" does clear an optional field; (key, value) pairs are taken as given.
        items = [parse_override(o) if isinstance(o, str) else (o[0], o[1]) for o in overrides]
    for key, value in items:
        _set_dotted(data, key, value)
    cfg = from_dict(cls, data, source)
    object.__setattr__(cfg, _SOURCE_ATTR, _source_of(path, raw))
    return cfg
