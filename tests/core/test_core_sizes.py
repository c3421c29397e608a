"""Small modules and functions: no module under qdemo/ over 400 lines, no function over 60.

A function may be longer when it says why in a one-line ``# long: <reason>`` comment on its
``def`` line or on the line above it (above its decorators, if it has any). Lengths count
every line from the first decorator (or the ``def``) to the last line of the body, blank
lines, comments and docstrings included; nested functions are counted on their own as well.
Everything is read with ``ast``, nothing is imported.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "qdemo"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
LONG_REASON = re.compile(r"#\s*long:\s*\S")


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(qualified name, node) of every function and method, nested ones included."""
    out = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((prefix + node.name, node))
            out.extend(_functions(node, f"{prefix}{node.name}."))
        elif isinstance(node, ast.ClassDef):
            out.extend(_functions(node, f"{prefix}{node.name}."))
        else:
            out.extend(_functions(node, prefix))
    return out


def _has_reason(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = min([d.lineno for d in node.decorator_list] + [node.lineno])
    candidates = {node.lineno, node.lineno - 1, first - 1}  # 1-based line numbers
    return any(1 <= n <= len(lines) and LONG_REASON.search(lines[n - 1]) for n in candidates)


def oversized(path: Path, name: str) -> list[str]:
    """The size problems of one source file (``name`` as shown in messages)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    out = []
    if len(lines) > MAX_MODULE_LINES:
        out.append(f"{name}: {len(lines)} lines (max {MAX_MODULE_LINES}): split it along its sections")
    for qual, node in _functions(ast.parse(text)):
        first = min([d.lineno for d in node.decorator_list] + [node.lineno])
        n = node.end_lineno - first + 1
        if n > MAX_FUNCTION_LINES and not _has_reason(lines, node):
            out.append(f"{name}:{node.lineno} {qual}: {n} lines (max {MAX_FUNCTION_LINES}): split it, "
                       f"or say why on its def line: '# long: <reason>'")
    return out


def test_no_module_or_function_is_too_long():
    problems = [p for path in sorted(ROOT.rglob("*.py"))
                for p in oversized(path, str(path.relative_to(ROOT.parent)))]
    assert not problems, "\n  ".join(["too long:", *problems])


def test_the_check_can_fail(tmp_path: Path):
    body = "".join(f"        x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    src = tmp_path / "m.py"
    src.write_text(f"def short():\n    return 1\n\n\nclass C:\n    @staticmethod\n    def long():\n{body}")
    (problem,) = oversized(src, "m.py")
    assert problem.startswith("m.py:7 C.long: 62 lines")  # the decorator line counts
    for reason in ("    # long: one table of cases\n    @staticmethod\n    def long():\n",
                   "    @staticmethod\n    def long():  # long: one table of cases\n"):
        src.write_text(f"class C:\n{reason}{body}")
        assert oversized(src, "m.py") == []
    src.write_text(f"class C:\n    @staticmethod\n    def long():  # long:\n{body}")  # a reason is needed
    assert len(oversized(src, "m.py")) == 1
    src.write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    assert oversized(src, "m.py") == [f"m.py: {MAX_MODULE_LINES + 1} lines (max {MAX_MODULE_LINES}): "
                                      "split it along its sections"]
