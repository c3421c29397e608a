"""Resolve a user-supplied relative path strictly inside a served root folder.

Every file the web servers hand out goes through :func:`resolve_under`: a request can
reach only regular files whose *real* path (symlinks resolved) lies under the root.
Refused: ``..`` and ``.`` segments, absolute paths, backslashes, NUL bytes, empty
segments, encoded traversal (the URL is decoded exactly once, before the checks, so
``%2e%2e`` is seen as ``..``), and symlinks that point outside the root. A name no file can
have (a segment over :data:`MAX_NAME_BYTES` bytes, a path over :data:`MAX_PATH_BYTES`) and
any other error of the file system is "not found", never an exception with a path in it.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote


MAX_NAME_BYTES = 255
"""Longest file name (UTF-8 bytes) on the usual file systems (ext4, APFS, NTFS)."""
MAX_PATH_BYTES = 4096
"""Longest relative path looked up."""


class PathRefused(Exception):
    """A requested path is not allowed (traversal, absolute, escaping symlink)."""


def resolve_under(root: str | os.PathLike, relpath: str, *, decoded: bool = False) -> Path:
    """The real path of ``root/relpath`` if it is a file inside ``root``.

    ``relpath`` is a URL path fragment (percent-encoded unless ``decoded``). Raises
    :class:`PathRefused` for anything that could leave ``root`` and
    :class:`FileNotFoundError` (whose message holds no path) when there is no such file.
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
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES or any(
            len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in parts):
        raise FileNotFoundError("name too long")  # no such file can exist
    root_real = Path(os.path.realpath(root))
    try:
        target = Path(os.path.realpath(root_real.joinpath(*parts)))
        if target != root_real and root_real not in target.parents:
            raise PathRefused("path leaves the served folder")
        if not target.is_file():
            raise FileNotFoundError("not a file")
    except (OSError, ValueError) as exc:  # e.g. ENAMETOOLONG, EACCES, a lone surrogate
        if isinstance(exc, FileNotFoundError):
            raise
        raise FileNotFoundError("cannot be looked up") from None
    return target


__all__ = ["PathRefused", "resolve_under"]
