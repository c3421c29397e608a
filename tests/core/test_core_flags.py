"""Command-line options derived from config fields (qdemo.flags): declared once, they parse
to values the config accepts, with help from the field's docstring."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import textwrap
import typing
from pathlib import Path

import pytest

from qdemo.cli import build_parser
from qdemo.config import load_config
from qdemo.flags import Flag, add_flags, field_info, flag_overrides

SOURCE = textwrap.dedent('''
    from dataclasses import dataclass, field
    from typing import Literal, Optional


    @dataclass
    class Inner:
        sizes: list[int] = field(default_factory=lambda: [1, 2])
        """Sizes to try."""
        names: list[str] = field(default_factory=list)
        """Names, one flag each."""


    @dataclass
    class Cfg:
        steps: int = 10
        """Optimisation steps (100% of them)."""
        lr: Optional[float] = None
        """Learning rate."""
        mode: Literal["fast", "slow"] = "fast"
        """How to run."""
        evaluate: bool = True
        """Evaluate at the end."""
        shuffle: bool = False
        """Shuffle the data."""
        inner: Inner = field(default_factory=Inner)
        """Nested."""
''')


@pytest.fixture()
def toy(tmp_path, monkeypatch):
    (tmp_path / "toy_cfg_module.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("toy_cfg_module")


def _toy_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="toy", exit_on_error=False)
    add_flags(p, "toy_cfg_module:Cfg", (
        Flag("steps"), Flag("lr"), Flag("mode"), Flag("evaluate", "--no-eval", value=False), Flag("shuffle"),
        Flag("inner.sizes", "--sizes"), Flag("inner.names", "--name", repeat=True), Flag("steps", "--quick-steps",
                                                                                          short="-q")))
    return p


def test_types_choices_help_and_overrides(toy):
    p = _toy_parser()
    args = p.parse_args(["--steps", "5", "--lr", "0.1", "--mode", "slow", "--no-eval", "--shuffle",
                         "--sizes", "3,4", "--name", "a", "--name", "b"])
    over = flag_overrides(args)
    assert over == {"steps": 5, "lr": 0.1, "mode": "slow", "evaluate": False, "shuffle": True,
                    "inner.sizes": [3, 4], "inner.names": ["a", "b"]}
    cfg = load_config(toy.Cfg, None, over)
    assert (cfg.steps, cfg.lr, cfg.mode, cfg.evaluate, cfg.inner.sizes) == (5, 0.1, "slow", False, [3, 4])
    # nothing given: no overrides (the config's values stand)
    assert flag_overrides(p.parse_args([])) == {}
    assert flag_overrides(p.parse_args(["-q", "7"])) == {"steps": 7}
    assert flag_overrides(p.parse_args(["--no-shuffle"])) == {"shuffle": False}
    help_text = p.format_help()
    assert "Optimisation steps (100% of them). [config: steps]" in " ".join(help_text.split())
    assert "[config: evaluate = False]" in " ".join(help_text.split())
    for bad in (["--mode", "medium"], ["--steps", "x"], ["--sizes", "1,a"]):
        with pytest.raises((argparse.ArgumentError, SystemExit)):
            p.parse_args(bad)


def test_field_info_reads_the_source(toy):
    assert field_info("toy_cfg_module:Cfg", "mode").choices == ("fast", "slow")
    assert field_info("toy_cfg_module:Cfg", "lr").kind == "float"
    info = field_info("toy_cfg_module:Cfg", "inner.sizes")
    assert (info.kind, info.item, info.doc) == ("list", "int", "Sizes to try.")
    with pytest.raises(LookupError, match="no field 'nope'"):
        field_info("toy_cfg_module:Cfg", "nope")


def _command_parsers(parser: argparse.ArgumentParser, name: str = "qdemo"):
    """Every (sub)parser of the CLI, with its command name."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                yield from _command_parsers(p, f"{name} {sub}")


def _runtime_type(target: str, dotted: str):
    module, cls = target.split(":")
    tp = getattr(importlib.import_module(module), cls)
    for part in dotted.split("."):
        tp = typing.get_type_hints(tp)[part]
    return tp


def _sample(tp, action: argparse.Action) -> tuple[list[str], object]:
    """Command-line words for a field of type ``tp`` and the value the config should get."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if type(None) in typing.get_args(tp) and len(args) == 1:  # Optional[X]
        tp = args[0]
    flag = action.option_strings[0]
    if action.nargs == 0:  # store_const (--no-eval) or --x / --no-x
        return [flag], action.const if action.const is not None else True
    if action.choices:
        choice = list(action.choices)[-1]
        return [flag, str(choice)], choice
    if typing.get_origin(tp) in (list, tuple):
        item = typing.get_args(tp)[0]
        vals = [2, 3] if item is int else [0.5, 1.5] if item is float else ["a", "b"]
        if isinstance(action, argparse._AppendAction):  # repeated flag
            return [flag, str(vals[0]), flag, str(vals[1])], vals
        return [flag, ",".join(map(str, vals))], vals
    return {int: ([flag, "3"], 3), float: ([flag, "0.25"], 0.25)}.get(tp, ([flag, "x"], "x"))


def _required(parser: argparse.ArgumentParser) -> list[str]:
    """Dummy words for the parser's required options and positional arguments."""
    words: list[str] = []
    for a in parser._actions:
        if not a.option_strings and a.nargs in ("+", None) and not isinstance(a, argparse._SubParsersAction):
            words.append("x")
        elif a.option_strings and a.required:
            words += [a.option_strings[0], "x"]
    return words


def test_every_config_flag_of_every_command_sets_its_field():
    """For every flag derived from a config field, in every command: the option parses, and the
    config class (imported here; the parser only read its source) accepts the value."""
    seen = 0
    for command, parser in _command_parsers(build_parser()):
        by_dest = {a.dest: a for a in parser._actions}
        for dest, dotted, target in parser.get_default("_config_flags") or ():
            words, expected = _sample(_runtime_type(target, dotted), by_dest[dest])
            over = flag_overrides(parser.parse_args(words + _required(parser)))
            assert over == {dotted: expected}, (command, words, over)
            module, name = target.split(":")
            value = load_config(getattr(importlib.import_module(module), name), None, over)
            for part in dotted.split("."):
                value = getattr(value, part)
            plain = [str(v) if isinstance(v, Path) else v for v in value] if isinstance(value, (list, tuple)) \
                else str(value) if isinstance(value, Path) else value
            assert plain == expected, (command, dotted, value, expected)
            seen += 1
    assert seen >= 40  # evolve, regressor, generator, compare, normalise (and the benches)


def test_help_comes_from_the_field_docstrings(capsys):
    from qdemo.config import field_docs
    from qdemo.qd.config import EvolveConfig

    with pytest.raises(SystemExit):
        build_parser().parse_args(["evolve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"{field_docs(EvolveConfig)['iterations']} [config: iterations]" in out
    assert dataclasses.is_dataclass(EvolveConfig)
