"""Command-line flags derived from config dataclass fields: each option is declared once.

A command names the config fields that get a dedicated flag; the flag's name, type,
choices and help come from the field (its annotation and the docstring under it), its
default is None ("the config's value"), and :func:`flag_overrides` turns the parsed
arguments back into dotted config overrides::

    FLAGS = (Flag("grid.name", "--grid"), Flag("iterations"), Flag("evaluate", "--no-eval", value=False))
    add_flags(parser, "qdemo.qd.config:EvolveConfig", FLAGS)
    ...
    cfg = load_config(EvolveConfig, path, flag_overrides(args))

The dataclass is read from its source file (``ast``), not imported: a config that lives
beside a torch model does not make ``qdemo --help`` import torch. Only the standard
library is imported here.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

_UNSET: Any = object()
_SCALARS: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str, "Path": str}
_LIST_METAVAR = {"int": "N,N", "float": "X,X", "str": "A,B"}


@dataclass(frozen=True)
class Flag:
    """One command-line flag bound to one (dotted) config field."""

    field: str
    """Dotted field of the command's config dataclass, e.g. ``grid.name``."""
    flag: Optional[str] = None
    """Option string; None: ``--`` + the field's last part with ``_`` -> ``-``."""
    value: Any = _UNSET
    """Given: the flag takes no argument and sets the field to this value (``--no-eval`` -> False)."""
    choices: Optional[Sequence[Any]] = None
    """Allowed values where the annotation does not list them (a Literal does)."""
    repeat: bool = False
    """A list field given by repeating the flag (``--photos A --photos B``) instead of ``A,B``."""
    metavar: Optional[str] = None
    """Placeholder in the usage line."""
    note: str = ""
    """Text appended to the field's docstring in the help (e.g. what a command-line-only value means)."""
    short: Optional[str] = None
    """An extra short option string, e.g. ``-k``."""

    @property
    def option(self) -> str:
        return self.flag or "--" + self.field.rsplit(".", 1)[-1].replace("_", "-")

    @property
    def dest(self) -> str:
        return self.option.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class FieldInfo:
    """What the source says about one config field."""

    kind: str
    """int | float | str | bool | choice | list | yaml (anything else: parsed as YAML)."""
    doc: str
    """The docstring under the field, whitespace collapsed."""
    item: str = "str"
    """list fields: the kind of the items."""
    choices: tuple = ()
    """choice fields: the Literal's values."""


# --------------------------------------------------------------------------- reading the source


@lru_cache(maxsize=None)
def _module_text(module: str) -> str:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise LookupError(f"{module}: no Python source to read config fields from")
    return Path(spec.origin).read_text(encoding="utf-8")


def _class_source(text: str, name: str) -> Optional[ast.ClassDef]:
    """The top-level class ``name`` parsed on its own: its lines up to the next unindented one
    (parsing only them keeps ``qdemo --help`` quick); None when it is not found so."""
    m = re.search(rf"^class {re.escape(name)}\b.*$", text, re.M)
    if m is None:
        return None
    end = re.search(r"^(?=\S)", text[m.end():], re.M)
    chunk = text[m.start(): m.end() + (end.start() if end else len(text))]
    try:
        node = ast.parse(chunk).body[0]
    except SyntaxError:  # e.g. a string with unindented lines inside the class
        return None
    return node if isinstance(node, ast.ClassDef) else None


@lru_cache(maxsize=None)
def _class_node(module: str, name: str) -> tuple[str, ast.ClassDef]:
    """The ClassDef ``name`` of ``module``, following ``from X import name`` to its home."""
    text = _module_text(module)
    node = _class_source(text, name)
    if node is not None:
        return module, node
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return module, node
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            real = next(a.name for a in node.names if (a.asname or a.name) == name)
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
            return _class_node(base, real)
    raise LookupError(f"{module}: no class {name!r}")


def _fields(node: ast.ClassDef) -> dict[str, tuple[ast.expr, str]]:
    """``name -> (annotation, docstring)`` of the annotated fields of a class body."""
    out: dict[str, tuple[ast.expr, str]] = {}
    body = node.body
    for i, stmt in enumerate(body):
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            nxt = body[i + 1] if i + 1 < len(body) else None
            doc = ""
            if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str):
                doc = " ".join(inspect.cleandoc(nxt.value.value).split())
            out[stmt.target.id] = (stmt.annotation, doc)
    return out


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        return node.value
    return ""


def _strip_optional(ann: ast.expr) -> ast.expr:
    """``X | None``, ``Optional[X]``, ``Union[X, None]`` -> ``X``."""
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        parts = [p for p in (ann.left, ann.right) if not (isinstance(p, ast.Constant) and p.value is None)]
        return _strip_optional(parts[0]) if len(parts) == 1 else ann
    if isinstance(ann, ast.Subscript) and _name(ann.value) in ("Optional", "Union"):
        args = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        args = [a for a in args if not (isinstance(a, ast.Constant) and a.value is None)]
        return _strip_optional(args[0]) if len(args) == 1 else ann
    return ann


