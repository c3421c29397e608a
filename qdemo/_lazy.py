"""Lazy re-exports for the subpackage ``__init__`` files (PEP 562).

A subpackage lists its public names per submodule; nothing is imported until a name is
first used, so ``qdemo --help`` does not pay for torch, ribs, ray or matplotlib::

    __all__ = ["Explorer", "Search", "build_search"]
    __getattr__, __dir__ = lazy_exports(__name__, {"build": ("Search", "build_search"),
                                                   "explorer": ("Explorer",)})

``from qdemo.qd import Explorer`` imports ``qdemo.qd.explorer`` then; an unknown name
still raises :class:`AttributeError`. Only the standard library is imported here. Write the
map as a dict literal in the call: tests/core/test_core_layers.py reads it to resolve
``from qdemo.qd import Explorer`` to the submodule, and tests/core/test_core_startup.py
checks that every subpackage re-exports this way.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any, Callable, Mapping, Sequence


class _ExportsOverSubmodules(types.ModuleType):
    """A package where a public name equals a submodule's name (``qdemo.generator.train``).

    Importing a submodule makes the import system bind it onto its package, which would hide
    the exported function of the same name from ``__getattr__``. As with the eager
    ``from .train import train`` this replaces, the exported object wins.
    """

    _lazy_exports: dict[str, str]

    def __setattr__(self, name: str, value: Any) -> None:
        if (self._lazy_exports.get(name) == name and isinstance(value, types.ModuleType)
                and value.__name__ == f"{self.__name__}.{name}"):
            value = getattr(value, name)  # the submodule has run: take its export of that name
        super().__setattr__(name, value)


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` re-exporting ``{submodule: names}`` lazily.

    A name is imported from ``package.submodule`` on first access and then cached in the
    package's namespace (later accesses cost nothing). Raises ``ValueError`` when a name is
    listed under two submodules.
    """
    where: dict[str, str] = {}
    for sub, names in exports.items():
        for name in names:
            if name in where:
                raise ValueError(f"{package}: {name!r} listed under both {where[name]!r} and {sub!r}")
            where[name] = sub
    module = sys.modules[package]

    def __getattr__(name: str) -> Any:
        sub = where.get(name)
        if sub is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{sub}"), name)
        module.__dict__[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(module.__dict__) | set(where))

    module._lazy_exports = where  # type: ignore[attr-defined]
    if any(name == sub for name, sub in where.items()):
        module.__class__ = _ExportsOverSubmodules
    return __getattr__, __dir__
