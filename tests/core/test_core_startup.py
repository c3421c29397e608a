"""Fast start-up: building the CLI and ``--help`` import no torch / ribs / ray / matplotlib, and
the lazy re-exports of every subpackage behave like the eager imports they replace."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

HEAVY = ("torch", "torchvision", "ribs", "ray", "matplotlib", "pandas", "scipy", "sklearn")
ROOT = Path(__file__).resolve().parents[2] / "qdemo"
NOT_LAZY = {"qdemo", "qdemo.cli"}
"""Packages without re-exports: the top package (version, DIMS) and the command line (tested by --help)."""
PACKAGES = tuple(sorted(".".join(p.parent.relative_to(ROOT.parent).parts) for p in ROOT.rglob("__init__.py")
                        if ".".join(p.parent.relative_to(ROOT.parent).parts) not in NOT_LAZY))
"""Every subpackage of qdemo (found on disk, so a new one cannot be forgotten): each re-exports
its public names lazily (qdemo._lazy), none eagerly."""


def _heavy_loaded_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the heavy modules it left in sys.modules."""
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [m for m in out.stdout.strip().splitlines()[-1].split(",") if m] if out.stdout.strip() else []


def test_building_the_parser_and_help_import_nothing_heavy():
    code = ("import contextlib, io, qdemo.cli\n"
            "qdemo.cli.build_parser()\n"
            "for argv in (['--help'], ['evolve', '--help'], ['regressor', 'train', '--help'],\n"
            "             ['normalise', 'shine', '--help'], ['compare', '--help'], ['browse', '--help']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "        qdemo.cli.main(argv)")
    assert _heavy_loaded_after(code) == []


def test_every_subpackage_is_checked():
    for name in ("qdemo.runfolder", "qdemo.bench", "qdemo.emotion.datasets", "qdemo.viz"):
        assert name in PACKAGES


def test_importing_every_subpackage_imports_nothing_heavy():
    assert _heavy_loaded_after("import " + ", ".join(PACKAGES)) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_importing_a_subpackage_imports_none_of_its_submodules(package):
    """Re-exports are lazy: ``import qdemo.<pkg>`` runs only its ``__init__`` (and qdemo._lazy)."""
    code = (f"import sys, {package}\n"
            f"print(','.join(sorted(m for m in sys.modules if m.startswith('{package}.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"{package} imports {out.stdout.strip()} eagerly"


def test_the_probe_does_see_heavy_imports():
    """The check above can fail: a public name that needs torch does load it."""
    assert "torch" in _heavy_loaded_after("from qdemo.emotion import TinyEmotionModel")


@pytest.mark.parametrize("package", PACKAGES)
def test_lazy_exports_resolve_and_are_listed(package):
    pkg = importlib.import_module(package)
    assert len(set(pkg.__all__)) == len(pkg.__all__)
    assert set(pkg.__all__) == set(pkg._lazy_exports), "__all__ and the lazy name->submodule map differ"
    listed = set(dir(pkg))
    for name in pkg.__all__:
        value = getattr(pkg, name)
        assert not isinstance(value, types.ModuleType), f"{package}.{name} is a module"
        assert name in listed
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        getattr(pkg, "no_such_name")
    with pytest.raises(ImportError):
        exec(f"from {package} import no_such_name", {})


def test_star_import_and_from_import():
    ns: dict = {}
    exec("from qdemo.qd import *", ns)
    import qdemo.qd

    assert set(qdemo.qd.__all__) <= set(ns)
    from qdemo.qd import Explorer
    from qdemo.qd.explorer import Explorer as direct

    assert Explorer is direct


def test_export_named_like_its_submodule_stays_the_export():
    """``qdemo.generator.train`` (function) and ``qdemo.web.validate`` (function) live in submodules
    of the same name; importing the submodule first must not hide the function."""
    code = ("import types, qdemo.generator.train, qdemo.web.validate\n"
            "from qdemo.generator import train\n"
            "from qdemo.web import validate\n"
            "from qdemo.generator.train import train as t2\n"
            "assert train is t2 and callable(train) and not isinstance(train, types.ModuleType)\n"
            "assert not isinstance(validate, types.ModuleType)\n"
            "from qdemo.generator.train import GeneratorConfig\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
