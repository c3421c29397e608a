"""Imports flow down the layers and no modules import each other in a cycle.

Every module under qdemo/ is parsed (``ast``, nothing is imported); every ``import`` and
``from ... import`` counts, at module level and inside functions (lazy imports are still
dependencies). ``importlib.import_module("...")`` strings and "module:Class" registry strings
do not count. ``from pkg import name`` where ``pkg`` re-exports ``name`` lazily
(qdemo._lazy) counts as an import of the submodule that defines it.

Layers, lowest first (a module may import its own layer and the ones below):

    base (qdemo/__init__, errors, io, config, flags, device, parallel, _lazy, tables, measure_space, grid_manifest)
    < emotion < render < generator | normalise < qd < runfolder < viz < compare | bench | web | stimuli < cli

generator and normalise sit side by side and must not import each other. render sits below
them: the generator's latent-space renderer lives in the generator package (it subclasses
render's Renderer) and is registered in render's table by a "module:Class" string.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "qdemo"

BASE = {"__init__", "errors", "io", "config", "flags", "device", "parallel", "_lazy", "tables", "measure_space", "grid_manifest"}
LAYER = {"base": 0, "emotion": 1, "render": 2, "generator": 3, "normalise": 3, "qd": 4, "runfolder": 5,
         "viz": 6, "compare": 7, "bench": 7, "web": 7, "stimuli": 7, "cli": 8}
APART = {"generator", "normalise"}
"""Areas of one layer that must not import each other."""

KNOWN: set[str] = set()
"""Allowlisted violations: "upward: SRC -> DST" and "cycle: A <-> B <-> ..." (sorted)."""

KNOWN_PLOTTING: set[str] = set()
"""Modules outside qdemo.viz that still import matplotlib."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def area(module: str) -> str:
    """The layer name of a qdemo module (``qdemo.bench.qd`` -> ``bench``)."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE:
        return "base"
    if parts[1] == "__main__":
        return "cli"
    if parts[1] not in LAYER:
        raise AssertionError(f"{module}: not in any layer; add it to LAYER / BASE in {__file__}")
    return parts[1]


def _lazy_exports(package: str) -> dict[str, str]:
    """``name -> defining submodule`` of a package whose __init__ calls lazy_exports(__name__, {...})."""
    path = MODULES.get(package)
    if path is None or path.name != "__init__.py":
        return {}
    out: dict[str, str] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy_exports":
            assert len(node.args) == 2 and isinstance(node.args[1], ast.Dict), \
                f"{path}: write the lazy_exports map as a dict literal in the call (this test reads it)"
            for k, v in zip(node.args[1].keys, node.args[1].values):
                if isinstance(k, ast.Constant) and isinstance(v, (ast.Tuple, ast.List)):
                    out.update({e.value: f"{package}.{k.value}" for e in v.elts if isinstance(e, ast.Constant)})
    return out


def _target(name: str) -> str | None:
    """The longest prefix of dotted ``name`` that is a qdemo module."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def imports_of(module: str) -> set[str]:
    """The qdemo modules ``module`` imports, anywhere in its body."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(t for a in node.names if (t := _target(a.name)))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            lazy = _lazy_exports(base)
            for a in node.names:
                t = _target(f"{base}.{a.name}") if f"{base}.{a.name}" in MODULES else (
                    lazy.get(a.name) or _target(base))
                if t:
                    out.add(t)
    out.discard(module)
    return out


GRAPH = {m: imports_of(m) for m in MODULES}


def upward_imports() -> set[str]:
    bad = set()
    for src, dsts in GRAPH.items():
        a = area(src)
        for dst in dsts:
            b = area(dst)
            if LAYER[b] > LAYER[a] or (a != b and a in APART and b in APART):
                bad.add(f"upward: {src} -> {dst}")
    return bad


def cycles() -> set[str]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: set[str] = set()

    def visit(v: str) -> None:  # recursion depth is bounded by the number of modules (~200)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.add("cycle: " + " <-> ".join(sorted(comp)))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def violations() -> set[str]:
    return upward_imports() | cycles()


def test_every_module_has_a_layer():
    for m in MODULES:
        assert area(m) in LAYER


def test_imports_flow_down_and_do_not_cycle():
    found = violations()
    new = sorted(found - KNOWN)
    gone = sorted(KNOWN - found)
    assert not new, "imports against the layering (see this test's docstring):\n  " + "\n  ".join(new)
    assert not gone, "fixed, so remove from KNOWN in tests/core/test_core_layers.py:\n  " + "\n  ".join(gone)


def _imports_matplotlib(module: str) -> bool:
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if any(n == "matplotlib" or n.startswith("matplotlib.") for n in names):
            return True
    return False


def test_matplotlib_only_in_viz():
    """Plots are drawn by qdemo.viz and called from the command line, not from the areas."""
    found = {m for m in MODULES if area(m) != "viz" and _imports_matplotlib(m)}
    assert not sorted(found - KNOWN_PLOTTING), "matplotlib outside qdemo.viz: " + ", ".join(sorted(found - KNOWN_PLOTTING))
    assert not sorted(KNOWN_PLOTTING - found), "no longer plots, remove from KNOWN_PLOTTING: " + \
        ", ".join(sorted(KNOWN_PLOTTING - found))
    assert _imports_matplotlib("qdemo.viz.bench_plots")  # the check sees an import


def test_the_checks_can_fail(monkeypatch):
    """An upward import, a lazy import inside a function and a cycle are all seen."""
    graph = dict(GRAPH)
    graph["qdemo.emotion.model"] = GRAPH["qdemo.emotion.model"] | {"qdemo.viz"}
    graph["qdemo.viz"] = GRAPH["qdemo.viz"] | {"qdemo.emotion.model"}
    graph["qdemo.render.base"] = GRAPH["qdemo.render.base"] | {"qdemo.normalise"}
    monkeypatch.setitem(globals(), "GRAPH", graph)
    found = violations()
    assert "upward: qdemo.emotion.model -> qdemo.viz" in found
    assert "upward: qdemo.render.base -> qdemo.normalise" in found
    assert any(c.startswith("cycle: ") and "qdemo.emotion.model" in c and "qdemo.viz" in c for c in found)


def test_function_level_relative_and_lazy_imports_are_read(tmp_path, monkeypatch):
    pkg = tmp_path / "qdemo"
    (pkg / "emotion").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "viz.py").write_text("")
    (pkg / "emotion" / "__init__.py").write_text(
        "from qdemo._lazy import lazy_exports\n__getattr__, __dir__ = lazy_exports(__name__, {'a': ('f',)})\n")
    (pkg / "emotion" / "a.py").write_text("def f():\n    from qdemo import viz\n")
    (pkg / "emotion" / "b.py").write_text("def g():\n    from . import a\n    from qdemo.emotion import f\n"
                                          "    import importlib; importlib.import_module('qdemo.viz')\n")
    monkeypatch.setitem(globals(), "ROOT", pkg)
    monkeypatch.setitem(globals(), "MODULES", _modules())
    assert imports_of("qdemo.emotion.a") == {"qdemo.viz"}
    assert imports_of("qdemo.emotion.b") == {"qdemo.emotion.a"}


@pytest.mark.parametrize("module, expected", [
    ("qdemo", "base"), ("qdemo.config", "base"), ("qdemo.__main__", "cli"), ("qdemo.cli.evolve_bench", "cli"),
    ("qdemo.bench.reach", "bench"), ("qdemo.viz.bench_plots", "viz"),
])
def test_layer_of(module, expected):
    assert area(module) == expected


def test_architecture_doc_shows_these_layers_and_every_package():
    """docs/architecture.md draws the layer order enforced here and names every package."""
    doc = (ROOT.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    (line,) = [ln.strip() for ln in doc.splitlines() if ln.strip().startswith("base <")]
    drawn = [[a.strip() for a in level.split("|")] for level in line.split("<")]
    by_level: dict[int, set[str]] = {}
    for name, level in LAYER.items():
        by_level.setdefault(level, set()).add(name)
    assert [set(level) for level in drawn] == [by_level[k] for k in sorted(by_level)], line
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages <= set(LAYER) and all(f"`{p}/`" in doc for p in packages)
    for path in sorted(set(re.findall(r"`((?:qdemo|tests)/[\w/.]+?|[\w/]+\.py)`", doc))):
        found = any(p.exists() for p in (ROOT.parent / path, ROOT.parent / f"{path}.py", ROOT / path))
        assert found, f"docs/architecture.md names {path}, which does not exist"
