"""Resolve a user-supplied relative path strictly inside a served root folder.

Every file the web servers hand out goes through :func:`resolve_under`: a request can
reach only regular files whose *real* path (symlinks resolved) lies under the root.
Refused: ``..`` and ``.`` segments, absolute paths, backslashes, NUL bytes, empty
segments, encoded traversal (the URL is decoded exactly once, before the checks, so
``%2e%2e`` is seen as ``..``), and symlinks that point outside the root.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote


class PathRefused(Exception):
    """A requested path is not allowed (traversal, absolute, escaping symlink)."""


def resolve_under(root: str | os.PathLike, relpath: str, *, decoded: bool = False) -> Path:
    """The real path of ``root/relpath`` if it is a file inside ``root``.

    ``relpath`` is a URL path fragment (percent-encoded unless ``decoded``). Raises
    :class:`PathRefused` for anything that could leave ``root`` and
    :class:`FileNotFoundError` when the file simply does not exist.
    """
    text = relpath if decoded else unquote(relpath, errors="strict")
    if not text:
        raise PathRefused("empty path")
    if "\x00" in text or "\\" in text:
        raise PathRefused("invalid character in path")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise PathRefused("absolute paths are not allowed")
    parts = text.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise PathRefused("path segments '', '.' and '..' are not allowed")
    root_real = Path(os.path.realpath(root))
    target = Path(os.path.realpath(root_real.joinpath(*parts)))
    if target != root_real and root_real not in target.parents:
        raise PathRefused("path leaves the served folder")
    if not target.is_file():
        raise FileNotFoundError(text)
    return target


__all__ = ["PathRefused", "resolve_under"]