def _kind(ann: ast.expr) -> tuple[str, str, tuple]:
    """(kind, item kind, choices) of an annotation."""
    ann = _strip_optional(ann)
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        return _kind(ast.parse(ann.value, mode="eval").body)
    if isinstance(ann, ast.Subscript):
        outer = _name(ann.value)
        args = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        if outer == "Literal":
            return "choice", "str", tuple(a.value for a in args if isinstance(a, ast.Constant))
        if outer in ("list", "List", "tuple", "Tuple", "Sequence"):
            item = _kind(args[0])[0]
            return ("list", item, ()) if item in ("int", "float", "str") else ("yaml", "str", ())
        return "yaml", "str", ()
    name = _name(ann)
    if name in _SCALARS:
        return ("str" if name == "Path" else name), "str", ()
    if name == "bool":
        return "bool", "str", ()
    return "yaml", "str", ()


@lru_cache(maxsize=None)
def field_info(target: str, dotted: str) -> FieldInfo:
    """What the source of ``target`` ("module:Class") says about field ``dotted``."""
    module, cls = target.split(":")
    *parents, last = dotted.split(".")
    home, node = _class_node(module, cls)
    for part in parents:
        ann, _ = _fields(node)[part]
        home, node = _class_node(home, _name(_strip_optional(ann)))
    fields = _fields(node)
    if last not in fields:
        raise LookupError(f"{target}: no field {dotted!r} (fields: {', '.join(fields)})")
    ann, doc = fields[last]
    kind, item, choices = _kind(ann)
    return FieldInfo(kind, doc, item, choices)


# --------------------------------------------------------------------------- argparse


def _list_of(convert: Callable[[str], Any]) -> Callable[[str], list]:
    def parse(text: str) -> list:
        try:
            return [convert(x.strip()) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated values, e.g. 1,16,64") from None
    parse.__name__ = f"list of {convert.__name__}"
    return parse


def _yaml_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: cannot parse ({exc})") from None


def _help(flag: Flag, info: FieldInfo) -> str:
    text = " ".join(x for x in (info.doc, flag.note) if x)
    sets = flag.field if flag.value is _UNSET else f"{flag.field} = {flag.value!r}"
    return f"{text} [config: {sets}]".replace("%", "%%")


def add_flags(parser: argparse.ArgumentParser, target: str, flags: Sequence[Flag]) -> None:
    """Add one option per :class:`Flag` to ``parser``; ``target`` is the config dataclass as
    "module:Class" (read from source, not imported). Defaults are None: the config's value."""
    for flag in flags:
        info = field_info(target, flag.field)
        names = [flag.option] + ([flag.short] if flag.short else [])
        kw: dict[str, Any] = {"dest": flag.dest, "default": None, "help": _help(flag, info)}
        if flag.metavar:
            kw["metavar"] = flag.metavar
        if flag.value is not _UNSET:
            kw.update(action="store_const", const=flag.value)
        elif info.kind == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        elif info.kind == "list":
            convert = _SCALARS.get(info.item, str)
            if flag.repeat:  # --photos A --photos B
                kw.update(action="append", type=convert)
                kw.setdefault("metavar", "VALUE")
            else:  # --batch-sizes 1,16,64
                kw["type"] = _list_of(convert)
                kw.setdefault("metavar", _LIST_METAVAR.get(info.item, "A,B"))
        elif info.kind == "yaml":
            kw["type"] = _yaml_value
        else:
            kw["type"] = _SCALARS.get(info.kind, str) if info.kind != "choice" else type(info.choices[0])
            choices = flag.choices or (info.choices if info.kind == "choice" else None)
            if choices:
                kw["choices"] = list(choices)
        parser.add_argument(*names, **kw)
    known = parser.get_default("_config_flags") or ()
    parser.set_defaults(_config_flags=tuple(known) + tuple((f.dest, f.field, target) for f in flags))


def flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``{dotted field: value}`` for every config flag given on the command line."""
    out: dict[str, Any] = {}
    for dest, field, _ in getattr(args, "_config_flags", ()):
        value = getattr(args, dest, None)
        if value is not None:
            out[field] = value
    return out


def add_config_options(parser: argparse.ArgumentParser, command: str) -> None:
    """``--config``, ``--set`` and ``--help-config`` of a command whose default config is
    ``configs/<command>.yaml`` (found without the current folder: qdemo.config.default_config_path)."""
    parser.add_argument("--config", default=None, metavar="FILE",
                        help=f"YAML config (default: configs/{command}.yaml of the qdemo checkout, else the "
                             f"identical copy packaged in qdemo/configs/). Relative input paths in it are read "
                             f"relative to the file; the file used is printed at the start")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config field, e.g. --set seed=3 (repeatable; a dedicated flag for "
                             "the same field wins)")
    parser.add_argument("--help-config", action="store_true", help="list every config field with its meaning and exit")
